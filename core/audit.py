"""The audit trail: every create, update and delete of a business record, in the same transaction.

Session listeners (installed on every ``Session``) look at each flush:

* ``before_flush`` takes the old and new values of changed and deleted records (the old
  values are only known before the flush writes them);
* ``after_flush`` adds the new records, whose ids exist only then, and writes all the rows
  into ``core_audit_log`` on the flush's own connection. So the trail commits and rolls back
  with the change it describes: no change without its record, no record without its change.

Recorded: the table, the record id, the action (``create``/``update``/``delete``), the user
(from ``core.tenancy.current_scope()``), the record's company and, per field, the old and new
values. Never recorded: secrets (any field whose name contains ``password``, ``secret`` or
``token``, plus the model's ``__audit_exclude__``) and bookkeeping columns that change on every
write (``updated_at``, ``updated_by_id``, ``version``).

What is audited: every model with ``BusinessMixin``, and any other model that sets
``__audited__ = True``; a business model can opt out with ``__audited__ = False``.
ORM bulk ``update()``/``delete()`` statements on these models are stamped and audited too,
row by row (``core.bulk_statements``). Not audited: raw SQL and Core statements on tables,
which bypass the ORM: services that must be audited change objects or use ORM statements.

Business actions that are not a plain create, update or delete (a merge, a "forget this
person", a conversion) are recorded by the service that performs them, with
:func:`record_action`::

    audit.record_action(session, target, "merge", {"merged": {"id": 7, "name": "ACME"}})
    audit.record_action(session, (Contact, 7), "forget", {"erased": {...}}, user_id=admin_id)

The record is a loaded object or ``(model class or table name, id)`` (for one that is gone).
The entry goes into the same trail, in the same transaction, under the same rules: secrets
are left out (at any depth of a value), values are made JSON-safe by :func:`to_json`, the
user defaults to the current scope's and the company to the record's. ``changes`` maps a
name to an ``{"old": ..., "new": ...}`` pair or to a plain value (recorded as the new value),
so the history shows an action like any other entry. The actions of the listeners
(``create``/``update``/``delete``) are refused: they would pass a note off as a field change.
When a person's data must be erased, :func:`redact` overwrites what the trail recorded of it.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import event, insert, inspect, select
from sqlalchemy.orm import Session

from core.bulk_write import write_rows
from core.db import Base, BusinessMixin, utcnow
from core.models import AuditLog, User
from core.tenancy import allowed_company_filter, current_scope

BOOKKEEPING = frozenset({"updated_at", "updated_by_id", "version"})
CREATE_SKIP = BOOKKEEPING | {"id", "created_at", "created_by_id"}
SECRET_MARKERS = ("password", "secret", "token", "api_key", "apikey", "private_key")
_PENDING_KEY = "mosaic_audit_pending"


def is_audited(obj_or_cls: Any) -> bool:
    cls = obj_or_cls if isinstance(obj_or_cls, type) else type(obj_or_cls)
    flag = getattr(cls, "__audited__", None)
    if flag is not None:
        return bool(flag)
    return issubclass(cls, BusinessMixin)


def is_secret(cls: type, key: str) -> bool:
    lowered = key.lower()
    if key in getattr(cls, "__audit_exclude__", ()):
        return True
    return any(marker in lowered for marker in SECRET_MARKERS)


_JSON_SCALARS = (bool, int, float, str)


def to_json(value: Any) -> Any:
    """A JSON-safe form of a column value (Decimal as string so no precision is lost)."""
    if value is None or type(value) in _JSON_SCALARS:  # most values: one look-up, no isinstance
        return value
    if isinstance(value, _JSON_SCALARS):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return to_json(value.value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(bytes(value))} bytes>"
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    return str(value)


def _columns(obj: Any) -> list[str]:
    return [prop.key for prop in inspect(obj).mapper.column_attrs]


@functools.lru_cache(maxsize=1024)
def _recorded_keys(cls: type, skip: frozenset[str], excluded: frozenset[str]) -> tuple[str, ...]:
    """The column attributes of ``cls`` a snapshot records (per class: flushes are hot).

    ``excluded`` is the class's ``__audit_exclude__``, part of the key so a change is seen.
    """
    return tuple(
        prop.key
        for prop in inspect(cls).column_attrs
        if prop.key not in skip and not is_secret(cls, prop.key)
    )


def recorded_keys(cls: type, skip: frozenset[str]) -> tuple[str, ...]:
    """The column attributes of ``cls`` an entry records: not ``skip``, not secret."""
    return _recorded_keys(cls, skip, frozenset(getattr(cls, "__audit_exclude__", ())))


def _snapshot(obj: Any, skip: frozenset[str]) -> dict[str, dict[str, Any]]:
    keys = recorded_keys(type(obj), skip)
    values = inspect(obj).dict
    return {key: values.get(key) for key in keys}


def _update_changes(obj: Any) -> dict[str, dict[str, Any]]:
    state = inspect(obj)
    cls = type(obj)
    changes = {}
    for key in _columns(obj):
        if key in BOOKKEEPING or is_secret(cls, key):
            continue
        history = state.attrs[key].history
        if not history.added and not history.deleted:
            continue
        old = history.deleted[0] if history.deleted else None  # None: old value never loaded
        new = history.added[0] if history.added else None
        if old == new:
            continue
        changes[key] = {"old": to_json(old), "new": to_json(new)}
    return changes


@dataclass
class _Pending:
    creates: list[Any] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)


def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    scope = current_scope()
    pending = session.info[_PENDING_KEY] = _Pending()
    now = utcnow()
    for obj in session.new:
        if is_audited(obj):
            pending.creates.append(obj)
    for obj in session.dirty:
        if not is_audited(obj) or not session.is_modified(obj, include_collections=False):
            continue
        changes = _update_changes(obj)
        if changes:
            pending.rows.append(_row(obj, "update", changes, scope.user_id, now))
    for obj in session.deleted:
        if is_audited(obj):
            values = _snapshot(obj, CREATE_SKIP)
            changes = {
                k: {"old": to_json(v), "new": None} for k, v in values.items() if v is not None
            }
            pending.rows.append(_row(obj, "delete", changes, scope.user_id, now))


def _row(obj: Any, action: str, changes: dict, user_id: int | None, now: dt.datetime) -> dict:
    return audit_entry(type(obj), obj, action, changes, user_id, now)


def audit_entry(
    cls: type,
    record: Any,
    action: str,
    changes: dict[str, Any],
    user_id: int | None,
    now: dt.datetime,
) -> dict[str, Any]:
    """A ``core_audit_log`` row for a record given as an object or as a mapping of its values."""
    values = record if isinstance(record, Mapping) else None

    def get(key: str) -> Any:
        return values.get(key) if values is not None else getattr(record, key, None)

    return {
        "table_name": cls.__table__.name,
        "record_id": get("id"),
        "action": action,
        "changes": changes,
        "user_id": user_id,
        "company_id": get("company_id"),
        "at": now,
    }


def _after_flush(session: Session, _context: Any) -> None:
    pending: _Pending | None = session.info.pop(_PENDING_KEY, None)
    if pending is None:
        return
    scope = current_scope()
    now = utcnow()
    rows = list(pending.rows)
    for obj in pending.creates:
        if obj.id is None or obj in session.deleted:
            continue
        values = _snapshot(obj, CREATE_SKIP)
        changes = {k: {"old": None, "new": to_json(v)} for k, v in values.items() if v is not None}
        user_id = getattr(obj, "created_by_id", None) or scope.user_id
        rows.append(_row(obj, "create", changes, user_id, now))
    if rows:
        write_rows(session.connection(), AuditLog.__table__, rows)


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)


_installed = False


def init_audit() -> None:
    """Install the listeners on every ``Session`` (idempotent)."""
    global _installed
    if _installed:
        return
    import core.tenancy  # noqa: F401  - its before_flush (stamping, authors) must run first

    event.listen(Session, "before_flush", _before_flush)
    event.listen(Session, "after_flush", _after_flush)
    event.listen(Session, "after_soft_rollback", lambda s, _t: _after_rollback(s))
    _installed = True


# --------------------------------------------------------------------------- business actions

LISTENER_ACTIONS = frozenset({"create", "update", "delete"})
ACTION_MAX_LENGTH: int = AuditLog.__table__.c.action.type.length


def record_action(
    session: Session,
    record: Any,
    action: str,
    changes: Mapping[str, Any] | None = None,
    *,
    user_id: int | None = None,
    company_id: int | None = None,
) -> int:
    """Record a business action on a record in the audit trail, in the session's transaction.

    ``record`` is a loaded object (flushed first if it is pending, so it has its id) or
    ``(model class or table name, id)``. ``changes`` maps names to ``{"old", "new"}`` pairs
    or to plain values (recorded as new values); secrets are dropped and values made
    JSON-safe as for the listeners' entries. ``user_id`` defaults to the current scope's
    user, ``company_id`` to the record's company (read from its row for the tuple form, so
    pass it for a record already deleted: without a company only unrestricted callers see
    the entry). Pending changes are flushed before the entry is written, so the trail lists
    them before the action that caused them. Returns the new entry's id.
    """
    if not isinstance(action, str) or not action.strip():
        raise ValueError("An audit action needs a name.")
    if action in LISTENER_ACTIONS:
        raise ValueError(
            f"{action!r} entries are written by the audit listeners; name the business action."
        )
    if len(action) > ACTION_MAX_LENGTH:
        raise ValueError(f"Audit action names have at most {ACTION_MAX_LENGTH} characters.")
    session.flush()
    cls, table_name, record_id, record_company = _action_target(session, record)
    row = {
        "table_name": table_name,
        "record_id": record_id,
        "action": action,
        "changes": _action_changes(cls, changes or {}),
        "user_id": user_id if user_id is not None else current_scope().user_id,
        "company_id": company_id if company_id is not None else record_company,
        "at": utcnow(),
    }
    result = session.connection().execute(insert(AuditLog.__table__), row)
    return int(result.inserted_primary_key[0])


def _action_target(session: Session, record: Any) -> tuple[type, str, int, int | None]:
    """``(class, table name, id, company id)`` of what :func:`record_action` was given."""
    if isinstance(record, tuple):
        if len(record) != 2 or not isinstance(record[1], int) or isinstance(record[1], bool):
            raise ValueError("Give a record, or (model class or table name, id).")
        what, record_id = record
        if isinstance(what, str):
            table = Base.metadata.tables.get(what)
            if table is None:
                raise ValueError(f"No table {what!r} is known to the models.")
            cls = _model_of(what)
        else:
            cls, table = what, what.__table__
        company = None
        if "company_id" in table.c:  # a Core read: no company filter hides the row's company
            company = session.execute(
                select(table.c.company_id).where(table.c.id == record_id)
            ).scalar()
        return cls, table.name, record_id, company
    state = inspect(record, raiseerr=False)
    if state is None:
        raise ValueError("Give a record, or (model class or table name, id).")
    if state.transient or record.id is None:
        raise ValueError("Add the record to the session before recording an action on it.")
    return type(record), type(record).__table__.name, record.id, getattr(record, "company_id", None)


def _model_of(table_name: str) -> type:
    """The mapped class of a table (its ``__audit_exclude__`` counts), else ``object``."""
    for mapper in Base.registry.mappers:
        if getattr(mapper.local_table, "name", None) == table_name:
            return mapper.class_
    return object


def _action_changes(cls: type, changes: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for key, value in changes.items():
        name = str(key)
        if is_secret(cls, name):
            continue
        if isinstance(value, Mapping) and set(value) == {"old", "new"}:
            out[name] = {"old": _scrub(to_json(value["old"])), "new": _scrub(to_json(value["new"]))}
        else:
            out[name] = {"old": None, "new": _scrub(to_json(value))}
    return out


def _scrub(value: Any) -> Any:
    """A JSON value without the secret-looking keys of its objects, at any depth."""
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items() if not is_secret(object, k)}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


ERASED = "[erased]"


def redact(
    session: Session,
    table_name: str,
    record_ids: Sequence[int],
    fields: Iterable[str] | None = None,
    *,
    placeholder: str = ERASED,
) -> int:
    """Overwrite the recorded values of ``fields`` (all when ``None``) of some records.

    For erasure on request (GDPR art. 17): the trail must not keep what the record no longer
    does. Every old or new value that was set becomes ``placeholder``; empty ones stay empty,
    and the ``{"old", "new"}`` shape stays, so the history still shows that the field
    changed and when. Entries of every action are covered, in the session's transaction.
    Returns how many entries changed.
    """
    if not record_ids:
        return 0
    wanted = None if fields is None else frozenset(fields)
    changed = 0
    rows = session.scalars(
        select(AuditLog).where(
            AuditLog.table_name == table_name, AuditLog.record_id.in_(list(record_ids))
        )
    ).all()
    for row in rows:
        before = row.changes or {}
        after = {
            key: _blanked(change, placeholder) if wanted is None or key in wanted else change
            for key, change in before.items()
        }
        if after != before:
            row.changes = after
            changed += 1
    session.flush()
    return changed


def _blanked(change: Any, placeholder: str) -> Any:
    if isinstance(change, Mapping):
        return {k: (placeholder if v not in (None, "") else v) for k, v in change.items()}
    return placeholder if change not in (None, "") else change


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: Any
    new: Any


@dataclass(frozen=True)
class HistoryEntry:
    """One audited change of one record, as shown in the API and the history panel."""

    id: int
    at: dt.datetime
    action: str
    user_id: int | None
    user_name: str | None
    changes: tuple[FieldChange, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "action": self.action,
            "user": None if self.user_id is None else {"id": self.user_id, "name": self.user_name},
            "changes": {c.field: {"old": c.old, "new": c.new} for c in self.changes},
        }


def history(
    session: Session, table_name: str, record_id: int, *, limit: int = 500
) -> list[HistoryEntry]:
    """The audit entries of one record, oldest first, restricted to the caller's companies.

    Call it after loading the record through the ORM (which proves the caller may see it);
    the company filter here also keeps the history of a deleted record private.
    """
    rows = session.execute(
        select(AuditLog, User.name, User.email)
        .outerjoin(User, User.id == AuditLog.user_id)
        .where(
            AuditLog.table_name == table_name,
            AuditLog.record_id == record_id,
            allowed_company_filter(AuditLog.company_id),
        )
        .order_by(AuditLog.at, AuditLog.id)
        .limit(limit)
    ).all()
    entries = []
    for log, name, email in rows:
        changes = tuple(
            FieldChange(key, value.get("old"), value.get("new"))
            for key, value in sorted((log.changes or {}).items())
            if isinstance(value, dict)
        )
        entries.append(
            HistoryEntry(log.id, log.at, log.action, log.user_id, name or email, changes)
        )
    return entries


def history_of(session: Session, obj: Any, *, limit: int = 500) -> list[HistoryEntry]:
    """:func:`history` for a loaded record."""
    return history(session, type(obj).__table__.name, obj.id, limit=limit)


init_audit()

# Bulk UPDATE/DELETE statements are audited by a listener built on this module's helpers.
import core.bulk_statements  # noqa: E402, F401
