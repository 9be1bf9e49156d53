/* Drag and drop for the pipeline page (progressive enhancement).
 *
 * Without this script every card has a small form (stage selector + "Move") that posts to
 * /sales/pipeline/<id>/move. With it, cards can be dragged onto another column: the script
 * posts the very same form (CSRF token included) with the target stage, asking for JSON,
 * and replaces the board with the one the server renders, so counts and totals are always
 * the server's. Dropping on a lost column asks for the reason first.
 */
(function () {
  "use strict";

  var root = document.querySelector("[data-kanban-root]");
  var live = document.querySelector("[data-kanban-status]");
  if (!root || !window.fetch || !window.FormData) {
    return;
  }

  function say(text, isError) {
    if (live) {
      live.textContent = text;
      live.classList.toggle("visually-hidden", !isError);
      live.classList.toggle("flash", !!isError);
      live.classList.toggle("flash-error", !!isError);
    }
  }

  function move(card, column) {
    var form = card.querySelector("form[data-move]");
    if (!form) {
      return;
    }
    var data = new FormData(form);
    data.set("stage_id", column.getAttribute("data-column"));
    if (column.getAttribute("data-lost") === "true") {
      var reason = window.prompt("Why was this opportunity lost?");
      if (!reason) {
        return;
      }
      data.set("lost_reason", reason);
    }
    card.classList.add("moving");
    say("Moving…", false);
    fetch(form.action, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (response) {
      return response.json().then(function (body) {
        return { ok: response.ok, body: body };
      });
    }).then(function (result) {
      if (result.ok) {
        root.innerHTML = result.body.board;
        wire();
        say(result.body.message, false);
      } else {
        card.classList.remove("moving");
        say(result.body.detail || "The card could not be moved.", true);
      }
    }).catch(function () {
      card.classList.remove("moving");
      say("The card could not be moved; reload the page and try again.", true);
    });
  }

  function wire() {
    var board = root.querySelector("[data-kanban]");
    if (!board) {
      return;
    }
    board.classList.add("js-dnd");
    Array.prototype.forEach.call(board.querySelectorAll("[data-card]"), function (card) {
      card.setAttribute("draggable", "true");
      card.addEventListener("dragstart", function (event) {
        event.dataTransfer.setData("text/plain", card.getAttribute("data-card"));
        event.dataTransfer.effectAllowed = "move";
        card.classList.add("dragging");
      });
      card.addEventListener("dragend", function () {
        card.classList.remove("dragging");
      });
    });
    Array.prototype.forEach.call(board.querySelectorAll("[data-column]"), function (column) {
      column.addEventListener("dragover", function (event) {
        event.preventDefault();
        event.dataTransfer.dropEffect = "move";
        column.classList.add("drop-target");
      });
      column.addEventListener("dragleave", function () {
        column.classList.remove("drop-target");
      });
      column.addEventListener("drop", function (event) {
        event.preventDefault();
        column.classList.remove("drop-target");
        var id = event.dataTransfer.getData("text/plain");
        var card = board.querySelector('[data-card="' + id.replace(/[^0-9]/g, "") + '"]');
        if (card && card.getAttribute("data-stage") !== column.getAttribute("data-column")) {
          move(card, column);
        }
      });
    });
  }

  wire();
})();
