"""Record pickers: a form field that picks one record of a large set by number or by name.

Declared on a form or an action form::

    FormField("account_id", "Account", widget="record", target="contacts.accounts")

A select of 10,000 accounts is no option and typing an id is not what people expect, so the
page shows a text input where the user types the record's number or part of its name. The
REST API stays id-based: the schema field is the same integer, only the pages change.

Without JavaScript the server resolves the text before the form or action handler runs
(:func:`resolve_field`): a number that exists → that record; text that the target's own
search matches once (or names exactly one of several) → that record; several matches → the
form comes back with a field error and the matches as choices to pick; none → a field error.
With JavaScript (``core/static/picker.js``) suggestions appear as the user types, fetched from
``GET /<prefix>/<resource>/lookup?q=`` with the page's own session cookie; picking one fills a
hidden id next to the text so that two records with the same name stay apart.

Every read goes through the target resource's own doors, on the request's ORM session:
``get_record`` (the detail page's read) for a number and ``list_statement`` with
``parse_list_params`` (the list page's search) for text, so company scoping
(:mod:`core.tenancy`) applies as everywhere, and nothing is found without the target's read
permission.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request, url_for

from core.access import has_permission, permission_required
from core.problems import problem_response
from core.resources import BoundResource, find_resource, resources_of
from core.resources.declaration import FormField, Resource, ResourceError
from core.resources.query import (
    MAX_TEXT,
    QueryError,
    list_statement,
    order_by,
    parse_list_params,
)
from core.resources.rest import endpoint_base, session
from core.resources.service import RecordNotFound, get_record

#: Suggestions the lookup answers with, and matches an ambiguity error lists.
MAX_SUGGESTIONS = 10
#: Matches read when resolving text: enough to find the one exact name among several.
MAX_MATCHES = 50
#: A record's number as typed: ``42`` or ``#42``.
NUMBER_RE = re.compile(r"^#?\s*(\d{1,18})$")
#: Suffixes of the inputs that travel with a picker's text input.
KEPT_ID = "__id"  # hidden: the id the text stands for (set by the script or a re-render)
PICKED_ID = "__pick"  # radio: the match chosen after an ambiguity error


@dataclass(frozen=True)
class Match:
    """A record as a picker shows it."""

    id: int
    title: str


@dataclass
class Picked:
    """What a picker's submitted inputs resolved to; kept to show the form again.

    ``text`` is what the input shows (the record's title once resolved), ``error`` the field
    error when nothing or too much was found, ``matches`` the records to choose from.
    """

    text: str
    record_id: int | None = None
    error: str | None = None
    matches: tuple[Match, ...] = ()

    def __str__(self) -> str:
        """The id when resolved (what the edit-conflict view compares), else the text."""
        return str(self.record_id) if self.record_id is not None else self.text


# --------------------------------------------------------------------------- reading the target


def target_of(spec: FormField) -> BoundResource:
    """The resource a picker points at, as mounted in this app (checked at start-up)."""
    return find_resource(current_app, spec.target or "")


def _may_read(resource: Resource) -> bool:
    return has_permission(f"{resource.permission}.read")


def find_by_id(resource: Resource, record_id: int) -> Any | None:
    """The record as its detail page reads it (company-scoped), or None."""
    try:
        return get_record(session(), resource, record_id)
    except RecordNotFound:
        return None


def search(resource: Resource, text: str, limit: int) -> list[Any]:
    """Records the resource's list search finds for ``text``, in its list order.

    Raises ``QueryError`` when the text is not a valid search (too long, control characters).
    """
    params = parse_list_params(resource, {"q": text}, allow_format=False)
    if not params.q:
        return []
    stmt = list_statement(resource, params).order_by(*order_by(resource, params)).limit(limit)
    return list(session().scalars(stmt).unique())


def _match(resource: Resource, record: Any) -> Match:
    return Match(record.id, resource.record_title(record))


def suggestions(resource: Resource, text: str, limit: int = MAX_SUGGESTIONS) -> list[Match]:
    """What the lookup answers: the record with that number first, then search hits."""
    found: list[Match] = []
    number = NUMBER_RE.match(text.strip())
    if number:
        record = find_by_id(resource, int(number.group(1)))
        if record is not None:
            found.append(_match(resource, record))
    for record in search(resource, text, limit + len(found)):
        if len(found) < limit and all(m.id != record.id for m in found):
            found.append(_match(resource, record))
    return found


# --------------------------------------------------------------------------- resolving a post


def resolve_field(spec: FormField, form: Mapping[str, Any], prefix: str = "") -> Picked:
    """The record a submitted picker names, or why there is none (see the module doc)."""
    name = prefix + spec.name
    text = (form.get(name) or "").strip()
    picked = (form.get(name + PICKED_ID) or "").strip()
    if not text and not picked:
        return Picked("")
    resource = target_of(spec).resource
    if not _may_read(resource):
        return Picked(
            text, error=f"You lack the permission '{resource.permission}.read' to pick one."
        )
    if picked:
        record = _by_number(resource, picked)
        if record is None:
            return Picked(text, error=f"That {resource.singular.lower()} is no longer available.")
        return _resolved(resource, record)
    kept = _by_number(resource, (form.get(name + KEPT_ID) or "").strip())
    if kept is not None and resource.record_title(kept) == text:
        return _resolved(resource, kept)
    number = _by_number(resource, text)
    if number is not None:
        return _resolved(resource, number)
    return _resolve_text(resource, text)


def _by_number(resource: Resource, text: str) -> Any | None:
    number = NUMBER_RE.match(text)
    return find_by_id(resource, int(number.group(1))) if number else None


def _resolved(resource: Resource, record: Any) -> Picked:
    return Picked(resource.record_title(record), record.id)


def _resolve_text(resource: Resource, text: str) -> Picked:
    singular = resource.singular.lower()
    try:
        records = search(resource, text, MAX_MATCHES + 1)
    except QueryError:
        return Picked(
            text,
            error=f"Type its number or part of its name (at most {MAX_TEXT} characters, "
            "no control characters).",
        )
    if not records:
        return Picked(text, error=f"No {singular} has this number or matches “{text}”.")
    if len(records) == 1:
        return _resolved(resource, records[0])
    exact = [r for r in records if resource.record_title(r).casefold() == text.casefold()]
    if len(exact) == 1:
        return _resolved(resource, exact[0])
    shown = (exact or records)[:MAX_SUGGESTIONS]
    count = f"More than {MAX_MATCHES}" if len(records) > MAX_MATCHES else str(len(exact or records))
    more = " (the first ones are listed)" if len(exact or records) > len(shown) else ""
    return Picked(
        text,
        error=f"{count} {resource.plural.lower()} match “{text}”{more}: pick one below, "
        "or type more of the name or its number.",
        matches=tuple(_match(resource, r) for r in shown),
    )


# --------------------------------------------------------------------------- showing the widget


def widget_state(spec: FormField, value: Any) -> tuple[Picked, str | None, Callable[[int], str]]:
    """(what to show, lookup URL, record URL maker) for a picker's current value.

    ``value`` is a :class:`Picked` after a post, else a stored id (an edit form, a default)
    or text: an id is shown as its record's title when the user may see that record.
    """
    bound = target_of(spec)
    resource = bound.resource
    base = f"{bound.web_blueprint}.{endpoint_base(resource)}"

    def record_url(record_id: int) -> str:
        return url_for(f"{base}_view", record_id=record_id)

    lookup = url_for(f"{base}_lookup") if _may_read(resource) else None
    if isinstance(value, Picked):
        return value, lookup, record_url
    text = "" if value is None else str(value).strip()
    number = NUMBER_RE.match(text)
    record = find_by_id(resource, int(number.group(1))) if number and lookup else None
    return (_resolved(resource, record) if record else Picked(text)), lookup, record_url


# --------------------------------------------------------------------------- the lookup endpoint


def lookup_view(resource: Resource) -> Callable[[], Response]:
    """``GET /<resource>/lookup?q=``: up to 10 ``{id, title}`` the user may read, as JSON.

    A page endpoint: the browser's session cookie authenticates it like every page (anonymous
    callers are sent to the login page), it needs the resource's read permission and changes
    nothing, so it needs no CSRF token. Bad input is a 400 problem+json, never a 500.
    """

    @permission_required(f"{resource.permission}.read")
    def lookup() -> Response:
        q = request.args.get("q", "")
        try:
            items = suggestions(resource, q) if q.strip() else []
        except QueryError as exc:
            return problem_response(400, exc.message, errors=exc.errors or {"q": [exc.message]})
        return jsonify({"items": [{"id": m.id, "title": m.title} for m in items]})

    lookup.__name__ = f"lookup_{endpoint_base(resource)}"
    return lookup


# --------------------------------------------------------------------------- start-up checks

#: Resources with pages on each addon's web blueprint (targets in the same addon).
_PAGES: weakref.WeakKeyDictionary[Blueprint, dict[str, Resource]] = weakref.WeakKeyDictionary()


def picker_fields(resource: Resource) -> Iterator[tuple[str, FormField]]:
    """Every record picker of a resource's forms, with where it is declared (for messages)."""
    for spec in resource.form_fields:
        if spec.picks_record:
            yield f"form field '{spec.name}'", spec
    for action in resource.actions:
        for item in action.form:
            if isinstance(item, FormField) and item.picks_record:
                yield f"action '{action.name}' field '{item.name}'", item
    for child in resource.children:
        for item in child.columns:
            if isinstance(item, FormField) and item.picks_record:
                yield f"child '{child.name}' column '{item.name}'", item


def register_pickers(bp: Blueprint, resource: Resource) -> None:
    """Remember the resource's pages and check its pickers' targets when the app mounts ``bp``.

    The check waits for the blueprint's registration: by then every resource of this addon
    is declared, and the addons it depends on are mounted (they are registered first).
    """
    _PAGES.setdefault(bp, {})[resource.name] = resource
    fields = list(picker_fields(resource))
    if fields:
        bp.record_once(lambda state: check_targets(state.app, bp, resource, fields))


def check_targets(
    app: Any, bp: Blueprint, resource: Resource, fields: list[tuple[str, FormField]]
) -> None:
    """Fail the app's start-up with a named error when a picker's target cannot work."""
    mounted = resources_of(app)
    for where, spec in fields:
        key = spec.target or ""
        addon, _, name = key.partition(".")
        target = (
            _PAGES.get(bp, {}).get(name)
            if addon == bp.name
            else (mounted[key].resource if key in mounted and mounted[key].web_blueprint else None)
        )
        prefix = f"resource '{resource.name}': {where}: target '{key}'"
        if target is None:
            known = sorted(
                {f"{bp.name}.{n}" for n in _PAGES.get(bp, {})}
                | {k for k, b in mounted.items() if b.web_blueprint}
            )
            raise ResourceError(
                f"{prefix} is not a resource with pages of this addon or of an addon it depends "
                f"on (known: {', '.join(known) or 'none'})"
            )
        if not target.search:
            raise ResourceError(
                f"{prefix} declares no search fields, so typing a name could never find a record"
            )
