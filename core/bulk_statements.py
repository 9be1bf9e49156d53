"""ORM bulk ``INSERT``, ``UPDATE`` and ``DELETE`` statements on audited models, kept to the flush's rules.

``session.execute(update(Contact).where(Contact.owner_id == 3).values(owner_id=4))`` changes
rows without the unit of work, so the flush listeners never see it: without this module the
rows would keep their ``version`` (a form opened before the change would overwrite it without
a conflict), name nobody in ``updated_by_id``, and leave no trace in the audit trail. A
``do_orm_execute`` listener gives such statements, on every audited model (see
``core.audit.is_audited``), what a flush gives changed objects:

* ``UPDATE``: ``version`` goes up by one and ``updated_by_id`` names the current user (unless
  the statement sets them itself; ``updated_at`` already follows from the column's
  ``onupdate``), and every row that changed gets an ``update`` entry with its old and new values;
* ``DELETE``: every deleted row gets a ``delete`` entry with the values it had;
* ``INSERT`` (``session.execute(insert(Contact), [{...}, ...])``, what ``core.bulk.insert_new``
  runs): each row gets its id (drawn as ``core.bulk.new_ids`` does), its column defaults, the
  current user as author, and a ``create`` entry with its values; the company is stamped and
  the references checked by ``core.tenancy``. An insert without parameter rows
  (``.values(...)``, ``from_select``) cannot be audited and is refused.

Both forms are covered: a statement with a ``WHERE`` clause (the rows are the ones it matches,
under the caller's company scope like the statement itself), and the ORM's "bulk update by
primary key" (``session.execute(update(Contact), [{"id": 1, ...}, ...])``). The rows are read
before the statement runs and, for an update, again afterwards (so values computed in SQL,
``count = count + 1``, are recorded as stored); that is two extra queries per statement and
the affected rows held in memory once, the price of an audited bulk change.

Raw SQL (``text()``, Core statements on ``Table`` objects) stays outside: it bypasses the ORM
entirely, and so the trail. Statements that must not be audited (data migrations rewriting
a column on every row, say) pass ``execution_options(mosaic_audit=False)``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.engine.result import null_result
from sqlalchemy.orm import Mapper, ORMExecuteState, Session

from core.audit import BOOKKEEPING, CREATE_SKIP, audit_entry, is_audited, recorded_keys, to_json
from core.bulk_write import write_rows
from core.db import AuthorMixin, VersionMixin, in_values, utcnow
from core.models import AuditLog
from core.tenancy import current_scope, update_values


def _on_execute(state: ORMExecuteState) -> Any:
    if not (state.is_update or state.is_delete or state.is_insert):
        return None
    if state.execution_options.get("mosaic_audit") is False:
        return None
    mapper = state.bind_mapper
    if mapper is None or not is_audited(mapper.class_):
        return None
    if state.is_insert:
        return _insert(state, mapper)
    cls = mapper.class_
    recorded = recorded_keys(cls, BOOKKEEPING | {"id"})
    by_key = isinstance(state.parameters, list) and state.is_update
    before = _rows_before(state, cls, recorded, by_key)
    if not before:
        return None  # nothing matches: nothing to stamp or record
    if state.is_update:
        _stamp(state, cls, before, by_key)
    result = state.invoke_statement()
    scope = current_scope()
    now = utcnow()
    if state.is_delete:
        entries = [
            audit_entry(cls, row, "delete", _deleted(cls, row), scope.user_id, now)
            for row in before.values()
        ]
    else:
        after = _read(state.session, cls, recorded, list(before))
        entries = []
        for key, old in before.items():
            new = after.get(key)
            if new is None:
                continue
            if changes := _changed(old, new, recorded):
                entries.append(audit_entry(cls, new, "update", changes, scope.user_id, now))
    if entries:
        write_rows(state.session.connection(), AuditLog.__table__, entries)
    return result


def _insert(state: ORMExecuteState, mapper: Mapper) -> Any:
    """Fill in what a flush would (id, defaults, authors), run the insert, record the rows."""
    params = state.parameters
    rows = params if isinstance(params, list) else [params] if params else []
    if not rows or getattr(state.statement, "select", None) is not None:
        raise TypeError(
            f"an ORM INSERT of {mapper.class_.__name__} rows must pass them as parameter "
            "dictionaries, so that they can be audited (or opt out with "
            "execution_options(mosaic_audit=False))"
        )
    filled = [_filled(mapper, row) for row in rows]
    key = mapper.get_property_by_column(mapper.primary_key[0]).key
    missing = [row for row in filled if row.get(key) is None]
    from core.bulk import new_ids  # core.bulk builds on this module's statements

    ids = new_ids(state.session, mapper, len(missing))
    if ids is None and missing:
        raise TypeError(f"cannot draw ids for {mapper.class_.__name__}: pass them in the rows")
    for row, new_id in zip(missing, ids or (), strict=True):
        row[key] = new_id
    scope_user = current_scope().user_id
    author = scope_user if issubclass(mapper.class_, AuthorMixin) else None
    if author is not None:  # as a flush: the creator unless given, the last editor always
        for row in filled:
            if row.get("created_by_id") is None:
                row["created_by_id"] = author
            row["updated_by_id"] = author
    table_keys = _table_keys(mapper)
    same_columns = all(row.keys() == filled[0].keys() for row in filled)  # (server defaults)
    if table_keys is not None and same_columns and _plain_insert(state.statement):
        # What the ORM's bulk insert would send, without its per-row bookkeeping (a tenth of
        # an import's insert time): the rows have every column and their ids already.
        rows = (
            filled
            if not table_keys
            else [{table_keys.get(k, k): v for k, v in r.items()} for r in filled]
        )
        write_rows(state.session.connection(), mapper.local_table, rows)
        result = null_result()  # what the ORM answers a bulk INSERT without RETURNING
    else:
        state.parameters = filled if isinstance(params, list) else filled[0]
        # Every row has every column now: NULLs are sent, not left out: one executemany.
        state.update_execution_options(render_nulls=True)
        result = state.invoke_statement()
    cls, now = mapper.class_, utcnow()
    recorded = recorded_keys(cls, CREATE_SKIP)
    entries = [
        audit_entry(
            cls,
            row,
            "create",
            {
                k: {"old": None, "new": to_json(v)}
                for k in recorded
                if (v := row.get(k)) is not None
            },
            row.get("created_by_id") or scope_user,
            now,
        )
        for row in filled
    ]
    write_rows(state.session.connection(), AuditLog.__table__, entries)
    return result


@functools.cache
def _table_keys(mapper: Mapper) -> dict[str, str] | None:
    """Attribute key -> column key where they differ (``{}``: nowhere), for a class mapped
    to one table (``None`` for the others)."""
    if len(mapper.tables) != 1:
        return None
    return {p.key: p.columns[0].key for p in mapper.column_attrs if p.key != p.columns[0].key}


def _plain_insert(statement: Any) -> bool:
    """An ``insert(Model)`` with nothing but its rows: no RETURNING, values or options."""
    return (
        not statement._returning
        and not getattr(statement, "_values", None)
        and not getattr(statement, "_multi_values", None)
        and statement.select is None
        and not statement._post_values_clause
        and not statement._hints
        and not statement._prefixes
    )


def _filled(mapper: Mapper, row: dict[str, Any]) -> dict[str, Any]:
    """The row with every column: given, else its Python default, else NULL.

    Columns with only a server default are left out. Every row gets the same keys, so that
    the ORM sends them as one ``executemany``, and the audit entry sees the stored values.
    """
    out = dict(row)
    for key, default in _defaults(mapper):
        if out.get(key) is None:  # a flush also applies the default to an explicit None
            if default is _SERVER:
                out.pop(key, None)
                continue
            out[key] = default(None) if callable(default) else default
    return out


_SERVER = object()


@functools.cache
def _defaults(mapper: Mapper) -> tuple[tuple[str, Any], ...]:
    """(attribute key, default) per column: a value, a callable, ``None`` or ``_SERVER``."""
    out = []
    for prop in mapper.column_attrs:
        column = prop.columns[0]
        if column.primary_key:
            continue
        default = column.default
        if default is not None and default.is_scalar:
            out.append((prop.key, default.arg))
        elif default is not None and default.is_callable:
            out.append((prop.key, default.arg))  # wrapped by SQLAlchemy to take a context
        elif default is not None or column.server_default is not None:
            out.append((prop.key, _SERVER))
        else:
            out.append((prop.key, None))
    return tuple(out)


def _selected(cls: type, recorded: Sequence[str]) -> list[Any]:
    extra = ["company_id"] if hasattr(cls, "company_id") else []
    if issubclass(cls, VersionMixin):
        extra.append("version")
    keys = dict.fromkeys(["id", *recorded, *extra])
    return [getattr(cls, key) for key in keys]


def _rows_before(
    state: ORMExecuteState, cls: type, recorded: Sequence[str], by_key: bool
) -> dict[int, dict[str, Any]]:
    """The rows the statement will change, by id, read under the statement's own scope."""
    if by_key:
        ids = [params.get("id") for params in state.parameters]
        if any(i is None for i in ids):
            return {}  # not a bulk update by primary key SQLAlchemy accepts; let it say so
        return _read(state.session, cls, recorded, ids, scoped=True)
    stmt = select(*_selected(cls, recorded))
    where = state.statement.whereclause
    if where is not None:
        stmt = stmt.where(where)
    rows = state.session.execute(stmt, state.parameters or {})
    return {row.id: dict(row._mapping) for row in rows}


def _read(
    session: Session, cls: type, recorded: Sequence[str], ids: list[int], *, scoped: bool = False
) -> dict[int, dict[str, Any]]:
    """Rows by id; after the statement without the company filter (a row may have moved)."""
    out: dict[int, dict[str, Any]] = {}
    options = {} if scoped else {"mosaic_unscoped": True}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        stmt = select(*_selected(cls, recorded)).where(in_values(session, cls.id, chunk))
        for row in session.execute(stmt.execution_options(**options)):
            out[row.id] = dict(row._mapping)
    return out


def _stamp(
    state: ORMExecuteState, cls: type, before: dict[int, dict[str, Any]], by_key: bool
) -> None:
    """What a flush would set on a changed object: the next version, the user who changed it."""
    user_id = current_scope().user_id
    author = issubclass(cls, AuthorMixin) and user_id is not None
    versioned = issubclass(cls, VersionMixin)
    if by_key:
        stamped = []
        for params in state.parameters:
            params = dict(params)
            if versioned and "version" not in params and params["id"] in before:
                # The ORM takes a given version for the one the caller holds: it checks it
                # in the WHERE clause and writes the next. Without one, the current holds.
                params["version"] = before[params["id"]]["version"]
            if author:
                params.setdefault("updated_by_id", user_id)
            stamped.append(params)
        state.parameters = stamped
        return
    given = set(update_values(state.statement))
    values: dict[str, Any] = {}
    if versioned and "version" not in given:
        values["version"] = cls.version + 1
    if author and "updated_by_id" not in given:
        values["updated_by_id"] = user_id
    if values:
        state.statement = state.statement.values(**values)


def _changed(
    old: dict[str, Any], new: dict[str, Any], recorded: Sequence[str]
) -> dict[str, dict[str, Any]]:
    return {
        key: {"old": to_json(old.get(key)), "new": to_json(new.get(key))}
        for key in recorded
        if old.get(key) != new.get(key)
    }


def _deleted(cls: type, row: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What a flush records of a deleted object: its values, bookkeeping left out."""
    return {
        key: {"old": to_json(row[key]), "new": None}
        for key in recorded_keys(cls, CREATE_SKIP)
        if row.get(key) is not None
    }


_installed = False


def init_bulk_statements() -> None:
    """Install the listener on every ``Session`` (idempotent; after the company scoping's)."""
    global _installed
    if _installed:
        return
    import core.tenancy  # noqa: F401  - its do_orm_execute (company criteria) must run first

    event.listen(Session, "do_orm_execute", _on_execute)
    _installed = True


init_bulk_statements()
