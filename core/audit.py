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
Not audited: ORM bulk ``update()``/``delete()`` statements and raw SQL, which bypass the unit
of work: services that must be audited change objects, not statements.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import event, insert, inspect, select
from sqlalchemy.orm import Session

from core.db import BusinessMixin, utcnow
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


def to_json(value: Any) -> Any:
    """A JSON-safe form of a column value (Decimal as string so no precision is lost)."""
    if value is None or isinstance(value, bool | int | float | str):
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


def _snapshot(obj: Any, skip: frozenset[str]) -> dict[str, dict[str, Any]]:
    state = inspect(obj)
    cls = type(obj)
    values = {}
    for key in _columns(obj):
        if key in skip or is_secret(cls, key):
            continue
        values[key] = state.dict.get(key)
    return values


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
    return {
        "table_name": type(obj).__table__.name,
        "record_id": obj.id,
        "action": action,
        "changes": changes,
        "user_id": user_id,
        "company_id": getattr(obj, "company_id", None),
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
        session.connection().execute(insert(AuditLog.__table__), rows)


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
