"""Generic create / read / update / delete of a resource's records (no Flask here).

The REST endpoints, the pages and CSV import all call these functions, so a record created
through any door passes the same checks. They flush but never commit: the caller owns the
transaction. Queries go through the given ORM session so that company scoping and the audit
trail (ORM-level, in ``core.tenancy`` / ``core.audit``) apply to them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from core.db import Base, utcnow
from core.resources.declaration import Action, BusinessError, Child, Resource, humanize
from core.resources.query import eager_options
from core.resources.validation import ValidationFailed, column_value_error


class RecordNotFound(LookupError):
    """No record with this id exists, or the current user may not see it (same answer)."""


class VersionRequired(ValueError):
    """An update did not say which version of the record it was based on."""


class StaleVersion(Exception):
    """The record changed since the client read it (optimistic locking)."""

    def __init__(self, current: int | None, sent: int | None) -> None:
        super().__init__(f"version {sent} is stale; the record is at version {current}")
        self.current, self.sent = current, sent


@dataclass(frozen=True)
class Reference:
    """Rows of another table that still point at a record."""

    label: str
    table: str
    column: str
    count: int


class StillReferenced(Exception):
    """The record cannot be deleted while other records point at it."""

    def __init__(self, message: str, references: list[Reference]) -> None:
        super().__init__(message)
        self.message, self.references = message, references


def get_record(session: Session, resource: Resource, record_id: int, *, fresh: bool = False) -> Any:
    """The record with its declared relations loaded, or ``RecordNotFound``.

    ``fresh`` reloads it from the database even if the session holds it (after a write, so
    that the answer shows what was stored: ``10.00``, not the ``10`` that was sent).
    """
    id_column = resource.mapper.columns["id"]
    if column_value_error(id_column.type, record_id):  # beyond the column's range: cannot exist
        raise RecordNotFound(f"{resource.singular} {record_id} does not exist.")
    stmt = select(resource.model).where(id_column == record_id)
    stmt = stmt.options(*eager_options(resource, detail=True))
    if fresh:
        stmt = stmt.execution_options(populate_existing=True)
    record = session.execute(stmt).unique().scalar_one_or_none()
    if record is None:
        raise RecordNotFound(f"{resource.singular} {record_id} does not exist.")
    return record


def check_version(resource: Resource, record: Any, version: int | None) -> None:
    if not resource.has_version:
        return
    if version is None:
        raise VersionRequired(
            "Send the version of the record you edited, as 'version' in the body or in If-Match."
        )
    if version != record.version:
        raise StaleVersion(record.version, version)


def _assign(record: Any, data: Mapping[str, Any]) -> bool:
    changed = False
    for key, value in data.items():
        if getattr(record, key, None) != value:
            setattr(record, key, value)
            changed = True
    return changed


def apply_children(
    resource: Resource, record: Any, child: Child, rows: list[dict[str, Any]]
) -> bool:
    """Make the record's lines match ``rows``: update by id, add those without, drop the rest."""
    model = resource.child_model(child)
    current = list(getattr(record, child.name))
    existing = {line.id: line for line in current if line.id is not None}
    errors: dict[int, dict[str, list[str]]] = {}
    seen: set[int] = set()
    result: list[Any] = []
    changed = False
    company_id = getattr(record, "company_id", None)
    for index, raw in enumerate(rows):
        row = dict(raw)
        line_id = row.pop("id", None)
        if line_id is not None:
            line = existing.get(line_id)
            if line is None or line_id in seen:
                errors[index] = {
                    "id": [
                        f"No line {line_id} on this {resource.singular.lower()} (or given twice)."
                    ]
                }
                continue
            seen.add(line_id)
            changed = _assign(line, row) or changed
        else:
            line = model()
            if company_id is not None and hasattr(line, "company_id"):
                line.company_id = company_id
            _assign(line, row)
            changed = True
        result.append(line)
    if errors:
        raise ValidationFailed({child.name: errors})
    if len(seen) != len(existing):
        changed = True
    if changed or [id(x) for x in result] != [id(x) for x in current]:
        setattr(record, child.name, result)
    return changed


def touch(resource: Resource, record: Any) -> None:
    """Force an UPDATE of the parent row so that its version moves when only lines changed."""
    if "updated_at" in resource.mapper.columns:
        record.updated_at = utcnow()
    else:
        key = next(k for k, c in resource.mapper.columns.items() if not c.primary_key)
        flag_modified(record, key)


def _split(
    resource: Resource, data: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    plain = dict(data)
    lines = {c.name: plain.pop(c.name) for c in resource.children if c.name in plain}
    return plain, lines


def create_record(session: Session, resource: Resource, data: Mapping[str, Any]) -> Any:
    """Create a record from loaded data (see ``validation.load_input``); flushed, not committed."""
    if resource.create is not None:
        record = resource.create(session, dict(data))
        session.flush()
        return record
    plain, lines = _split(resource, data)
    record = resource.model()
    _assign(record, plain)
    session.add(record)
    for child in resource.children:
        if child.name in lines:
            apply_children(resource, record, child, lines[child.name])
    session.flush()
    return record


def update_record(
    session: Session, resource: Resource, record: Any, data: Mapping[str, Any], version: int | None
) -> Any:
    """Apply loaded (partial) data to ``record`` after checking the client's version."""
    check_version(resource, record, version)
    if resource.update is not None:
        record = resource.update(session, record, dict(data)) or record
        session.flush()
        return record
    plain, lines = _split(resource, data)
    plain_changed = _assign(record, plain)
    lines_changed = False
    for child in resource.children:
        if child.name in lines:
            lines_changed = (
                apply_children(resource, record, child, lines[child.name]) or lines_changed
            )
    if lines_changed and not plain_changed:
        touch(resource, record)
    session.flush()
    return record


def references_to(session: Session, resource: Resource, record: Any) -> list[Reference]:
    """Rows elsewhere that would stop the record from being deleted.

    Foreign keys with ON DELETE CASCADE / SET NULL, and lines the ORM deletes with the record
    (relationships with a delete cascade), do not count.
    """
    table = resource.mapper.local_table
    cascaded = {
        rel.mapper.local_table for rel in resource.mapper.relationships if rel.cascade.delete
    }
    labels = {m.local_table: m.class_.__name__ for m in Base.registry.mappers}
    found: list[Reference] = []
    for other in table.metadata.tables.values():
        if other in cascaded:
            continue
        for fk in other.foreign_keys:
            if fk.column.table is not table or (fk.ondelete or "").upper() in (
                "CASCADE",
                "SET NULL",
            ):
                continue
            value = getattr(record, fk.column.key, None)
            try:
                with session.begin_nested():
                    count = session.scalar(
                        select(func.count()).select_from(other).where(fk.parent == value)
                    )
            except DBAPIError:  # a table of an addon that is not installed here
                continue
            if count:
                label = humanize(labels.get(other, other.name))
                found.append(Reference(label, other.name, fk.parent.name, int(count)))
    return found


def delete_record(session: Session, resource: Resource, record: Any) -> None:
    """Delete the record, or raise ``StillReferenced`` naming what still points at it."""
    title = resource.record_title(record)
    refs = references_to(session, resource, record)
    if refs:
        what = ", ".join(f"{r.count} {r.label} record(s)" for r in refs)
        message = (
            f"{resource.singular} '{title}' is still used by {what}; remove or reassign them first"
        )
        message += ", or archive it instead." if resource.has_archive else "."
        raise StillReferenced(message, refs)
    if resource.delete is not None:
        resource.delete(session, record)
    else:
        session.delete(record)
    try:
        session.flush()
    except (
        IntegrityError
    ) as exc:  # a reference the metadata does not know about (raw SQL, other app)
        raise StillReferenced(
            f"{resource.singular} '{title}' is still used by other records; remove or reassign them first.",
            [],
        ) from exc


def run_action(
    session: Session, resource: Resource, action: Action, record: Any, data: Mapping[str, Any]
) -> Any:
    """Run a custom action's handler on the record (after its ``when`` check); flushed."""
    if action.when is not None and not action.when(record):
        raise BusinessError(
            f"'{action.title}' does not apply to this {resource.singular.lower()} in its current state."
        )
    result = action.handler(session, record, **dict(data))
    session.flush()
    return result
