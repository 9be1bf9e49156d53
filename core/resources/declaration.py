"""The declaration an addon writes once per resource.

Everything else (REST endpoints, OpenAPI description, web pages, CSV import/export) is
generated from a :class:`Resource`. The declaration is plain data: it is checked against the
model and the schema when it is registered, so a typo in a field name fails at start-up with a
message naming the resource and the field, not at the first request.

A minimal declaration::

    gadgets = Resource(
        name="gadgets", model=Gadget, schema=GadgetSchema, permission="testkit.gadget",
        search=["name"], filters={"price": "range", "parts.label": "text"},
        sort=["name", "price"], columns=["name", "price"], form=["name", "price", "notes"],
    )

Filters name a column of the model or, one relation deep, a column of a related record
(``"parts.label"``, ``"account.is_customer"``); the query-string parameter keeps the dotted
name (``?parts.label__contains=bolt``). See :mod:`core.resources.query` for what they mean.
A code-like filter is declared with :class:`Filter` to say how values are read and which
ones exist: ``"currency": Filter(normalise="upper", choices=["EUR", "USD"])`` accepts
``?currency=eur``, refuses ``?currency=XYZ`` with a 400, lists the codes in OpenAPI and is a
``<select>`` on the list page.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from marshmallow import Schema, fields
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import ColumnProperty, Mapper, RelationshipProperty
from sqlalchemy.types import TypeDecorator

NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
ACTION_RE = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
#: ``"<addon>.<resource>"``: the target of a record picker (``FormField.target``).
TARGET_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}\.[a-z][a-z0-9-]{0,62}$")
FILTER_KINDS = ("eq", "range", "text")
#: Named ways of reading a filter value (``Filter(normalise=...)``), after surrounding spaces go.
FILTER_NORMALISERS: dict[str, Callable[[str], str]] = {"upper": str.upper, "lower": str.lower}
#: Words of the query string that are not filters.
RESERVED_PARAMS = ("limit", "offset", "q", "sort", "format")
#: Path segments a custom action may not take (they are generated routes).
RESERVED_ACTIONS = frozenset({"history", "delete", "edit", "import", "export"})


@dataclass(frozen=True)
class FilterField:
    """What a declared filter reads: a column of the model, or of a record it relates to.

    ``relationship`` is ``None`` for the model's own columns. For ``"tags.name"`` it is the
    ``tags`` relationship and ``column`` is ``Tag.name``: the list keeps the records for which
    a related record matches (``EXISTS``), so pages never repeat a record and the count stays
    one statement.
    """

    name: str
    #: The class the column is read on: the model, or the related class.
    owner: type
    column: ColumnProperty
    relationship: RelationshipProperty | None = None

    @property
    def table_column(self) -> Any:
        """The ``Column`` (its type coerces values and shapes the OpenAPI schema)."""
        return self.column.columns[0]

    @property
    def attribute(self) -> Any:
        """The mapped attribute to compare, on the model or on the related class."""
        return getattr(self.owner, self.column.key)

    @property
    def many(self) -> bool:
        """Whether the relation is a collection (``any``) rather than one record (``has``)."""
        return self.relationship is not None and bool(self.relationship.uselist)

    @property
    def python_type(self) -> type:
        """The Python type values are read as (``str`` when the column type does not say)."""
        column_type = self.table_column.type
        if isinstance(column_type, TypeDecorator):
            column_type = column_type.impl_instance
        try:
            return column_type.python_type
        except NotImplementedError:
            return str


@dataclass(frozen=True)
class Filter:
    """A filter declared with more than its kind: how its values are read and which exist.

    Code-like columns (a country, a currency, a size class) hold one stored form ("DE")
    while people type "de" or " De ". The *value* is brought to the stored form before it is
    compared, so the condition stays ``country = 'DE'``, which the column's index serves
    (``lower(country) = 'de'`` would not).

    :param kind: as in a plain declaration: ``"eq"``, ``"range"`` or ``"text"``.
    :param normalise: how a value is read once its surrounding spaces are gone: ``"upper"``,
        ``"lower"``, or a callable ``(text) -> stored form`` that raises ``ValueError`` with a
        message for the user when the text is no such value (a 400 naming the parameter).
        Text columns only.
    :param choices: the values offered, each a value or a ``(value, label)`` pair in the
        stored form. A sequence is the closed list: any other value is a 400, OpenAPI lists
        them as the parameter's ``enum`` and the list page offers a ``<select>``. A callable
        ``(session) -> [(value, label)]`` (the values present in the data, say) only feeds
        the page's ``<select>``; the API then takes any value ``normalise`` accepts.
        ``"eq"`` filters only.
    :param label: the filter's label on the list page (default: from its name).
    :param help: a sentence for the OpenAPI description of its parameters.
    :param match: how a value (``?f=v``, each value of ``?f__in=``) is compared, as
        ``(attribute, value) -> condition``; default ``attribute == value``. For values
        that stand for a family of stored ones: a language ``de`` that also finds
        ``de-CH`` and ``de-AT``. ``"eq"`` filters only.
    """

    kind: str = "eq"
    normalise: str | Callable[[str], str] | None = None
    choices: Sequence[Any] | Callable[[Any], Sequence[tuple[Any, str]]] | None = None
    label: str | None = None
    help: str | None = None
    match: Callable[[Any, Any], Any] | None = None

    @cached_property
    def options(self) -> tuple[tuple[Any, str], ...]:
        """The declared ``(value, label)`` pairs; empty when choices are computed or absent."""
        if self.choices is None or callable(self.choices):
            return ()
        return tuple(_choice(item) for item in self.choices)

    @cached_property
    def values(self) -> frozenset[Any] | None:
        """The only values accepted, or ``None`` when any value of the column's type is."""
        return frozenset(v for v, _label in self.options) if self.options else None

    @property
    def reads_values(self) -> bool:
        """Whether values are stripped and normalised before they are compared."""
        return self.normalise is not None or self.values is not None

    def normalised(self, text: str) -> str:
        """``text`` in the stored form; ``ValueError`` (with a message) when it cannot be."""
        text = text.strip()
        if not text:
            raise ValueError("give a value.")
        if self.normalise is None:
            return text
        read = (
            FILTER_NORMALISERS[self.normalise]
            if isinstance(self.normalise, str)
            else self.normalise
        )
        return read(text)

    def choice_list(self, session: Any) -> list[tuple[Any, str]]:
        """The ``(value, label)`` pairs a page offers: declared, or computed with ``session``."""
        if callable(self.choices):
            return [_choice(item) for item in self.choices(session)]
        return list(self.options)


def _choice(item: Any) -> tuple[Any, str]:
    """A declared choice as ``(value, label)``: a bare value is its own label."""
    if isinstance(item, tuple):
        if len(item) != 2 or not isinstance(item[1], str):
            raise ResourceError(f"choice {item!r} must be a value or a (value, label) pair")
        return item[0], item[1]
    return item, str(item)


@dataclass(frozen=True)
class SearchTerm:
    """A part of the search text that a resource reads its own way (``Resource.search_terms``).

    ``text`` is the part of ``q`` it stands for (taken out of the word-by-word search) and
    ``clause`` a condition on the model. A record matches the part when ``clause`` holds *or*
    when the part's words match the search fields as usual, so a term only ever widens what
    the plain search finds: "0170 0104729" still finds a note containing "0170 0104729".
    """

    text: str
    clause: Any  # a SQLAlchemy boolean expression on the resource's model


class ResourceError(ValueError):
    """A declaration does not match its model or schema; the message says where."""


class BusinessError(Exception):
    """A business rule refuses the operation (raised by services and action handlers).

    It becomes a problem+json response (``status``, 409 by default) in the API and a flash
    message on pages. Give ``errors`` ({field: [messages]}) when the refusal is about fields;
    the status is then 422 unless given.
    """

    def __init__(
        self, message: str, *, status: int | None = None, errors: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.errors = dict(errors) if errors else None
        self.status = status or (422 if errors else 409)


def humanize(name: str) -> str:
    """``created_at`` -> ``Created at``; ``account.name`` -> ``Account name``."""
    text = name.replace(".", " ").replace("_id", "").replace("_", " ").replace("-", " ").strip()
    return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class Column:
    """A column of the list page. ``name`` is an attribute or a dotted path (``account.name``)."""

    name: str
    label: str | None = None
    #: Show the value as a link to the record's page (the first column does by default).
    link: bool | None = None

    @property
    def title(self) -> str:
        return self.label or humanize(self.name)


Choices = Sequence[tuple[Any, str]] | Callable[[Any], Sequence[tuple[Any, str]]]


@dataclass(frozen=True)
class FormField:
    """A field of the edit form; the type of input is inferred from the schema and model.

    ``widget`` overrides it: ``text``, ``textarea``, ``number``, ``checkbox``, ``select``,
    ``date``, ``datetime``, ``email``, ``tel``, ``url``, ``password``, ``record``. ``choices``
    gives the options of a select: a list of ``(value, label)`` or a callable
    ``(session) -> list`` (for a foreign key to a short list, say).

    ``widget="record"`` picks one record of a large set: ``target`` names the resource as
    ``"<addon>.<resource>"`` (``"contacts.accounts"``). The page shows a text input where the
    user types the record's number or part of its name; the server resolves it with the
    target's own search, permission and company scoping before the handler runs (see
    :mod:`core.resources.picker`). The schema field stays an integer id: the REST API does
    not change. The target must belong to the same addon or to one it depends on; that is
    checked when the app is built.
    """

    name: str
    label: str | None = None
    widget: str | None = None
    help: str | None = None
    choices: Choices | None = None
    #: ``"<addon>.<resource>"`` whose record a ``widget="record"`` field picks.
    target: str | None = None

    def __post_init__(self) -> None:
        """A picker without a target (or a target without a picker) is a typo: say so now."""
        where = f"form field '{self.name}'"
        if self.widget == "record":
            if not isinstance(self.target, str) or not TARGET_RE.match(self.target):
                raise ResourceError(
                    f"{where}: widget 'record' needs target='<addon>.<resource>' "
                    f"(e.g. 'contacts.accounts'), not {self.target!r}"
                )
            if self.choices is not None:
                raise ResourceError(
                    f"{where}: widget 'record' finds its records itself; drop 'choices'"
                )
        elif self.target is not None:
            raise ResourceError(f"{where}: 'target' is only for widget='record'")

    @property
    def title(self) -> str:
        return self.label or humanize(self.name)

    @property
    def picks_record(self) -> bool:
        return self.widget == "record"


@dataclass(frozen=True)
class Section:
    """A titled group of form fields (a fieldset on the page)."""

    title: str
    fields: Sequence[str | FormField]


@dataclass(frozen=True)
class Child:
    """A collection of dependent lines edited with their parent (a contact's addresses).

    ``name`` is the relationship on the parent model and the key in the JSON document. The
    child schema should derive from :class:`core.resources.ChildSchema` so that ``id`` can be
    sent back: lines sent with an ``id`` are updated, lines without one are added, and lines
    left out are removed.
    """

    name: str
    schema: type[Schema]
    columns: Sequence[str | FormField] = ()
    label: str | None = None
    #: Blank rows offered on the edit page for new lines.
    extra_rows: int = 2

    @property
    def title(self) -> str:
        return self.label or humanize(self.name)


@dataclass(frozen=True)
class Action:
    """A custom operation on one record: ``POST /<resource>/<id>/<name>`` and a button.

    The handler is a service function, called as ``handler(session, record, **data)`` where
    ``data`` is the payload loaded with ``schema`` (nothing when there is no schema). It may
    return the record (or None: the record is shown again), another object to return as JSON,
    or raise :class:`BusinessError`. The generated endpoint commits.
    """

    name: str
    handler: Callable[..., Any]
    #: Full permission name; default ``<resource permission>.<name>``.
    permission: str | None = None
    label: str | None = None
    schema: type[Schema] | None = None
    #: Schema of what the handler returns when it is not the record itself.
    response: type[Schema] | None = None
    description: str | None = None
    #: A question asked on a confirmation page before running it from the web UI.
    confirm: str | None = None
    #: Whether the action applies to the record in its current state (hides the button, 409).
    when: Callable[[Any], bool] | None = None
    danger: bool = False
    #: The fields of its page, as for a resource's form: names or :class:`FormField` with a
    #: label, a widget, a help text or ``choices`` (a stage picked from a list instead of its
    #: id typed). Default: every input field of ``schema``, in order.
    form: Sequence[str | FormField] = ()

    @property
    def title(self) -> str:
        return self.label or humanize(self.name)


@dataclass(eq=False)
class Resource:
    """One business resource, declared once.

    :param name: URL segment and API name, plural, e.g. ``"gadgets"``.
    :param model: the SQLAlchemy model.
    :param schema: marshmallow schema for input and output (derive from ``RecordSchema``).
    :param permission: prefix of the permissions, e.g. ``"testkit.gadget"``: the endpoints
        need ``.read``, ``.create``, ``.update``, ``.delete``.
    :param list_schema: a lighter schema for list responses (default: ``schema``).
    :param search: fields searched by ``q`` (strings; ``relation.field`` for related records).
    :param search_terms: optional ``(q) -> [SearchTerm]``: reads the whole search text and
        returns the parts it understands with a condition of its own (a phone number typed
        with spaces matched on the stored E.164 form, say). Needs ``search``.
    :param filters: ``{field: kind}``, kind ``"eq"`` (``f=v``, ``f__in=a,b``), ``"range"``
        (also ``f__gte``/``f__lte``: numbers and dates) or ``"text"`` (also ``f__contains``).
        ``field`` is a column of the model or ``relation.column`` one relation deep
        (``"tags.name"``): a record matches when a related record does. A :class:`Filter`
        instead of the kind also says how values are normalised and which values exist.
    :param sort: fields the list may be sorted on (``sort=-price,name``).
    :param default_sort: the order when none is asked for.
    :param columns: list page columns (default: the first sortable fields).
    :param form: edit form: field names, :class:`FormField` or :class:`Section`.
    :param children: nested collections edited with the record.
    :param actions: custom actions.
    :param eager: relationships to load with the list and the record, in addition to those
        found automatically (children, nested schema fields, dotted columns).
    :param title_field: attribute that names a record in pages and messages.
    :param create, update, delete: service functions replacing the generic ones:
        ``create(session, data) -> record``, ``update(session, record, data) -> record``,
        ``delete(session, record)``.
    :param create_many: creates many validated rows at once, for CSV import:
        ``create_many(session, rows) -> outcomes`` where ``rows`` is a list of
        ``(line, data)`` (``line`` names the row in messages) and ``outcomes`` has, per row
        and in order, the new record or the ``BusinessError`` that refused that row. Refused
        rows must leave nothing behind; the caller flushes. Without it, an import calls
        ``create`` (or the generic create) once per row.
    :param operations: which of ``create``, ``update``, ``delete``, ``import`` exist.
    """

    name: str
    model: type
    schema: type[Schema]
    permission: str
    list_schema: type[Schema] | None = None
    search: Sequence[str] = ()
    search_terms: Callable[[str], Iterable[SearchTerm]] | None = None
    filters: Mapping[str, str | Filter] = field(default_factory=dict)
    sort: Sequence[str] = ()
    default_sort: str = "-id"
    columns: Sequence[str | Column] = ()
    form: Sequence[str | FormField | Section] = ()
    children: Sequence[Child] = ()
    actions: Sequence[Action] = ()
    eager: Sequence[str] = ()
    label: str | None = None
    label_plural: str | None = None
    title_field: str | None = None
    description: str | None = None
    create: Callable[..., Any] | None = None
    update: Callable[..., Any] | None = None
    delete: Callable[..., Any] | None = None
    create_many: Callable[..., Any] | None = None
    operations: Sequence[str] = ("create", "update", "delete", "import")

    # ------------------------------------------------------------------ derived, checked

    def __post_init__(self) -> None:
        self.check()

    @property
    def singular(self) -> str:
        return self.label or humanize(self.model.__name__)

    @property
    def plural(self) -> str:
        return self.label_plural or humanize(self.name)

    @cached_property
    def mapper(self) -> Mapper:
        return sa_inspect(self.model)

    @cached_property
    def schema_instance(self) -> Schema:
        """Shared instance: marshmallow schemas keep no per-call state, building one is slow."""
        return self.schema()

    @cached_property
    def list_schema_instance(self) -> Schema:
        return self.list_schema() if self.list_schema else self.schema_instance

    @cached_property
    def has_archive(self) -> bool:
        return "archived" in self.mapper.columns

    @cached_property
    def has_version(self) -> bool:
        return self.mapper.version_id_col is not None

    @cached_property
    def filter_specs(self) -> dict[str, Filter]:
        """Every filter as a :class:`Filter` (a bare kind is ``Filter(kind)``), plus
        ``archived`` for archivable models."""
        out = {
            name: spec if isinstance(spec, Filter) else Filter(spec)
            for name, spec in self.filters.items()
        }
        if self.has_archive:
            out.setdefault("archived", Filter("eq"))
        return out

    @cached_property
    def all_filters(self) -> dict[str, str]:
        """The kind of every filter of :attr:`filter_specs`."""
        return {name: spec.kind for name, spec in self.filter_specs.items()}

    @cached_property
    def filter_fields(self) -> dict[str, FilterField]:
        """Where each filter of :attr:`all_filters` reads (checked when declared)."""
        return {name: self._filter_field(name) for name in self.all_filters}

    @cached_property
    def sort_fields(self) -> tuple[str, ...]:
        return tuple(self.sort) or ("id",)

    @cached_property
    def list_columns(self) -> tuple[Column, ...]:
        cols = [c if isinstance(c, Column) else Column(c) for c in self.columns]
        if not cols:
            names = [n for n in self.sort_fields if n != "id"][:4] or ["id"]
            cols = [Column(n) for n in names]
        return tuple(cols)

    @cached_property
    def form_sections(self) -> tuple[Section, ...]:
        """The form as sections of :class:`FormField` (loose fields form an untitled section)."""
        sections: list[Section] = []
        loose: list[FormField] = []
        for item in self.form or self._default_form():
            if isinstance(item, Section):
                if loose:
                    sections.append(Section("", tuple(loose)))
                    loose = []
                sections.append(Section(item.title, tuple(_form_field(f) for f in item.fields)))
            else:
                loose.append(_form_field(item))
        if loose:
            sections.append(Section("", tuple(loose)))
        return tuple(sections)

    @property
    def form_fields(self) -> list[FormField]:
        return [f for s in self.form_sections for f in s.fields]  # type: ignore[misc]

    def _default_form(self) -> list[str]:
        child_names = {c.name for c in self.children}
        return [
            name
            for name, f in self.schema_instance.load_fields.items()
            if name not in child_names and not isinstance(f, fields.Nested | fields.List)
        ]

    def action(self, name: str) -> Action | None:
        return next((a for a in self.actions if a.name == name), None)

    def action_permission(self, action: Action) -> str:
        return action.permission or f"{self.permission}.{action.name}"

    def can(self, operation: str) -> bool:
        return operation in self.operations

    def record_title(self, record: Any) -> str:
        attr = self.title_field
        if attr is None:
            attr = next(
                (n for n in ("name", "title", "label", "number", "code") if n in self.mapper.attrs),
                None,
            )
        value = getattr(record, attr, None) if attr else None
        return str(value) if value not in (None, "") else f"{self.singular} #{record.id}"

    def child_model(self, child: Child) -> type:
        return self.mapper.relationships[child.name].mapper.class_

    # ------------------------------------------------------------------ validation

    def check(self) -> None:
        """Fail early, naming the resource and the field, when the declaration is wrong."""
        where = f"resource '{self.name}'"
        if not NAME_RE.match(self.name):
            raise ResourceError(f"{where}: name must be lower-case letters, digits and '-'")
        if not isinstance(self.schema, type) or not issubclass(self.schema, Schema):
            raise ResourceError(f"{where}: schema must be a marshmallow Schema class")
        if self.permission.count(".") != 1:
            raise ResourceError(f"{where}: permission must look like '<addon>.<resource>'")
        if "id" not in self.mapper.columns:
            raise ResourceError(f"{where}: the model needs an integer 'id' primary key")
        for name, spec in self.filters.items():
            if not isinstance(spec, str | Filter):
                raise ResourceError(
                    f"{where}: filter '{name}' must be a kind ({', '.join(FILTER_KINDS)}) or a "
                    f"Filter, not {spec!r}"
                )
        for name, spec in self.filter_specs.items():
            if spec.kind not in FILTER_KINDS:
                raise ResourceError(
                    f"{where}: filter '{name}' has kind '{spec.kind}'; use one of {FILTER_KINDS}"
                )
        for name, target in self.filter_fields.items():  # resolving them checks the fields
            self._check_filter_spec(name, self.filter_specs[name], target)
        for name in self.sort_fields:
            self._column(name, "sort")
        for item in self.default_sort.split(","):
            self._column(item.strip().lstrip("-+"), "default_sort")
        for name in self.search:
            self._search_path(name)
        if self.search_terms is not None and not self.search:
            raise ResourceError(f"{where}: search_terms needs search fields (q is not offered)")
        for col in self.list_columns:
            self._path(col.name, "columns")
        schema_fields = self.schema_instance.fields
        for f in self.form_fields:
            if f.name not in schema_fields:
                raise ResourceError(
                    f"{where}: form field '{f.name}' is not a field of {self.schema.__name__}"
                )
            _check_picker(where, f, schema_fields[f.name])
        for child in self.children:
            rel = self.mapper.relationships.get(child.name)
            if rel is None or not rel.uselist:
                raise ResourceError(
                    f"{where}: child '{child.name}' is not a one-to-many relationship of {self.model.__name__}"
                )
            if child.name not in schema_fields:
                raise ResourceError(
                    f"{where}: child '{child.name}' must be a Nested field of {self.schema.__name__}"
                )
            child_fields = child.schema().fields
            for c in child.columns:
                cname = c.name if isinstance(c, FormField) else c
                if cname not in child_fields:
                    raise ResourceError(
                        f"{where}: child column '{child.name}.{cname}' is not in {child.schema.__name__}"
                    )
                if isinstance(c, FormField):
                    _check_picker(f"{where}, child '{child.name}'", c, child_fields[cname])
        for name in self.eager:
            self._path(name, "eager", relationship=True)
        seen: set[str] = set()
        for action in self.actions:
            if (
                not ACTION_RE.match(action.name)
                or action.name in RESERVED_ACTIONS
                or action.name in seen
            ):
                raise ResourceError(
                    f"{where}: action name '{action.name}' is invalid, reserved or repeated"
                )
            seen.add(action.name)
            action_fields = action.schema().load_fields if action.schema else {}
            for item in action.form:
                name = item.name if isinstance(item, FormField) else item
                if name not in action_fields:
                    raise ResourceError(
                        f"{where}: form field '{name}' of action '{action.name}' is not an input "
                        "field of its schema"
                    )
                if isinstance(item, FormField):
                    _check_picker(f"{where}, action '{action.name}'", item, action_fields[name])
        for op in self.operations:
            if op not in ("create", "update", "delete", "import"):
                raise ResourceError(f"{where}: unknown operation '{op}'")

    def _column(self, name: str, what: str) -> ColumnProperty:
        prop = self.mapper.attrs.get(name)
        if not isinstance(prop, ColumnProperty):
            columns = ", ".join(sorted(self.mapper.columns.keys()))
            raise ResourceError(
                f"resource '{self.name}': {what} field '{name}' is not a column of {self.model.__name__} ({columns})"
            )
        return prop

    def _filter_field(self, name: str) -> FilterField:
        """An own column, or ``relation.column`` one relation deep; else a named error.

        Secret columns (``core.audit.is_secret``: password hashes, tokens) are refused: a
        ``__contains`` filter on ``owner.password_hash`` would read a hash out letter by letter.
        """
        from core.audit import is_secret

        found = self._filter_target(name)
        if is_secret(found.owner, found.column.key):
            raise ResourceError(
                f"resource '{self.name}': filters field '{name}' is a secret column; it cannot be filtered"
            )
        return found

    def _check_filter_spec(self, name: str, spec: Filter, target: FilterField) -> None:
        """A :class:`Filter`'s normaliser and choices fit its kind and its column."""
        where = f"resource '{self.name}': filter '{name}'"
        python_type = target.python_type
        if spec.normalise is not None:
            if isinstance(spec.normalise, str):
                if spec.normalise not in FILTER_NORMALISERS:
                    known = ", ".join(FILTER_NORMALISERS)
                    raise ResourceError(
                        f"{where}: normalise '{spec.normalise}' is unknown; use {known} or a callable"
                    )
            elif not callable(spec.normalise):
                raise ResourceError(f"{where}: normalise must be a name or a callable")
            if python_type is not str:
                raise ResourceError(
                    f"{where}: normalise applies to text columns, not {python_type.__name__}"
                )
        if spec.choices is not None and spec.kind != "eq":
            raise ResourceError(f"{where}: choices need kind 'eq', not '{spec.kind}'")
        if spec.match is not None and (spec.kind != "eq" or not callable(spec.match)):
            raise ResourceError(f"{where}: match must be a callable, on a filter of kind 'eq'")
        if spec.choices is None or callable(spec.choices):
            return  # computed choices are only known per request
        if isinstance(spec.choices, str | bytes) or not isinstance(spec.choices, Sequence):
            raise ResourceError(f"{where}: choices must be a list or a callable (session) -> list")
        try:
            options = spec.options
        except ResourceError as exc:
            raise ResourceError(f"{where}: {exc}") from None
        if not options:
            raise ResourceError(f"{where}: choices are empty")
        self._check_choice_values(where, spec, target, [v for v, _label in options])

    @staticmethod
    def _check_choice_values(
        where: str, spec: Filter, target: FilterField, values: list[Any]
    ) -> None:
        """Choices are of the column's type, fit it, are stored forms and are not repeated."""
        python_type = target.python_type
        length = getattr(target.table_column.type, "length", None)
        seen: set[Any] = set()
        for value in values:
            if not isinstance(value, python_type) or (
                python_type is int and isinstance(value, bool)
            ):
                raise ResourceError(
                    f"{where}: choice {value!r} is not a {python_type.__name__} like its column"
                )
            if isinstance(value, str):
                if length is not None and len(value) > length:
                    raise ResourceError(
                        f"{where}: choice {value!r} is longer than the column ({length})"
                    )
                try:
                    stored = spec.normalised(value)
                except ValueError as exc:
                    raise ResourceError(f"{where}: choice {value!r} is refused: {exc}") from None
                if stored != value:
                    raise ResourceError(
                        f"{where}: choice {value!r} is not in the stored form {stored!r}"
                    )
            if value in seen:
                raise ResourceError(f"{where}: choice {value!r} is given twice")
            seen.add(value)

    def _filter_target(self, name: str) -> FilterField:
        if "." not in name:
            return FilterField(name, self.model, self._column(name, "filters"))
        where = f"resource '{self.name}': filters field '{name}'"
        rel_name, _, col_name = name.partition(".")
        if "." in col_name:
            raise ResourceError(f"{where}: at most one relation deep ('relation.column')")
        rel = self.mapper.relationships.get(rel_name)
        if rel is None:
            relations = ", ".join(sorted(self.mapper.relationships.keys())) or "none"
            raise ResourceError(
                f"{where}: '{rel_name}' is not a relationship of {self.model.__name__} ({relations})"
            )
        prop = rel.mapper.attrs.get(col_name)
        if not isinstance(prop, ColumnProperty) or "__" in col_name:
            target = rel.mapper.class_.__name__
            columns = ", ".join(sorted(rel.mapper.columns.keys()))
            raise ResourceError(f"{where}: '{col_name}' is not a column of {target} ({columns})")
        return FilterField(name, rel.mapper.class_, prop, rel)

    def _path(self, path: str, what: str, relationship: bool = False) -> None:
        mapper = self.mapper
        parts = path.split(".")
        for i, part in enumerate(parts):
            prop = mapper.attrs.get(part)
            last = i == len(parts) - 1
            if prop is None or (not last and not isinstance(prop, RelationshipProperty)):
                raise ResourceError(
                    f"resource '{self.name}': {what} '{path}' does not name an attribute of {self.model.__name__}"
                )
            if last and relationship and not isinstance(prop, RelationshipProperty):
                raise ResourceError(
                    f"resource '{self.name}': {what} '{path}' is not a relationship"
                )
            if isinstance(prop, RelationshipProperty):
                mapper = prop.mapper

    def _search_path(self, path: str) -> None:
        parts = path.split(".")
        if len(parts) > 2:
            raise ResourceError(
                f"resource '{self.name}': search '{path}': at most one relation deep"
            )
        self._path(path, "search")


def _check_picker(where: str, spec: FormField, schema_field: fields.Field) -> None:
    """A record picker submits an id: its schema field must be an integer (the API's id)."""
    if spec.picks_record and not isinstance(schema_field, fields.Integer):
        raise ResourceError(
            f"{where}: form field '{spec.name}' has widget 'record' but its schema field is a "
            f"{type(schema_field).__name__}, not an Integer id"
        )


def _form_field(item: str | FormField) -> FormField:
    return item if isinstance(item, FormField) else FormField(item)
