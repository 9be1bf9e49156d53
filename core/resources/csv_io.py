"""CSV export and import of a resource (no Flask: the CLI, the API and the pages call these).

Export writes the schema's scalar fields, in schema order, with the list's filters, search and
sort. Import validates every row with the same schema as the API (and the same column checks),
reports errors with the file's line numbers and creates the valid rows: in batches through the
resource's ``create_many`` when it declares one (one flush, one audit insert and whatever
look-ups the addon batches per few hundred rows), else one by one. The caller owns the
transaction: by default an import is all or nothing (``result.failed`` -> roll back), with
``skip_errors`` the valid rows are kept, and a dry run is always rolled back.

Text cells that a spreadsheet would run as a formula (starting with ``= + - @``) are written
with a leading apostrophe, which import removes again, so an export can be re-imported as is.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from marshmallow import Schema, fields, missing
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from core.bulk import ANALYZE_AFTER_ROWS, assign_ids, refresh_statistics
from core.db import is_transient
from core.resources.declaration import BusinessError, Resource, humanize
from core.resources.dump import dumper
from core.resources.query import ListParams, iter_records
from core.resources.service import (
    RecordNotFound,
    StaleVersion,
    create_record,
    get_record,
    update_record,
)
from core.resources.validation import ValidationFailed, load_input

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NOT_CSV = (fields.Nested, fields.List, fields.Dict, fields.Tuple)


# --------------------------------------------------------------------------- columns


def export_fields(resource: Resource) -> list[tuple[str, fields.Field]]:
    """(column header, field) of the schema's scalar output fields."""
    out = []
    for name, f in resource.schema_instance.dump_fields.items():
        if isinstance(f, NOT_CSV):
            continue
        out.append((f.data_key or name, f))
    return out


def import_fields(resource: Resource) -> dict[str, fields.Field]:
    """Column header -> field for the schema's scalar input fields."""
    return {
        f.data_key or name: f
        for name, f in resource.schema_instance.load_fields.items()
        if not isinstance(f, NOT_CSV)
    }


def _is_text(f: fields.Field) -> bool:
    return isinstance(f, fields.String)


def cell(value: Any, text: bool) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    out = str(value)
    if text and out.startswith(FORMULA_START):
        return "'" + out
    return out


def uncell(value: str, text: bool) -> str:
    if text and len(value) > 1 and value[0] == "'" and value[1:].startswith(FORMULA_START):
        return value[1:]
    return value


# --------------------------------------------------------------------------- export


def export_csv(session: Session, resource: Resource, params: ListParams, out: IO[str]) -> int:
    """Write every record matching ``params`` (the page only when ``params.limit`` > 0)."""
    columns = export_fields(resource)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([header for header, _ in columns])
    dump = dumper(resource.schema_instance)
    count = 0
    if params.limit:
        from core.resources.query import run_list

        records: Any = run_list(session, resource, params).items
    else:
        records = iter_records(session, resource, params)
    for record in records:
        data = dump(record)
        writer.writerow([cell(data.get(header), _is_text(f)) for header, f in columns])
        count += 1
    return count


# --------------------------------------------------------------------------- import


@dataclass
class RowError:
    line: int
    errors: dict[str, Any]
    #: The file as a whole is unusable (encoding, CSV syntax, header): nothing can be kept.
    fatal: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "errors": self.errors}

    def describe(self) -> str:
        parts = []
        for key, messages in self.errors.items():
            text = (
                "; ".join(str(m) for m in messages) if isinstance(messages, list) else str(messages)
            )
            parts.append(text if key in ("_schema", "_row") else f"{key}: {text}")
        return f"line {self.line}: " + " | ".join(parts)


@dataclass
class ImportResult:
    rows: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    dry_run: bool = False
    skip_errors: bool = False
    created_ids: list[int] = field(default_factory=list)
    updated_ids: list[int] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """Nothing may be kept: errors without --skip-errors, or a broken file."""
        return bool(self.errors) and (not self.skip_errors or any(e.fatal for e in self.errors))

    def summary(self) -> str:
        mode = " (dry run: nothing saved)" if self.dry_run else ""
        if self.failed:
            return (
                f"{len(self.errors)} error(s) in {self.rows} row(s); nothing was imported. "
                "Fix the file, or skip the rows with errors"
            )
        text = f"{self.created} created"
        if self.updated or self.updated_ids:
            text += f", {self.updated} updated"
        if self.skipped:
            text += f", {self.skipped} row(s) with errors skipped"
        return text + mode

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "skipped": self.skipped,
            "dry_run": self.dry_run,
            "ignored_columns": self.ignored_columns,
            "errors": [e.as_dict() for e in self.errors],
            "ids": self.created_ids,
            "updated_ids": self.updated_ids,
        }


def _read_text(stream: IO[Any]) -> str:
    raw = stream.read()
    if isinstance(raw, str):
        return raw.removeprefix("\ufeff")
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    return raw.decode("utf-8")


def import_csv(
    session: Session,
    resource: Resource,
    stream: IO[Any],
    *,
    dry_run: bool = False,
    skip_errors: bool = False,
    update: bool = False,
    progress: Callable[[int], None] | None = None,
    on_rows: Callable[[int], None] | None = None,
) -> ImportResult:
    """Validate and create the rows of a CSV file; flushed, never committed (see module doc).

    With ``update`` the file must have an ``id`` column: a row with an id updates that
    record (only the columns of the file; an empty cell clears the field), a row without
    one creates a record. The ``version`` column (as exported) must then match the record's,
    so that an edit made since the export is not overwritten. Without ``update`` the ``id``
    and ``version`` columns of an export are ignored and every row creates a record.
    ``on_rows(n)`` is called once the number of rows is known, ``progress(n)`` as rows are done.
    """
    result = ImportResult(dry_run=dry_run, skip_errors=skip_errors)
    try:
        text = _read_text(stream)
    except UnicodeDecodeError as exc:
        result.errors.append(
            RowError(0, {"_row": [f"The file is not UTF-8 text (byte {exc.start})."]}, fatal=True)
        )
        return result
    if "\x00" in text:
        result.errors.append(
            RowError(
                0, {"_row": ["The file contains NUL bytes; is it really a CSV file?"]}, fatal=True
            )
        )
        return result
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        rows = []
        start = 1
        for cells in reader:
            rows.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as exc:
        result.errors.append(
            RowError(reader.line_num, {"_row": [f"Not valid CSV: {exc}."]}, fatal=True)
        )
        return result
    if not rows:
        result.errors.append(
            RowError(
                1,
                {"_row": ["The file is empty; the first line must name the columns."]},
                fatal=True,
            )
        )
        return result
    _header_line, header = rows[0]
    header = [h.strip() for h in header]
    keys = _key_columns(resource, header, update, result)
    columns = _check_header(resource, header, result, keys)
    if columns is None or keys is None:
        return result
    schema = _file_schema(resource, columns)
    body = [(line, cells) for line, cells in rows[1:] if any(c.strip() for c in cells)]
    result.rows = len(body)
    if on_rows:
        on_rows(len(body))
    batch_size = BATCH_SIZE if resource.create_many is not None else 1
    pending: list[tuple[int, dict[str, Any]]] = []

    def create_pending() -> None:
        nonlocal pending
        if pending:
            _create_rows(session, resource, pending, result)
            if progress:
                progress(len(pending))
            pending = []

    for line, cells in body:
        try:
            target = _row_key(resource, cells, keys) if keys else None
        except ValidationFailed as exc:
            result.errors.append(RowError(line, exc.errors))
            target, data = None, None
        else:
            data = _load_row(
                resource, line, cells, columns, result, partial=target is not None, schema=schema
            )
        if data is None:
            if progress:
                progress(1)
        elif target is not None:
            create_pending()  # the file's order: an update sees the rows created above it
            _update_one(session, resource, line, target, data, result)
            if progress:
                progress(1)
        else:
            pending.append((line, data))
            if len(pending) >= batch_size:
                create_pending()
    create_pending()
    if result.created + result.updated >= ANALYZE_AFTER_ROWS:
        refresh_statistics(session, _tables_of(resource))
    result.errors.sort(key=lambda e: e.line)
    result.skipped = len(result.errors) if skip_errors and not result.failed else 0
    return result


#: Rows handed to a resource's ``create_many`` at once: one flush, one duplicate look-up,
#: one audit insert per batch, and a savepoint small enough to redo row by row.
BATCH_SIZE = 500


def _tables_of(resource: Resource) -> set[str]:
    """The tables an import of the resource fills: its own, its lines', its link tables."""
    mapper = resource.mapper
    tables = {mapper.local_table.name}
    for rel in mapper.relationships:
        if rel.secondary is not None:
            tables.add(rel.secondary.name)
        elif rel.cascade.delete_orphan:
            tables.add(rel.mapper.local_table.name)
    return tables


def _check_header(
    resource: Resource,
    header: list[str],
    result: ImportResult,
    keys: dict[str, int] | None = None,
) -> list[tuple[str, fields.Field] | None] | None:
    accepted = import_fields(resource)
    readonly = {h for h, _ in export_fields(resource)} - set(accepted) - set(keys or ())
    problems = []
    seen: set[str] = set()
    columns: list[tuple[str, fields.Field] | None] = []
    for name in header:
        if name in seen:
            problems.append(f"Column '{name}' appears twice.")
        seen.add(name)
        if name in accepted:
            columns.append((name, accepted[name]))
        elif keys and name in keys:
            columns.append(None)
        elif name in readonly:
            columns.append(None)
            result.ignored_columns.append(name)
        else:
            problems.append(f"Unknown column '{name or '(empty)'}'.")
            columns.append(None)
    # Updates may leave required columns out (they keep their values); creates may not.
    missing = [n for n, f in accepted.items() if f.required and n not in seen and not keys]
    if missing:
        problems.append(f"Missing required column(s): {', '.join(missing)}.")
    if problems:
        problems.append(f"Columns that can be imported: {', '.join(accepted)}.")
        result.errors.append(RowError(1, {"_row": problems}, fatal=True))
        return None
    return columns


def _file_schema(resource: Resource, columns: list[tuple[str, fields.Field] | None]) -> Schema:
    """The resource's schema cut down to the file's columns (and fields with a default).

    Marshmallow visits every field of a schema for every row, given or not; an import's
    rows only ever hold the file's columns, so the cut schema loads them the same, faster.
    """
    schema = resource.schema_instance
    wanted = {spec[1].name for spec in columns if spec is not None}
    wanted |= {
        name
        for name, f in schema.load_fields.items()
        if f.load_default is not missing or f.required
    }
    if wanted >= set(schema.load_fields):
        return schema
    return type(schema)(only=[name for name in schema.fields if name in wanted])  # its order


def _load_row(
    resource: Resource,
    line: int,
    cells: list[str],
    columns: list[tuple[str, fields.Field] | None],
    result: ImportResult,
    *,
    partial: bool = False,
    schema: Schema | None = None,
) -> dict[str, Any] | None:
    """The row's data validated by the resource's schema, or ``None`` (its error recorded).

    For a new record an empty cell means "not given" (the default applies); for an update
    (``partial``) it clears the field. ``schema`` is ``_file_schema``'s (default: the
    resource's own).
    """
    if len(cells) > len(columns):
        result.errors.append(
            RowError(line, {"_row": [f"{len(cells)} cells but {len(columns)} columns."]})
        )
        return None
    payload: dict[str, Any] = {}
    for spec, value in zip(columns, cells, strict=False):
        if spec is None:
            continue
        name, f = spec
        if value.strip() == "":
            if partial:
                payload[name] = None if f.allow_none else ""  # the field says if "" will do
            continue
        payload[name] = uncell(value, True) if _is_text(f) else value.strip()
    try:
        # The file was decoded from UTF-8 and refused if it held a NUL: its text is clean.
        return load_input(resource, payload, partial=partial, schema=schema, text_checked=True)
    except ValidationFailed as exc:
        result.errors.append(RowError(line, exc.errors))
        return None


def _create_rows(
    session: Session,
    resource: Resource,
    rows: list[tuple[int, dict[str, Any]]],
    result: ImportResult,
) -> None:
    """Create validated rows: in one batch through ``create_many`` when the resource has it.

    A batch runs in a savepoint. When the database refuses it as a whole (a constraint, a
    reference to another company's record), the savepoint is rolled back and the rows are
    created one by one, so that the error names the row that caused it.
    """
    if resource.create_many is None:
        for line, data in rows:
            _create_one(session, resource, line, data, result)
        return
    try:
        with session.begin_nested():
            outcomes = list(resource.create_many(session, rows))
            assign_ids(session)
            session.flush()
    except (BusinessError, IntegrityError, DBAPIError) as exc:
        if isinstance(exc, DBAPIError) and is_transient(exc):
            raise  # a concurrent writer, not this batch: the caller retries the whole import
        outcomes = None
    except Exception as exc:
        if _tenancy_message(exc) is None:
            raise
        outcomes = None
    if outcomes is None:
        for line, data in rows:
            _create_one(session, resource, line, data, result)
        return
    if len(outcomes) != len(rows):
        raise TypeError(
            f"{resource.name}: create_many returned {len(outcomes)} outcomes for {len(rows)} rows"
        )
    for (line, _data), outcome in zip(rows, outcomes, strict=True):
        if isinstance(outcome, BusinessError):
            result.errors.append(RowError(line, outcome.errors or {"_row": [outcome.message]}))
        else:
            result.created += 1
            result.created_ids.append(outcome.id)


def _create_one(
    session: Session, resource: Resource, line: int, data: dict[str, Any], result: ImportResult
) -> None:
    record = _guarded(
        session, resource, line, result, lambda: create_record(session, resource, data)
    )
    if record is not None:
        result.created += 1
        result.created_ids.append(record.id)


def _update_one(
    session: Session,
    resource: Resource,
    line: int,
    target: tuple[int, int | None],
    data: dict[str, Any],
    result: ImportResult,
) -> None:
    record_id, version = target

    def run() -> Any:
        record = get_record(session, resource, record_id)
        return update_record(session, resource, record, data, version)

    record = _guarded(session, resource, line, result, run)
    if record is not None:
        result.updated += 1
        result.updated_ids.append(record.id)


def _guarded(
    session: Session, resource: Resource, line: int, result: ImportResult, write: Callable[[], Any]
) -> Any:
    """Run ``write`` in a savepoint; a refusal becomes the row's error and undoes the row."""
    try:
        with session.begin_nested():
            return write()
    except BusinessError as exc:
        result.errors.append(RowError(line, exc.errors or {"_row": [exc.message]}))
    except ValidationFailed as exc:
        result.errors.append(RowError(line, exc.errors))
    except RecordNotFound:
        result.errors.append(RowError(line, {"id": ["No such record."]}))
    except StaleVersion as exc:
        result.errors.append(
            RowError(
                line,
                {"version": [f"The record changed since version {exc.sent} (it is at version {exc.current}); export it again."]},
            )
        )  # fmt: skip
    except IntegrityError as exc:
        _status, detail, errors = explain_integrity_error(resource, exc)
        result.errors.append(RowError(line, errors or {"_row": [detail]}))
    except DBAPIError as exc:
        if is_transient(exc):
            raise  # not this row's fault: see _create_rows
        result.errors.append(
            RowError(line, {"_row": [f"Cannot be stored: {str(exc.orig).splitlines()[0][:200]}"]})
        )
    except Exception as exc:
        message = _tenancy_message(exc)
        if message is None:
            raise
        result.errors.append(RowError(line, message))
    return None


# --------------------------------------------------------------------------- updates by id


def _key_columns(
    resource: Resource, header: list[str], update: bool, result: ImportResult
) -> dict[str, int] | None:
    """``{"id": position, "version": position}`` of an update import, ``{}`` without update.

    ``None`` (and a fatal error) when an update import cannot work with this file.
    """
    if not update:
        return {}
    problems = []
    if not resource.can("update"):
        problems.append(f"{resource.plural} cannot be updated.")
    if "id" not in header:
        problems.append("To update records the file needs an 'id' column (as exported).")
    if problems:
        result.errors.append(RowError(1, {"_row": problems}, fatal=True))
        return None
    keys = {"id": header.index("id")}
    if "version" in header:
        keys["version"] = header.index("version")
    return keys


def _row_key(
    resource: Resource, cells: list[str], keys: dict[str, int]
) -> tuple[int, int | None] | None:
    """``(id, version)`` of a row that updates a record, ``None`` for a new one.

    Raises ``ValidationFailed`` when the id or the version cannot be used.
    """

    def cell_of(name: str) -> str:
        position = keys.get(name)
        return cells[position].strip() if position is not None and position < len(cells) else ""

    raw_id, raw_version = cell_of("id"), cell_of("version")
    if not raw_id:
        return None
    errors: dict[str, list[str]] = {}
    record_id = _positive_int(raw_id)
    if record_id is None:
        errors["id"] = ["Not a record number."]
    version = _positive_int(raw_version) if raw_version else None
    if raw_version and version is None:
        errors["version"] = ["Not a version number."]
    elif version is None and resource.has_version:
        errors["version"] = [
            "Give the record's version (the 'version' column of an export), so that changes "
            "made since are not overwritten."
        ]
    if errors or record_id is None:
        raise ValidationFailed(errors)
    return record_id, version


def _positive_int(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


def _tenancy_message(exc: Exception) -> dict[str, list[str]] | None:
    try:
        from core import tenancy
    except ImportError:  # pragma: no cover
        return None
    if isinstance(exc, tenancy.InvisibleReferenceError):
        return {exc.field: ["No such record."]}
    if isinstance(exc, tenancy.CompanyAccessError):
        return {"company_id": ["You may not use this company."]}
    if isinstance(exc, tenancy.CompanyRequiredError):
        return {"_row": ["No current company to create the record in."]}
    return None


# --------------------------------------------------------------------------- database errors

_SQLITE_COLUMNS = re.compile(r"constraint failed: ([\w., ]+)")


def explain_integrity_error(
    resource: Resource, exc: IntegrityError
) -> tuple[int, str, dict[str, list[str]] | None]:
    """(status, message, per-field errors) for a constraint the database refused.

    Unique values already used are a 409; missing values and references to records that do
    not exist are a 422. Field names are found from the constraint when the driver says which.
    """
    orig = exc.orig
    text = str(orig)
    state = getattr(orig, "sqlstate", None) or ""
    diag = getattr(orig, "diag", None)
    columns = _columns_of(resource, diag, text)
    keys = [_attr_key(resource, c) for c in columns]
    thing = resource.singular.lower()
    if state == "23505" or "UNIQUE constraint" in text:
        errors = {k: [f"Another {thing} already uses this value."] for k in keys} or None
        return (
            409,
            f"Another {thing} already has the same {', '.join(humanize(k).lower() for k in keys) or 'values'}.",
            errors,
        )
    if state == "23502" or "NOT NULL constraint" in text:
        errors = {k: ["Missing data for required field."] for k in keys} or None
        return 422, "A required value is missing.", errors
    if state == "23503" or "FOREIGN KEY constraint" in text:
        errors = {k: ["No such record."] for k in keys} or None
        return 422, "The data refers to a record that does not exist.", errors
    if state == "23514" or "CHECK constraint" in text:
        return 422, "A value is outside what is allowed.", None
    return 409, "The change conflicts with existing data.", None


def _columns_of(resource: Resource, diag: Any, text: str) -> list[str]:
    if diag is not None:
        if getattr(diag, "column_name", None):
            return [diag.column_name]
        name = getattr(diag, "constraint_name", None)
        if name:
            for table in resource.mapper.local_table.metadata.tables.values():
                for constraint in table.constraints:
                    if constraint.name == name:
                        return [c.name for c in constraint.columns]
        return []
    match = _SQLITE_COLUMNS.search(text)
    if not match:
        return []
    return [part.strip().rsplit(".", 1)[-1] for part in match.group(1).split(",") if "." in part]


def _attr_key(resource: Resource, column_name: str) -> str:
    for key, column in resource.mapper.columns.items():
        if column.name == column_name:
            return key
    return column_name
