"""List queries: filters, search, sort and pagination from query-string parameters (no Flask).

A list request runs a fixed number of statements whatever the page size: one select of the
page, one count (only when the page is full or past the end: otherwise the page gives the
total), and one per declared collection (``selectinload``); many-to-one relations
are joined into the page's select. Relations are found from the declaration (children,
nested schema fields, dotted columns, ``eager``), so a new column in a schema does not quietly
add a query per row.

Parameters: ``limit`` (default 50, at most 500), ``offset``, ``q`` (every word must match one
of the search fields), ``sort=-price,name``, and filters on declared fields:
``field=value``, ``field__in=a,b``, ``field__gte`` / ``field__lte`` (range filters: numbers
and dates), ``field__contains`` (text filters), ``field__isnull=true`` (nullable fields).

Filters on a related record keep the declared dotted name in the query string
(``?tags.name=VIP``, ``?addresses.country__in=DE,FR``, ``?account.is_customer=true``); the
value is read with the related column's type. They become ``EXISTS`` subqueries
(``relationship.any(...)`` for collections, ``.has(...)`` for a many-to-one), never joins, so
a record is listed once and the list still costs one count and one page. Filters on the same
relation hold for the same related record: ``addresses.country=DE&addresses.kind=billing`` is
"has a billing address in Germany". They offer no ``__isnull`` (filter the foreign key for
"has no account"). Company scoping (``core.tenancy``) applies inside the subqueries as
everywhere: a tag of another company matches nothing.

``q`` is split into words, each matching one search field with "contains". A resource's
``search_terms`` hook may first take out parts of ``q`` it reads its own way (a phone number
typed with spaces); such a part matches when the hook's condition holds or its words match
as usual.
"""

from __future__ import annotations

import enum
import functools
import operator
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Context, Decimal, InvalidOperation
from typing import Any

from marshmallow import Schema, fields
from sqlalchemy import ColumnElement, Select, String, and_, cast, false, func, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapper, joinedload, selectinload
from sqlalchemy.orm.exc import UnmappedColumnError
from sqlalchemy.orm.strategy_options import _AbstractLoad
from sqlalchemy.sql.elements import BinaryExpression
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import Boolean

from core.resources.declaration import RESERVED_PARAMS, Resource
from core.resources.validation import bad_text, column_value_error

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_IN_VALUES = 100
MAX_TEXT = 200
MAX_SEARCH_WORDS = 8
TRIGRAM_MIN_CHARS = 3  # shorter words give PostgreSQL's trigram indexes nothing to look up
OPERATORS = {"eq": ("", "in"), "range": ("", "in", "gte", "lte"), "text": ("", "in", "contains")}
INT_RE = re.compile(r"^[+-]?\d{1,19}$")
MAX_NUMBER = Decimal("1e15")
TIMESTAMP_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?([Zz]|[+-]\d{2}:?\d{2})?$"
)
TRUE, FALSE = {"true"}, {"false"}  # what JSON and the OpenAPI document call a boolean


class QueryError(ValueError):
    """A list request names an unknown parameter or gives a value of the wrong type (a 400)."""

    def __init__(
        self, message: str, errors: dict[str, list[str]] | None = None, **extra: Any
    ) -> None:
        super().__init__(message)
        self.message, self.errors, self.extra = message, errors or {}, extra


@dataclass
class ListParams:
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    q: str | None = None
    sort: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)
    filters: list[tuple[str, str, Any]] = field(default_factory=list)  # (field, operator, value)
    format: str = "json"


def parse_number(text: str) -> Decimal | None:
    """A finite decimal of sensible size ("12.5", "-3", "1e-05"), or None."""
    if len(text) > 60:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    if not value.is_finite() or abs(value) > MAX_NUMBER:
        return None
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -20:  # 1e-216: no column holds such digits
        value = value.quantize(Decimal("1e-20"), context=Context(prec=100))
    return value


def parse_timestamp(text: str) -> datetime | None:
    """An RFC 3339 / ISO 8601 timestamp as an aware datetime (UTC when no offset is given).

    Accepts what clients send: ``T`` or a space, lower-case ``t``/``z``, any number of
    fractional digits, and a leap second (read as :59).
    """
    match = TIMESTAMP_RE.match(text)
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    try:
        micro = int((fraction or "0")[:6].ljust(6, "0"))
        value = datetime(
            min(max(int(year), 2), 9998),  # far enough from the ends that any offset converts
            int(month),
            int(day),
            int(hour),
            int(minute),
            min(int(second or 0), 59),
            micro,
        )
        if offset and offset.upper() != "Z":
            sign = -1 if offset[0] == "-" else 1
            digits = offset[1:].replace(":", "")
            delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
            if delta >= timedelta(hours=24):
                return None
            return value.replace(tzinfo=timezone(sign * delta))
    except (ValueError, OverflowError):
        return None
    return value.replace(tzinfo=UTC)


@dataclass
class DateOnly:
    """A date given for a timestamp filter: it means the whole day (UTC)."""

    day: date

    @property
    def start(self) -> datetime:
        return datetime.combine(self.day, time.min, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        try:
            return self.start + timedelta(days=1)
        except OverflowError:  # 9999-12-31
            return datetime.max.replace(tzinfo=UTC)


# --------------------------------------------------------------------------- declaration helpers


def filter_operators(resource: Resource, name: str) -> tuple[str, ...]:
    """The operators a filter offers; ``isnull`` only on the model's own nullable columns."""
    ops = OPERATORS[resource.all_filters[name]]
    target = resource.filter_fields[name]
    if target.relationship is None and target.table_column.nullable:
        ops = (*ops, "isnull")
    return ops


def filter_params(resource: Resource) -> list[str]:
    """Every filter parameter a list accepts, e.g. ``price``, ``price__gte``."""
    out: list[str] = []
    for name in resource.all_filters:
        out.extend(name if not op else f"{name}__{op}" for op in filter_operators(resource, name))
    return out


def filter_column_type(resource: Resource, name: str) -> Any:
    """The SQL type of the column a filter reads (the related record's for ``rel.col``)."""
    return resource.filter_fields[name].table_column.type


def column_python_type(resource: Resource, name: str) -> type:
    """The Python type a filter's values are read as (``str`` when the type does not say)."""
    return resource.filter_fields[name].python_type


# --------------------------------------------------------------------------- parsing


def _int_param(raw: str, name: str, low: int, high: int) -> int:
    if not INT_RE.match(raw.strip()):
        raise QueryError(f"'{name}' must be a whole number.", {name: ["Not a valid integer."]})
    value = int(raw)
    if not low <= value <= high:
        raise QueryError(
            f"'{name}' must be between {low} and {high}.",
            {name: [f"Must be between {low} and {high}."]},
        )
    return value


def _invalid(param: str, message: str, **extra: Any) -> QueryError:
    """The 400 for a bad value of one parameter: the message names it, ``errors`` too."""
    return QueryError(f"Invalid value for '{param}': {message}", {param: [message]}, **extra)


def coerce_value(resource: Resource, name: str, raw: str, param: str) -> Any:
    """Turn a query-string value into the column's Python type, or raise ``QueryError``.

    A filter declared with a :class:`~core.resources.declaration.Filter` reads the text its
    way first (stripped, brought to the stored form: ``" de "`` is ``DE``), and then takes
    only its declared choices.
    """
    spec = resource.filter_specs[name]
    if not spec.reads_values:
        return _typed_value(resource, name, raw, param)
    if len(raw) > MAX_TEXT:
        raise _invalid(param, f"text must be at most {MAX_TEXT} characters.")
    try:
        text = spec.normalised(raw)
    except ValueError as exc:
        raise _invalid(param, str(exc) or "not a valid value.") from None
    value = _typed_value(resource, name, text, param)
    if spec.values is not None and value not in spec.values:
        allowed = [str(v) for v, _label in spec.options]
        raise _invalid(param, _not_a_choice(raw.strip(), allowed), allowed_values=allowed)
    return value


def _not_a_choice(text: str, allowed: list[str]) -> str:
    """Why a value is refused: the choices themselves when they are few."""
    if len(allowed) <= 12:
        return f"'{text}' is not one of {', '.join(allowed)}."
    return (
        f"'{text}' is not one of the {len(allowed)} accepted values "
        f"(such as {', '.join(allowed[:6])})."
    )


def _typed_value(resource: Resource, name: str, raw: str, param: str) -> Any:
    """A query-string value in the column's Python type, or ``QueryError``."""

    def fail(message: str) -> QueryError:
        return _invalid(param, message)

    kind = column_python_type(resource, name)
    text = raw.strip()
    if kind is bool:
        if text.lower() in TRUE:
            return True
        if text.lower() in FALSE:
            return False
        raise fail("expected true or false.")
    if kind is int:
        if not INT_RE.match(text):
            raise fail("expected a whole number.")
        value: Any = int(text)
    elif kind in (Decimal, float):
        number = parse_number(text)
        if number is None:
            raise fail("expected a number such as 12.50 (at most 1e15 in size).")
        return number if kind is Decimal else float(number)
    elif kind is datetime:
        if len(text) == 10:
            try:
                return DateOnly(date.fromisoformat(text))
            except ValueError:
                raise fail("expected an ISO 8601 date (2024-05-31).") from None
        stamp = parse_timestamp(text)
        if stamp is None:
            raise fail(
                "expected an ISO 8601 date or date-time (2024-05-31 or 2024-05-31T12:00:00Z)."
            )
        return stamp
    elif kind is date:
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise fail("expected an ISO 8601 date (2024-05-31).") from None
    elif isinstance(kind, type) and issubclass(kind, enum.Enum):
        for member in kind:
            if text in (member.name, str(member.value)):
                return member
        raise fail(f"expected one of {', '.join(str(m.value) for m in kind)}.")
    else:
        if bad_text(raw) or len(raw) > MAX_TEXT:
            raise fail(f"text must be valid and at most {MAX_TEXT} characters.")
        return raw
    problem = column_value_error(filter_column_type(resource, name), value)
    if problem:
        raise fail(problem)
    return value


def _pairs(args: Any) -> Iterable[tuple[str, str]]:
    if hasattr(args, "items") and hasattr(args, "getlist"):
        return args.items(multi=True)
    if hasattr(args, "items"):
        return args.items()
    return args


def parse_list_params(resource: Resource, args: Any, *, allow_format: bool = True) -> ListParams:
    """Read list parameters from a mapping / MultiDict / pairs; raise ``QueryError`` when wrong."""
    params = ListParams()
    allowed_filters = set(filter_params(resource))
    seen: set[str] = set()
    for key, raw in _pairs(args):
        if bad_text(key) or bad_text(raw):
            raise QueryError("The query string contains invalid characters.")
        if key in seen:
            raise QueryError(f"'{key}' is given more than once.", {key: ["Given more than once."]})
        seen.add(key)
        if key == "limit":
            params.limit = _int_param(raw, "limit", 1, MAX_LIMIT)
        elif key == "offset":
            params.offset = _int_param(raw, "offset", 0, 2**31 - 1)
        elif key == "q":
            if len(raw) > MAX_TEXT:
                raise QueryError(
                    f"'q' is too long (at most {MAX_TEXT} characters).",
                    {"q": [f"At most {MAX_TEXT} characters."]},
                )
            params.q = raw.strip() or None
        elif key == "sort":
            params.sort = parse_sort(resource, raw)
        elif key == "format" and allow_format:
            if raw not in ("json", "csv"):
                raise QueryError(
                    "'format' must be json or csv.", {"format": ["Must be json or csv."]}
                )
            params.format = raw
        elif key in allowed_filters:
            params.filters.append(_parse_filter(resource, key, raw))
        else:
            allowed = sorted(allowed_filters)
            reserved = [p for p in RESERVED_PARAMS if allow_format or p != "format"]
            raise QueryError(
                f"Unknown filter '{key}'. Filters allowed here: {', '.join(allowed) or 'none'}; "
                f"other parameters: {', '.join(reserved)}.",
                {key: ["Unknown parameter."]},
                allowed_filters=allowed,
                allowed_parameters=reserved,
            )
    return params


def _parse_filter(resource: Resource, key: str, raw: str) -> tuple[str, str, Any]:
    name, _, op = key.partition("__")
    if op == "in":
        parts = [p for p in raw.split(",") if p != ""]
        if not parts or len(parts) > MAX_IN_VALUES:
            raise QueryError(
                f"'{key}' takes 1 to {MAX_IN_VALUES} comma-separated values.",
                {key: ["Give 1 to 100 values."]},
            )
        return name, op, [coerce_value(resource, name, p, key) for p in parts]
    if op == "isnull":
        text = raw.strip().lower()
        if text not in TRUE | FALSE:
            raise QueryError(f"'{key}' must be true or false.", {key: ["Expected true or false."]})
        return name, op, text in TRUE
    if op == "contains":
        if bad_text(raw) or len(raw) > MAX_TEXT:
            raise QueryError(f"'{key}' is too long.", {key: [f"At most {MAX_TEXT} characters."]})
        return name, op, raw
    return name, op, coerce_value(resource, name, raw, key)


def parse_sort(resource: Resource, raw: str) -> list[tuple[str, bool]]:
    out: list[tuple[str, bool]] = []
    if not raw.strip():
        raise QueryError(
            f"'sort' is empty. Sortable fields: {', '.join(resource.sort_fields)}.",
            {"sort": ["Give at least one field."]},
            allowed_sort=list(resource.sort_fields),
        )
    for item in (p.strip() for p in raw.split(",")):
        if not item:
            continue
        desc = item.startswith("-")
        name = item.lstrip("-+")
        if name not in resource.sort_fields:
            allowed = list(resource.sort_fields)
            raise QueryError(
                f"Cannot sort on '{name}'. Sortable fields: {', '.join(allowed)} (prefix '-' for descending).",
                {"sort": [f"Unknown sort field '{name}'."]},
                allowed_sort=allowed,
            )
        out.append((name, desc))
    return out


# --------------------------------------------------------------------------- statements


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filter_clause(col: Any, op: str, value: Any) -> ColumnElement[bool]:
    """One filter on one mapped attribute (of the model or of the related class)."""
    if op == "isnull":
        return col.is_(None) if value else col.is_not(None)
    if op == "contains":
        return _like(col, f"%{escape_like(value)}%")
    if op == "in":
        clauses = [_filter_clause(col, "", v) for v in value]
        if not any(isinstance(v, DateOnly) for v in value):
            return col.in_(value)
        return or_(*clauses)
    if isinstance(value, DateOnly):
        if op == "gte":
            return col >= value.start
        if op == "lte":
            return col < value.end
        return (col >= value.start) & (col < value.end)
    if op == "gte":
        return col >= value
    if op == "lte":
        return col <= value
    return col == value


def filter_clauses(resource: Resource, filters: Iterable[tuple[str, str, Any]]) -> list[Any]:
    """The WHERE conditions of parsed filters; related ones grouped into one EXISTS per relation.

    Grouping makes filters on one relation hold for the same related record (a billing
    address *in* Germany, not any billing address and any German one).
    """
    out: list[Any] = []
    related: dict[str, list[ColumnElement[bool]]] = {}
    for name, op, value in filters:
        target = resource.filter_fields[name]
        match = resource.filter_specs[name].match
        if match is not None and op in ("", "in"):
            values = value if op == "in" else [value]
            clause = or_(*(match(target.attribute, v) for v in values))
        else:
            clause = _filter_clause(target.attribute, op, value)
        if target.relationship is None:
            out.append(clause)
        else:
            related.setdefault(target.relationship.key, []).append(clause)
    for key, clauses in related.items():
        rel = getattr(resource.model, key)
        condition = and_(*clauses)
        out.append(
            rel.any(condition) if resource.mapper.relationships[key].uselist else rel.has(condition)
        )
    return out


def search_clauses(resource: Resource, q: str) -> list[ColumnElement[bool]]:
    """What ``q`` requires: the resource's own reading of parts of it, then word by word.

    At most ``MAX_SEARCH_WORDS`` words are searched (a term's words count), so a long text
    cannot build an arbitrarily large statement.
    """
    out: list[ColumnElement[bool]] = []
    rest, budget = q, MAX_SEARCH_WORDS
    for term in resource.search_terms(q) if resource.search_terms else ():
        if not term.text.strip() or budget <= 0:
            continue
        head, found, tail = rest.partition(term.text)
        if not found:
            continue
        rest = f"{head} {tail}"
        words = term.text.split()[:budget]
        budget -= len(words)
        out.append(or_(term.clause, and_(*(_search_clause(resource, w) for w in words))))
    out.extend(_search_clause(resource, w) for w in rest.split()[: max(budget, 0)])
    return out


def _search_clause(resource: Resource, word: str) -> ColumnElement[bool]:
    """One word: an OR of "contains" over the resource's search paths.

    Every branch is a condition an index can answer on its own (``lower(col) LIKE p``, or a
    key compared with the ids a related table yields), so PostgreSQL can combine trigram
    index scans with a ``BitmapOr`` instead of scanning the table: one branch it cannot
    index (a correlated ``EXISTS``) is enough to make it read every row.
    """
    pattern = f"%{escape_like(word)}%"
    options = []
    for path in resource.search:
        if "." in path:
            rel_name, attr = path.split(".")
            indexable = len(word) >= TRIGRAM_MIN_CHARS
            options.append(_related_search(resource, rel_name, attr, pattern, indexable))
        else:
            options.append(_like(getattr(resource.model, path), pattern))
    return or_(*options) if options else false()


def _related_search(
    resource: Resource, rel_name: str, attr: str, pattern: str, indexable: bool
) -> Any:
    """A search path ``rel.attr``: the record's key among the keys of matching related rows.

    ``account_id IN (SELECT id FROM contacts_account WHERE lower(name) LIKE p)`` for a
    many-to-one, ``id IN (SELECT contact_id FROM contacts_address WHERE ...)`` for a
    one-to-many: the subquery does not depend on the outer row, so it runs once (with its
    own index) instead of once per row. The related rows are selected as ORM rows, so
    company scoping (``core.tenancy``) applies inside the subquery exactly as it did inside
    the ``EXISTS`` this replaces. Relations that are not one plain foreign key (a link
    table, a custom join condition) keep ``any()`` / ``has()``.
    """
    prop = resource.mapper.relationships[rel_name]
    cond = _like(getattr(prop.mapper.class_, attr), pattern)
    pair = _key_pair(prop)
    if pair is None:
        rel = getattr(resource.model, rel_name)
        return rel.any(cond) if prop.uselist else rel.has(cond)
    local, remote = pair
    ids = select(remote).where(cond)
    if remote.expression.nullable:  # a NULL in the list would make a miss NULL, not false
        ids = ids.where(remote.is_not(None))
    return KeyIn(local, ids.scalar_subquery(), indexable=indexable)


@functools.cache
def _key_pair(prop: Any) -> tuple[Any, Any] | None:
    """(own attribute, related attribute) when ``prop`` joins on one column equality, else None."""
    if prop.secondary is not None or len(prop.local_remote_pairs) != 1:
        return None
    join = prop.primaryjoin
    if not (isinstance(join, BinaryExpression) and join.operator is operator.eq):
        return None
    local, remote = prop.local_remote_pairs[0]
    try:
        own = prop.parent.get_property_by_column(local).class_attribute
        other = prop.mapper.get_property_by_column(remote).class_attribute
    except UnmappedColumnError:
        return None
    return own, other


class KeyIn(ColumnElement[bool]):
    """``key IN (subquery)``; on PostgreSQL ``key = ANY(ARRAY(subquery))`` when ``indexable``.

    Same answers; the difference is the plan. Inside an ``OR``, PostgreSQL runs ``IN
    (subquery)`` as a hashed subplan probed for every row (and guesses that half the rows
    match), so the whole ``OR`` becomes a sequential scan. ``= ANY(ARRAY(...))`` is an init
    plan run once, and ``key = ANY($1)`` is an index condition that joins the ``BitmapOr``
    of the other branches (measured: 100,000 contacts, q=mül, 123 ms -> 11 ms).

    When the other branches cannot use a trigram index anyway (a word shorter than
    ``TRIGRAM_MIN_CHARS``) the table is scanned, and there the hashed subplan wins: each row
    is one hash probe, where ``= ANY(array)`` compares with every element (measured:
    q=ag, 1,219 matching accounts, 186 ms with the hash, 588 ms with the array).
    """

    inherit_cache = True
    type = Boolean()
    _traverse_internals = [
        ("key", InternalTraversal.dp_clauseelement),
        ("subquery", InternalTraversal.dp_clauseelement),
        ("indexable", InternalTraversal.dp_boolean),
    ]

    def __init__(self, key: Any, subquery: Any, *, indexable: bool = True) -> None:
        self.key, self.subquery, self.indexable = key.expression, subquery, indexable

    def get_children(self, **kw: Any) -> tuple[Any, ...]:
        return (self.key, self.subquery)


@compiles(KeyIn)
def _key_in_default(element: KeyIn, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.key.in_(element.subquery.element), **kw)


@compiles(KeyIn, "postgresql")
def _key_in_postgresql(element: KeyIn, compiler: Any, **kw: Any) -> str:
    if not element.indexable:
        return _key_in_default(element, compiler, **kw)
    key = compiler.process(element.key, **kw)
    return f"{key} = ANY(ARRAY{compiler.process(element.subquery, **kw)})"


def _like(col: Any, pattern: str) -> ColumnElement[bool]:
    """Case-insensitive ``LIKE``, written ``lower(col) LIKE lower(pattern)``.

    That is what SQLAlchemy makes of ``ilike`` on SQLite anyway; on PostgreSQL it gives the
    same answers as ``ILIKE`` and scans about 2.5 times faster (measured: six columns of
    100,000 rows, 108 ms against 276 ms), which is most of what a search costs. It is also
    the expression an addon's trigram indexes cover (``gin (lower(col) gin_trgm_ops)``, see
    contacts' migration 0004), so keep the two in step.
    """
    if not isinstance(col.type, String):
        col = cast(col, String)
    return func.lower(col).like(func.lower(pattern), escape="\\")


def list_statement(resource: Resource, params: ListParams) -> Select:
    """The filtered, searched select of the resource's model (no order, no page, no options)."""
    stmt = select(resource.model).where(*filter_clauses(resource, params.filters))
    filtered = {name for name, _op, _value in params.filters}
    if resource.has_archive and "archived" not in filtered:
        stmt = stmt.where(resource.model.archived.is_(False))
    if params.q:
        stmt = stmt.where(*search_clauses(resource, params.q))
    return stmt


def order_by(resource: Resource, params: ListParams) -> list[Any]:
    sort = params.sort or [
        (item.strip().lstrip("-+"), item.strip().startswith("-"))
        for item in resource.default_sort.split(",")
        if item.strip()
    ]
    out = []
    for name, desc in sort:
        col = getattr(resource.model, name)
        out.append((col.desc() if desc else col.asc()).nulls_last())
    if "id" not in {n for n, _ in sort}:
        out.append(resource.model.id.desc() if sort and sort[0][1] else resource.model.id.asc())
    return out


@dataclass
class ListResult:
    items: list[Any]
    total: int
    limit: int
    offset: int


def run_list(session: Any, resource: Resource, params: ListParams) -> ListResult:
    """One page of records and the total count, with declared relations loaded.

    The page is read first: when it is not full (the last page, or a search with a few
    hits) the total follows from it and the count, a second scan of every match, is saved.
    A search (``q``) counts in the page's own statement (``count(*) OVER ()``): a
    ``contains`` search reads every match to sort them (every row, where no trigram index
    serves it), and the separate count would find them all again (measured at 20,000
    contacts without trigram indexes: 30 ms against 52 ms on SQLite, 56 against 113 on
    PostgreSQL). Lists without ``q`` keep the separate count: their page can stop after
    ``limit`` rows of an index, which a window cannot.
    """
    base = list_statement(resource, params)
    windowed = bool(params.q)
    stmt = base.add_columns(func.count().over().label("_total")) if windowed else base
    stmt = (
        stmt.order_by(*order_by(resource, params))
        .limit(params.limit)
        .offset(params.offset)
        .options(*eager_options(resource))
    )
    if windowed:
        rows = session.execute(stmt).all()
        items: list[Any] = [row[0] for row in rows]
        if rows:
            return ListResult(items, rows[0]._total, params.limit, params.offset)
    else:
        items = list(session.scalars(stmt).unique().all())
    if 0 < len(items) < params.limit or (not items and params.offset == 0):
        total = params.offset + len(items)
    else:  # a full page, or a page past the end
        count = select(func.count()).select_from(base.order_by(None).subquery())
        total = session.scalar(count) or 0
    return ListResult(items, total, params.limit, params.offset)


def distinct_values(session: Any, attribute: Any, *, limit: int = 500) -> list[Any]:
    """The distinct non-null values of a mapped column among the rows the caller can see, sorted.

    For the choices of a filter drawn from the data (the languages contacts have). A plain
    ``SELECT DISTINCT`` reads every row of the company, on every list page that shows the
    select (12 ms at 100,000 rows on PostgreSQL, with or without an index). This is a "loose
    index scan" instead: the smallest value, then the smallest one greater than that, and so
    on, one index probe per distinct value given an index on (company_id, column) (0.5 ms).
    The selects name the mapped attribute, so company scoping applies inside the CTE.
    """
    first = select(func.min(attribute).label("v"))
    found = first.cte("distinct_values", recursive=True)
    following = select(func.min(attribute)).where(attribute > found.c.v).scalar_subquery()
    found = found.union_all(select(following).where(found.c.v.is_not(None)))
    return list(session.scalars(select(found.c.v).where(found.c.v.is_not(None)).limit(limit)))


def iter_records(
    session: Any, resource: Resource, params: ListParams, batch: int = 500
) -> Iterator[Any]:
    """Every matching record in list order, fetched in batches (CSV export)."""
    stmt = (
        list_statement(resource, params)
        .order_by(*order_by(resource, params))
        .options(*eager_options(resource, detail=True))
        .execution_options(yield_per=batch)
    )
    yield from session.scalars(stmt)


# --------------------------------------------------------------------------- eager loading


def _schema_paths(schema: Schema, mapper: Mapper, prefix: str = "", depth: int = 0) -> set[str]:
    """Relationship paths a schema's nested fields walk through."""
    paths: set[str] = set()
    if depth > 4:
        return paths
    for name, f in schema.dump_fields.items():
        inner = f.inner if isinstance(f, fields.List) else f
        attr = f.attribute or name
        rel = mapper.relationships.get(attr)
        if rel is None:
            continue
        path = f"{prefix}{attr}"
        paths.add(path)
        if isinstance(inner, fields.Nested) and isinstance(inner.schema, Schema):
            paths |= _schema_paths(inner.schema, rel.mapper, path + ".", depth + 1)
    return paths


@functools.cache
def _eager_paths(resource: Resource, detail: bool) -> tuple[str, ...]:
    schema = resource.schema_instance if detail else resource.list_schema_instance
    paths = (
        set(resource.eager) | {c.name for c in resource.children} if detail else set(resource.eager)
    )
    paths |= _schema_paths(schema, resource.mapper)
    for col in resource.list_columns:
        if "." in col.name:
            paths.add(col.name.rsplit(".", 1)[0])
    # Keep the longest paths; loading "a.b" loads "a" too.
    return tuple(sorted(p for p in paths if not any(o.startswith(p + ".") for o in paths)))


@functools.cache
def eager_options(resource: Resource, detail: bool = False) -> tuple[_AbstractLoad, ...]:
    """Loader options: ``selectinload`` for collections, ``joinedload`` for single objects."""
    options = []
    for path in _eager_paths(resource, detail):
        mapper: Mapper = resource.mapper
        loader: Any = None
        for part in path.split("."):
            rel = mapper.relationships.get(part)
            if rel is None:
                break
            attr = getattr(mapper.class_, part)
            strategy = selectinload if rel.uselist else joinedload
            loader = strategy(attr) if loader is None else getattr(loader, strategy.__name__)(attr)
            mapper = rel.mapper
        if loader is not None:
            options.append(loader)
    return tuple(options)
