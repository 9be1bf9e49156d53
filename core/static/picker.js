/* Record pickers (progressive enhancement of FormField widget="record").
 *
 * Without this script a picker is a text input: the user types the record's number or part
 * of its name and the server resolves it when the form is posted (core/resources/picker.py).
 * With it, suggestions appear under the input as the user types, fetched from the target
 * resource's lookup (GET <data-lookup>?q=..., the page's own session cookie, JSON
 * {"items": [{"id", "title"}]}). Picking one puts its title in the input and its id in the
 * hidden input beside it, so that two records with the same name stay apart. The list is an
 * ARIA combobox: arrow keys move, Enter picks, Escape closes.
 */
(function () {
  "use strict";

  if (!window.fetch || !document.querySelectorAll) {
    return;
  }

  var DELAY_MS = 150;

  function setup(input) {
    var url = input.getAttribute("data-lookup");
    var wrap = input.closest("[data-picker]");
    var hidden = wrap && wrap.querySelector("[data-picker-id]");
    if (!url || !hidden || input.getAttribute("data-picker-ready")) {
      return;
    }
    input.setAttribute("data-picker-ready", "1");
    var list = document.createElement("ul");
    list.id = input.id + "-suggestions";
    list.className = "picker-list";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", "Suggestions");
    list.hidden = true;
    wrap.appendChild(list);
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", list.id);

    var items = [];
    var active = -1;
    var timer = null;
    var asked = 0;

    function close() {
      list.hidden = true;
      list.innerHTML = "";
      items = [];
      active = -1;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
    }

    function highlight(index) {
      active = index;
      Array.prototype.forEach.call(list.children, function (li, i) {
        var on = i === index;
        li.setAttribute("aria-selected", on ? "true" : "false");
        if (on) {
          input.setAttribute("aria-activedescendant", li.id);
          li.scrollIntoView({ block: "nearest" });
        }
      });
    }

    function clearPicks() {
      var field = input.closest(".field") || wrap.parentNode;
      Array.prototype.forEach.call(
        field.querySelectorAll("[data-picker-matches] input[type=radio]"),
        function (radio) { radio.checked = false; }
      );
    }

    function choose(item) {
      input.value = item.title;
      hidden.value = String(item.id);
      clearPicks();
      close();
    }

    function show(found) {
      close();
      items = found;
      if (!items.length) {
        return;
      }
      items.forEach(function (item, i) {
        var li = document.createElement("li");
        li.id = list.id + "-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        li.setAttribute("data-picker-option", String(item.id));
        li.textContent = item.title;
        var number = document.createElement("span");
        number.className = "muted";
        number.textContent = " #" + item.id;
        li.appendChild(number);
        li.addEventListener("mousedown", function (event) {
          event.preventDefault(); // keep the focus in the input
          choose(item);
        });
        list.appendChild(li);
      });
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
    }

    function ask() {
      var q = input.value.trim();
      var mine = ++asked;
      if (!q) {
        close();
        return;
      }
      fetch(url + "?q=" + encodeURIComponent(q), {
        credentials: "same-origin",
        headers: { "Accept": "application/json" }
      }).then(function (response) {
        return response.ok ? response.json() : { items: [] };
      }).then(function (body) {
        if (mine === asked && document.activeElement === input) {
          show(body.items || []);
        }
      }).catch(function () {
        if (mine === asked) {
          close(); // a lost session answers with the login page: no suggestions then
        }
      });
    }

    input.addEventListener("input", function () {
      hidden.value = ""; // typed text names no record until picked or resolved by the server
      clearPicks();
      window.clearTimeout(timer);
      timer = window.setTimeout(ask, DELAY_MS);
    });
    input.addEventListener("keydown", function (event) {
      if (list.hidden) {
        return;
      }
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        var step = event.key === "ArrowDown" ? 1 : -1;
        highlight((active + step + items.length) % items.length);
      } else if (event.key === "Enter" && active >= 0) {
        event.preventDefault(); // pick, do not submit yet
        choose(items[active]);
      } else if (event.key === "Escape") {
        close();
      }
    });
    input.addEventListener("blur", close);
  }

  Array.prototype.forEach.call(document.querySelectorAll("input[data-lookup]"), setup);
})();
