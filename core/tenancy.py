"""Company scoping, enforced once, in the ORM.

Every class that has ``CompanyMixin`` is filtered by the companies the caller may see, for
every ORM statement run through a ``Session``: ``select`` (lists, searches, ``get``, relation
loads, eager and lazy), ORM-enabled bulk ``update`` and ``delete``. No endpoint, service or
export has to remember it. Writes are checked at flush time: new rows are stamped with the
current company, and a row may only be written into, or point at a row of, an allowed company.

Who the caller is comes from, in this order:

1. an explicit scope set with :func:`company_scope` or :func:`unscoped` (services run by jobs,
   tests, CLI commands acting for a user);
2. inside a Flask request: the values ``core.auth`` put on ``flask.g`` (``mosaic_company_ids``:
   the companies the request works in, ``mosaic_company_id``: the current one,
   ``mosaic_user_id``). A request with no identity sees no company row at all: deny by default;
3. otherwise the *system* scope: no filter. That is the CLI, the addon lifecycle and data
   loading, which act as the operator of the database.

Not covered (by design, document it where you use it): Core statements on ``Table`` objects
(``select(Gadget.__table__)``), ``text()`` SQL, and objects already in the session's identity
map (``Session.get`` returns them without SQL; a request's session only holds what the
request itself loaded).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria
from sqlalchemy.orm.attributes import get_history

from core.db import AuthorMixin, Base, CompanyMixin, in_values


class CompanyAccessError(PermissionError):
    """A write would put a row into, or move it to, a company the caller may not use."""


class CompanyRequiredError(ValueError):
    """A company row is created with no company given and no current company to stamp."""


class InvisibleReferenceError(ValueError):
    """A row points at a row the caller cannot see (another company's, or none at all).

    Both cases give the same error on purpose: the answer must not reveal whether a row of
    another company exists.
    """

    def __init__(self, model: str, field: str, value: Any) -> None:
        self.model, self.field, self.value = model, field, value
        super().__init__(f"{model}.{field}: no such record ({value!r})")


@dataclass(frozen=True)
class Scope:
    """What the current code may see.

    ``company_ids=None`` is the unrestricted *system* scope; an empty frozenset sees nothing.
    """

    company_ids: frozenset[int] | None
    company_id: int | None = None
    user_id: int | None = None

    @property
    def restricted(self) -> bool:
        return self.company_ids is not None

    def allows(self, company_id: int | None) -> bool:
        return self.company_ids is None or company_id in self.company_ids


SYSTEM = Scope(None)
_scope: ContextVar[Scope | None] = ContextVar("mosaic_company_scope", default=None)


def _request_scope() -> Scope | None:
    try:
        from flask import g, has_request_context
    except ImportError:  # pragma: no cover - flask is a dependency
        return None
    if not has_request_context():
        return None
    return Scope(
        frozenset(g.get("mosaic_company_ids", frozenset())),
        g.get("mosaic_company_id"),
        g.get("mosaic_user_id"),
    )


def current_scope() -> Scope:
    """The scope in force here (explicit, else the request's, else system)."""
    explicit = _scope.get()
    if explicit is not None:
        return explicit
    return _request_scope() or SYSTEM


@contextlib.contextmanager
def company_scope(
    company_ids: Iterable[int], company_id: int | None = None, user_id: int | None = None
) -> Iterator[Scope]:
    """Run the block as a user who may see ``company_ids`` (current company ``company_id``)."""
    ids = frozenset(int(i) for i in company_ids)
    if company_id is None and len(ids) == 1:
        company_id = next(iter(ids))
    if company_id is not None and company_id not in ids:
        raise CompanyAccessError(f"company {company_id} is not among the allowed companies")
    token = _scope.set(Scope(ids, company_id, user_id))
    try:
        yield _scope.get()  # type: ignore[misc]
    finally:
        _scope.reset(token)


@contextlib.contextmanager
def unscoped(user_id: int | None = None) -> Iterator[Scope]:
    """Run the block unrestricted (system work inside a request: use sparingly, say why)."""
    token = _scope.set(Scope(None, None, user_id))
    try:
        yield _scope.get()  # type: ignore[misc]
    finally:
        _scope.reset(token)


def scope_for_user(
    session: Session,
    user: Any,
    company_id: int | None = None,
    *,
    company_ids: Iterable[int] | None = None,
) -> Scope:
    """The scope a request of ``user`` gets (see ``core.auth.loader``).

    By default the user works in their current company only; ``company_id`` picks another
    allowed one, ``company_ids`` several (the first is the current one). Asking for a company
    the user is not allowed raises ``CompanyAccessError``.
    """
    from core.models import Company, user_company

    allowed = frozenset(
        session.scalars(
            select(Company.id)
            .join(user_company, user_company.c.company_id == Company.id)
            .where(user_company.c.user_id == user.id, Company.active.is_(True))
        )
    )
    wanted = list(company_ids) if company_ids is not None else []
    if company_id is not None:
        wanted.insert(0, company_id)
    if wanted:
        if not set(wanted) <= allowed:
            raise CompanyAccessError("a requested company is not among the user's companies")
        return Scope(frozenset(wanted), wanted[0], user.id)
    current = user.company_id if user.company_id in allowed else min(allowed, default=None)
    return Scope(frozenset({current} if current is not None else ()), current, user.id)


@contextlib.contextmanager
def as_user(
    session: Session,
    user: Any,
    company_id: int | None = None,
    *,
    company_ids: Iterable[int] | None = None,
) -> Iterator[Scope]:
    """Run the block as ``user`` would run in a request (jobs, CLI, tests)."""
    scope = scope_for_user(session, user, company_id, company_ids=company_ids)
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)


# --------------------------------------------------------------------------- reading


@functools.lru_cache(maxsize=1024)
def _criteria(ids: tuple[int, ...]) -> Any:
    """The loader option for one set of companies; built once per set, it is immutable."""
    return with_loader_criteria(
        CompanyMixin,
        lambda cls: cls.company_id.in_(ids),
        include_aliases=True,
        track_closure_variables=True,
    )


def _on_execute(state: ORMExecuteState) -> None:
    if state.execution_options.get("mosaic_unscoped"):
        return
    if state.is_column_load:
        # refreshing an object already in the session: it was obtained under a scope
        return
    if not (state.is_select or state.is_update or state.is_delete or state.is_insert):
        return
    scope = current_scope()
    if state.is_insert:
        _check_bulk_insert(state, scope)
        return
    if not scope.restricted:
        return
    if state.is_update:
        _check_bulk_update(state, scope)
    ids = tuple(sorted(scope.company_ids or ()))
    state.statement = state.statement.options(_criteria(ids))


def _company_entity(state: ORMExecuteState) -> type | None:
    mapper = state.bind_mapper
    if mapper is not None and issubclass(mapper.class_, CompanyMixin):
        return mapper.class_
    return None


def _check_bulk_insert(state: ORMExecuteState, scope: Scope) -> None:
    """What a flush does for new company rows: stamp the company, check it and the references."""
    entity = _company_entity(state)
    if entity is None:
        return
    params = state.parameters
    rows = params if isinstance(params, list) else [params] if params else []
    if not rows:
        if not scope.restricted:
            return
        raise CompanyAccessError(
            "bulk INSERT of company rows must pass parameter dictionaries so that the "
            "company can be checked; add objects to the session instead"
        )
    stamped = []
    for row in rows:
        company = row.get("company_id")
        if company is None:
            if scope.company_id is None:
                raise CompanyRequiredError("no current company to stamp the new rows with")
            row = {**row, "company_id": scope.company_id}  # the caller's dict left as it was
        elif not scope.allows(company):
            raise CompanyAccessError(f"company {company} is not allowed")
        stamped.append(row)
    if scope.restricted:
        checks = _ReferenceChecks(state.session, scope)
        for key, target, target_col in _company_references(entity):
            values = {row.get(key) for row in stamped} - {None}
            if target is entity:  # rows of this statement, in an allowed company (above)
                values -= {row.get(target_col) for row in stamped}
            for value in values:
                checks.add(entity, key, target, target_col, value)
        checks.run()
    state.parameters = stamped if isinstance(params, list) else stamped[0]


def update_values(statement: Any) -> dict[str, Any]:
    """The ``SET`` of an ``update()`` statement, by column name (its ``.values(...)``)."""
    return {
        getattr(key, "key", key): value
        for key, value in (getattr(statement, "_values", None) or {}).items()
    }


def _check_bulk_update(state: ORMExecuteState, scope: Scope) -> None:
    """An ORM bulk UPDATE may not move rows into a company the caller may not use."""
    if _company_entity(state) is None:
        return
    values: list[tuple[str, Any]] = list(update_values(state.statement).items())
    params = state.parameters
    for row in params if isinstance(params, list) else [params] if params else []:
        values.extend(row.items())
    for key, value in values:
        if key != "company_id":
            continue
        value = getattr(value, "value", value)
        if not isinstance(value, int) or not scope.allows(value):
            raise CompanyAccessError(f"company {value!r} is not allowed")


# --------------------------------------------------------------------------- writing

_fk_targets: dict[str, type | None] = {}


def _mapped_class_of_table(table_name: str) -> type | None:
    if table_name not in _fk_targets:
        found = None
        for mapper in Base.registry.mappers:
            if (
                getattr(mapper, "local_table", None) is not None
                and mapper.local_table.name == table_name
            ):
                found = mapper.class_
                break
        _fk_targets[table_name] = found
    return _fk_targets[table_name]


@functools.lru_cache(maxsize=1024)  # per model class: runs for every new row of a flush
def _company_references(cls: type) -> tuple[tuple[str, type, str], ...]:
    """(attribute key, target class, target column key) of FKs pointing at company rows."""
    mapper = inspect(cls)
    found = []
    for prop in mapper.column_attrs:
        for column in prop.columns:
            for fk in getattr(column, "foreign_keys", ()):
                target = _mapped_class_of_table(fk.column.table.name)
                if target is not None and issubclass(target, CompanyMixin):
                    found.append((prop.key, target, fk.column.key))
    return tuple(found)


def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    scope = current_scope()
    checks = _ReferenceChecks(session, scope)
    with session.no_autoflush:
        for obj in session.new:
            if isinstance(obj, AuthorMixin) and scope.user_id is not None:
                if obj.created_by_id is None:
                    obj.created_by_id = scope.user_id
                obj.updated_by_id = scope.user_id
            if isinstance(obj, CompanyMixin):
                _stamp(obj, scope)
                _check_references(checks, obj, scope, new=True)
        for obj in session.dirty:
            if not session.is_modified(obj, include_collections=False):
                continue
            if isinstance(obj, AuthorMixin) and scope.user_id is not None:
                obj.updated_by_id = scope.user_id
            if isinstance(obj, CompanyMixin):
                if not scope.allows(obj.company_id):
                    raise CompanyAccessError(
                        f"company {obj.company_id} is not allowed for {type(obj).__name__}"
                    )
                _check_references(checks, obj, scope, new=False)
        checks.run()
        if scope.restricted:
            for obj in session.deleted:
                if isinstance(obj, CompanyMixin) and not scope.allows(obj.company_id):
                    raise CompanyAccessError(f"company {obj.company_id} is not allowed")


def _stamp(obj: Any, scope: Scope) -> None:
    if obj.company_id is None:
        if scope.company_id is None:
            raise CompanyRequiredError(
                f"{type(obj).__name__} needs a company: none was given and there is no "
                "current company"
            )
        obj.company_id = scope.company_id
    elif not scope.allows(obj.company_id):
        raise CompanyAccessError(
            f"company {obj.company_id} is not allowed for {type(obj).__name__}"
        )


class _ReferenceChecks:
    """The foreign-key values of one flush that must point at rows the caller can see.

    Values are gathered for the whole flush and looked up with one ``IN`` query per target
    column (in chunks), so that a flush of a few hundred imported rows costs a few queries,
    not one per row and reference. A target already in the session's identity map is
    checked there, without a query.
    """

    CHUNK = 500

    def __init__(self, session: Session, scope: Scope) -> None:
        self.session, self.scope = session, scope
        self.wanted: dict[tuple[type, str], dict[Any, tuple[str, str]]] = {}

    def add(self, owner: type, key: str, target: type, target_col: str, value: Any) -> None:
        if value in self.wanted.get((target, target_col), ()):
            return
        if target_col == "id":
            known = self.session.identity_map.get(
                inspect(target).identity_key_from_primary_key((value,))
            )
            if known is not None and not inspect(known).deleted:
                if not self.scope.allows(known.company_id):
                    raise InvisibleReferenceError(owner.__name__, key, value)
                return
        self.wanted.setdefault((target, target_col), {}).setdefault(value, (owner.__name__, key))

    def run(self) -> None:
        for (target, target_col), values in self.wanted.items():
            column = getattr(target, target_col)
            pending = list(values)
            for start in range(0, len(pending), self.CHUNK):
                chunk = pending[start : start + self.CHUNK]
                visible = set(
                    self.session.scalars(
                        select(column).where(in_values(self.session, column, chunk))
                    )
                )
                for value in chunk:
                    if value not in visible:
                        raise InvisibleReferenceError(*values[value], value)
        self.wanted.clear()


def _check_references(checks: _ReferenceChecks, obj: Any, scope: Scope, *, new: bool) -> None:
    """A company row may only point at rows the caller can see (looked up by ``checks``)."""
    if not scope.restricted:
        return
    state = inspect(obj)
    mapper = state.mapper
    for key, target, target_col in _company_references(type(obj)):
        # ``getattr``/``get_history``: ``state.attrs`` builds a view of every attribute per call.
        value = getattr(obj, key) if new else None
        if not new:
            history = get_history(obj, key)
            if not history.added:
                continue
            value = history.added[0]
        if value is None:
            continue
        checks.add(mapper.class_, key, target, target_col, value)
    # references given as objects (part.gadget = gadget) before the FK columns are synced
    for rel in mapper.relationships:
        if rel.direction.name != "MANYTOONE" or not issubclass(rel.mapper.class_, CompanyMixin):
            continue
        for target_obj in [getattr(obj, rel.key)] if new else get_history(obj, rel.key).added:
            if target_obj is None:
                continue
            target_company = target_obj.company_id
            if target_company is None and inspect(target_obj).pending:
                target_company = scope.company_id
            if not scope.allows(target_company):
                raise InvisibleReferenceError(mapper.class_.__name__, rel.key, "(object)")


_installed = False


def init_tenancy(_db: Any = None) -> None:
    """Install the listeners on every ``Session`` (idempotent; the argument is unused)."""
    global _installed
    if _installed:
        return
    event.listen(Session, "do_orm_execute", _on_execute)
    event.listen(Session, "before_flush", _before_flush)
    _installed = True


def allowed_company_filter(column: Any) -> Any:
    """A WHERE clause restricting a plain ``company_id`` column to the current scope.

    For tables that are not ``CompanyMixin`` models but keep a company id (the audit log).
    """
    from sqlalchemy import true

    scope = current_scope()
    if not scope.restricted:
        return true()
    return column.in_(tuple(sorted(scope.company_ids or ())))


init_tenancy()
