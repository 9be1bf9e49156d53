"""The generated REST endpoints of a resource, on its addon's ``api`` blueprint.

=========================================  =============================  ==================
route                                      what                           permission
=========================================  =============================  ==================
``GET    /<name>/``                        list (``?format=csv`` export)  ``<perm>.read``
``POST   /<name>/``                        create: 201 + Location         ``<perm>.create``
``POST   /<name>/import``                  CSV import (text/csv body)     ``<perm>.create``
``GET    /<name>/<id>``                    one record, ETag = version     ``<perm>.read``
``PATCH  /<name>/<id>``                    update, optimistic locking     ``<perm>.update``
``DELETE /<name>/<id>``                    204, 409 while referenced      ``<perm>.delete``
``GET    /<name>/<id>/history``            audit trail of the record      ``<perm>.read``
``POST   /<name>/<id>/<action>``           custom action                  action's own
=========================================  =============================  ==================

Every error is problem+json; bad input of any kind is a 4xx, never a 500.
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, request, url_for
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from core.access import has_permission, permission_required
from core.db import is_transient
from core.problems import Problem
from core.resources import csv_io
from core.resources.declaration import Action, BusinessError, Resource
from core.resources.dump import dump_many, dumper
from core.resources.query import QueryError, parse_list_params, run_list
from core.resources.service import (
    RecordNotFound,
    StaleVersion,
    StillReferenced,
    VersionRequired,
    create_record,
    delete_record,
    get_record,
    run_action,
    update_record,
)
from core.resources.validation import ValidationFailed, load_input, load_payload, too_deep

T = TypeVar("T")
NO_BODY = object()  # an optional body that was not sent (unlike a JSON null)
JSON_TYPES = frozenset({"application/json", "application/merge-patch+json"})
ID = "<int(max=9223372036854775807):record_id>"


def session() -> Session:
    return current_app.extensions["mosaic"].db.session


def endpoint_base(resource: Resource) -> str:
    return resource.name.replace("-", "_")


# --------------------------------------------------------------------------- request bodies


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a valid JSON number")


def read_json(*, optional: bool = False, expect_object: bool = False) -> Any:
    """The decoded JSON body, or a 4xx problem: 415 wrong type, 413 too large, 400 malformed."""
    raw = request.get_data(cache=True)  # raises 413 beyond MAX_CONTENT_LENGTH
    if optional and not raw.strip():
        return NO_BODY
    mimetype = request.mimetype or ""
    if mimetype not in JSON_TYPES and not mimetype.endswith("+json"):
        raise Problem(
            415,
            f"Send the body as application/json (got '{mimetype or 'nothing'}').",
            title="Unsupported Media Type",
        )
    if not raw.strip():
        raise Problem(400, "The request body is empty; send a JSON object.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Problem(400, "The request body is not valid UTF-8.") from None
    try:
        data = json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except RecursionError:
        raise Problem(400, "The JSON document is nested too deeply.") from None
    except ValueError as exc:
        raise Problem(400, f"Malformed JSON: {exc}") from None
    if too_deep(data):
        raise Problem(400, "The JSON document is nested too deeply.")
    if expect_object and not isinstance(data, dict):
        raise Problem(
            422, "The body must be a JSON object.", errors={"_schema": ["Expected a JSON object."]}
        )
    return data


def read_version(payload: Any) -> int | None:
    """The version the client edited: ``version`` in the body, else the If-Match header."""
    if isinstance(payload, dict) and "version" in payload:
        value = payload.pop("version")
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
            raise Problem(
                422, "The data is not valid.", errors={"version": ["Not a valid version number."]}
            )
        return value
    header = (request.headers.get("If-Match") or "").strip()
    if not header or header == "*":
        return None
    tag = header.removeprefix("W/").strip()
    if len(tag) >= 2 and tag[0] == tag[-1] == '"':
        tag = tag[1:-1]
    if not tag.isascii() or not tag.isdigit() or len(tag) > 9:
        raise Problem(
            400, 'If-Match must hold one version, as returned in the ETag header (e.g. "3").'
        )
    return int(tag)


# --------------------------------------------------------------------------- errors


def validation_problem(exc: ValidationFailed) -> Problem:
    fields = ", ".join(k for k in exc.errors if k != "_schema")
    detail = f"The data is not valid: check {fields}." if fields else "The data is not valid."
    return Problem(422, detail, title="Validation failed", errors=exc.errors)


@contextlib.contextmanager
def translated_errors(resource: Resource) -> Iterator[None]:
    """Turn what services and the database raise into problem responses (and roll back)."""
    db = session()
    try:
        yield
    except Problem:
        db.rollback()
        raise
    except ValidationFailed as exc:
        db.rollback()
        raise validation_problem(exc) from None
    except BusinessError as exc:
        db.rollback()
        raise Problem(exc.status, exc.message, errors=exc.errors) from None
    except RecordNotFound as exc:
        db.rollback()
        raise Problem(404, str(exc)) from None
    except VersionRequired as exc:
        db.rollback()
        raise Problem(428, str(exc), title="Precondition Required") from None
    except (StaleVersion, StaleDataError) as exc:
        db.rollback()
        current = exc.current if isinstance(exc, StaleVersion) else None
        detail = (
            f"This {resource.singular.lower()} was changed by someone else since you read it"
            + (f" (it is now at version {current})" if current is not None else "")
            + ". Reload it, apply your changes again and resend."
        )
        raise Problem(409, detail, title="Edit conflict", current_version=current) from None
    except StillReferenced as exc:
        db.rollback()
        raise Problem(
            409, exc.message, title="Still referenced",
            references=[{"resource": r.label, "table": r.table, "count": r.count} for r in exc.references],
        ) from None  # fmt: skip
    except IntegrityError as exc:
        db.rollback()
        status, detail, errors = csv_io.explain_integrity_error(resource, exc)
        raise Problem(status, detail, errors=errors) from None
    except DataError as exc:
        db.rollback()
        raise Problem(
            422, f"A value cannot be stored: {str(exc.orig).splitlines()[0][:200]}"
        ) from None
    except Exception as exc:
        db.rollback()
        translated = tenancy_problem(exc)
        if translated is None:
            raise
        raise translated from None


def tenancy_problem(exc: Exception) -> Problem | None:
    """Company-scoping refusals raised at flush time, as 4xx problems."""
    try:
        from core import tenancy
    except ImportError:  # pragma: no cover - tenancy is part of core
        return None
    if isinstance(exc, tenancy.InvisibleReferenceError):
        return Problem(422, "The data is not valid.", errors={exc.field: ["No such record."]})
    if isinstance(exc, tenancy.CompanyAccessError):
        return Problem(
            422, "The data is not valid.", errors={"company_id": ["You may not use this company."]}
        )
    if isinstance(exc, tenancy.CompanyRequiredError):
        return Problem(409, "Choose a current company before creating records.")
    return None


def write(
    resource: Resource,
    work: Callable[[Session], T],
    *,
    keep: Callable[[T], bool] | None = None,
    attempts: int = 4,
) -> T:
    """Run ``work`` in the request's session and commit, as one transaction.

    Errors become problem responses (``translated_errors``). A transient conflict with a
    concurrent transaction (SQLite's "database is locked", a PostgreSQL serialization failure
    or deadlock) rolls back and runs ``work`` again, a few times, before answering 503.
    ``keep(result)`` false rolls back instead of committing (dry runs, refused imports).
    """
    db = session()
    for attempt in range(1, attempts + 1):
        try:
            with translated_errors(resource):
                result = work(db)
                if keep is None or keep(result):
                    db.commit()
                else:
                    db.rollback()
                return result
        except DBAPIError as exc:
            if not is_transient(exc):
                raise
            if attempt == attempts:
                raise Problem(503, "The database is busy; try again in a moment.") from None
            time.sleep(random.uniform(0, 0.05 * attempt))
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------- responses


def dump(resource: Resource, record: Any) -> dict[str, Any]:
    return dumper(resource.schema_instance)(record)


def record_response(resource: Resource, record: Any, status: int = 200) -> Response:
    response = current_app.json.response(dump(resource, record))
    response.status_code = status
    if resource.has_version:
        response.set_etag(str(record.version))
    return response


def history_items(
    db: Session, resource: Resource, record: Any, limit: int = 500
) -> list[dict[str, Any]]:
    """The record's audit trail, newest first, in the API's shape."""
    from core import audit

    entries = audit.history(db, resource.mapper.local_table.name, record.id, limit=limit)
    return [entry.as_dict() for entry in reversed(entries)]


# --------------------------------------------------------------------------- registration


def register_api(bp: Blueprint, resource: Resource) -> None:
    """Add the generated endpoints of ``resource`` to an addon's ``api`` blueprint."""
    base = f"/{resource.name}"
    ep = endpoint_base(resource)
    perm = resource.permission

    def mark(view: Any, operation: str, action: Action | None = None) -> Any:
        view.mosaic_resource = (resource, operation, action)
        return view

    @permission_required(f"{perm}.read")
    def list_records() -> Response:
        try:
            params = parse_list_params(resource, request.args)
        except QueryError as exc:
            raise Problem(400, exc.message, errors=exc.errors, **exc.extra) from None
        if params.format == "csv":
            if "limit" not in request.args and "offset" not in request.args:
                params.limit = 0
            out = io.StringIO()
            csv_io.export_csv(session(), resource, params, out)
            return Response(
                out.getvalue(), mimetype="text/csv",
                headers={"Content-Disposition": f'attachment; filename="{resource.name}.csv"'},
            )  # fmt: skip
        result = run_list(session(), resource, params)
        body = {
            "items": dump_many(resource.list_schema_instance, result.items),
            "total": result.total,
            "limit": result.limit,
            "offset": result.offset,
        }
        return current_app.json.response(body)

    @permission_required(f"{perm}.read")
    def get_one(record_id: int) -> Response:
        with translated_errors(resource):
            record = get_record(session(), resource, record_id)
        return record_response(resource, record)

    @permission_required(f"{perm}.create")
    def create() -> Response:
        payload = read_json(expect_object=True)

        def work(db: Session) -> int:
            data = load_input(resource, payload, strict_json=True)
            return create_record(db, resource, data).id

        record_id = write(resource, work)
        with translated_errors(resource):
            record = get_record(session(), resource, record_id, fresh=True)
        response = record_response(resource, record, 201)
        response.headers["Location"] = url_for(f".{ep}_get", record_id=record.id)
        return response

    @permission_required(f"{perm}.update")
    def update(record_id: int) -> Response:
        payload = read_json(expect_object=True)
        version = read_version(payload)

        def work(db: Session) -> None:
            record = get_record(db, resource, record_id)
            data = load_input(resource, dict(payload), partial=True, strict_json=True)
            update_record(db, resource, record, data, version)

        write(resource, work)
        with translated_errors(resource):
            record = get_record(session(), resource, record_id, fresh=True)
        return record_response(resource, record)

    @permission_required(f"{perm}.delete")
    def delete(record_id: int) -> Response:
        write(resource, lambda db: delete_record(db, resource, get_record(db, resource, record_id)))
        return Response(status=204)

    @permission_required(f"{perm}.read")
    def history(record_id: int) -> Response:
        db = session()
        with translated_errors(resource):
            record = get_record(db, resource, record_id)
        items = history_items(db, resource, record)
        return current_app.json.response({"items": items, "total": len(items)})

    @permission_required(f"{perm}.create")
    def import_csv() -> Response:
        mimetype = request.mimetype or ""
        if mimetype not in ("text/csv", "text/plain", "application/csv"):
            raise Problem(
                415,
                f"Send the CSV file as text/csv (got '{mimetype or 'nothing'}').",
                title="Unsupported Media Type",
            )
        flags = {}
        for key in request.args:
            if key not in ("dry_run", "skip_errors", "update"):
                raise Problem(
                    400,
                    f"Unknown parameter '{key}'; use dry_run, skip_errors and update.",
                    errors={key: ["Unknown parameter."]},
                )
            value = request.args[key].strip().lower()
            if value not in ("true", "false"):
                raise Problem(
                    400,
                    f"'{key}' must be true or false.",
                    errors={key: ["Expected true or false."]},
                )
            flags[key] = value == "true"
        if flags.get("update") and not has_permission(f"{perm}.update"):
            raise Problem(
                403, f"Updating by import needs the permission '{perm}.update'.", title="Forbidden"
            )
        body = request.get_data(cache=True)
        result = write(
            resource,
            lambda db: csv_io.import_csv(
                db, resource, io.BytesIO(body),
                dry_run=flags.get("dry_run", False), skip_errors=flags.get("skip_errors", False),
                update=flags.get("update", False),
            ),
            keep=lambda r: not r.failed and not r.dry_run,
        )  # fmt: skip
        if result.failed:
            fatal = any(e.fatal for e in result.errors)
            detail = result.summary() + ("." if fatal else " (skip_errors=true).")
            raise Problem(
                422,
                detail,
                title="Import refused",
                errors={"file": [detail]},
                rows=[e.as_dict() for e in result.errors[:200]],
            )
        return current_app.json.response(result.as_dict())

    bp.add_url_rule(f"{base}/", f"{ep}_list", mark(list_records, "list"), methods=["GET"])
    bp.add_url_rule(f"{base}/{ID}", f"{ep}_get", mark(get_one, "get"), methods=["GET"])
    bp.add_url_rule(
        f"{base}/{ID}/history", f"{ep}_history", mark(history, "history"), methods=["GET"]
    )
    if resource.can("create"):
        bp.add_url_rule(f"{base}/", f"{ep}_create", mark(create, "create"), methods=["POST"])
    if resource.can("import"):
        bp.add_url_rule(
            f"{base}/import", f"{ep}_import", mark(import_csv, "import"), methods=["POST"]
        )
    if resource.can("update"):
        bp.add_url_rule(f"{base}/{ID}", f"{ep}_update", mark(update, "update"), methods=["PATCH"])
    if resource.can("delete"):
        bp.add_url_rule(f"{base}/{ID}", f"{ep}_delete", mark(delete, "delete"), methods=["DELETE"])
    for action in resource.actions:
        bp.add_url_rule(
            f"{base}/{ID}/{action.name}", f"{ep}_action_{action.name.replace('-', '_')}",
            mark(_action_view(resource, action), "action", action), methods=["POST"],
        )  # fmt: skip


def _action_view(resource: Resource, action: Action) -> Any:
    schema = action.schema() if action.schema else None
    response_schema = action.response() if action.response else None

    @permission_required(resource.action_permission(action))
    def run(record_id: int) -> Response:
        payload = read_json(optional=True)
        if payload is NO_BODY:
            payload = {}

        def work(db: Session) -> Any:
            record = get_record(db, resource, record_id)
            if schema is not None:
                data = load_payload(schema, payload, strict_json=True)
            elif payload != {}:
                raise ValidationFailed(
                    {"_schema": ["This action takes no data; send an empty body or {}."]}
                )
            else:
                data = {}
            return run_action(db, resource, action, record, data)

        result = write(resource, work)
        if result is None or isinstance(result, resource.model):
            with translated_errors(resource):
                record = get_record(
                    session(), resource, getattr(result, "id", record_id), fresh=True
                )
            return record_response(resource, record)
        if response_schema is not None:
            result = response_schema.dump(result)
        return current_app.json.response(result)

    run.__name__ = f"action_{action.name}"
    return run
