"""The generated web pages of a resource, on its addon's ``web`` blueprint.

List (search, filters, sortable columns, pagination, CSV export), create, detail/edit (inline
validation errors, edit conflicts explained, lines of child collections, action buttons,
history), delete with confirmation, actions with confirmation or a small form, CSV import.
Everything works without JavaScript: plain links and forms that post and redirect.

An addon can replace any page by shipping a template named ``<addon>/<resource>_<page>.html``
(``list``, ``form``, ``delete``, ``action``, ``import``), typically extending the core one.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from marshmallow import fields, missing, validate
from sqlalchemy import Text
from werkzeug.datastructures import MultiDict

from core.access import current_user, has_permission, permission_required
from core.problems import Problem
from core.resources import csv_io, picker
from core.resources.declaration import Action, Child, Filter, FormField, Resource, humanize
from core.resources.query import (
    MAX_LIMIT,
    QueryError,
    column_python_type,
    filter_operators,
    parse_list_params,
    run_list,
)
from core.resources.rest import ID, endpoint_base, history_items, write
from core.resources.service import (
    create_record,
    delete_record,
    get_record,
    run_action,
    update_record,
)
from core.resources.validation import BAD_TEXT, bad_text, load_input, load_payload

PAGE_SIZE = 50


def session() -> Any:
    return current_app.extensions["mosaic"].db.session


# --------------------------------------------------------------------------- display helpers


def user_zone() -> ZoneInfo | Any:
    name = getattr(current_user(), "timezone", None) or "UTC"
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError, OSError):
        return UTC


def display(value: Any) -> str:
    """A value as shown in a list cell, a read-only field or the history panel."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(user_zone()).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return humanize(str(value.value))
    if isinstance(value, Decimal):
        return (
            f"{value:,.{max(0, -value.as_tuple().exponent)}f}" if value.is_finite() else str(value)
        )  # type: ignore[operator]
    if isinstance(value, str) and len(value) > 10 and value[4:5] == "-" and value[10:11] == "T":
        try:
            return display(datetime.fromisoformat(value))
        except ValueError:
            return value
    return str(value)


def resolve(record: Any, path: str) -> Any:
    value = record
    for part in path.split("."):
        value = getattr(value, part, None)
        if value is None:
            return None
    return value


# --------------------------------------------------------------------------- form widgets


@dataclass
class Widget:
    """One input of a form, ready for the ``field`` macro."""

    name: str
    label: str
    kind: str
    value: Any = ""
    required: bool = False
    errors: list[str] = field(default_factory=list)
    help: str | None = None
    options: list[tuple[str, str]] = field(default_factory=list)
    attrs: dict[str, str] = field(default_factory=dict)
    #: A record picker's resolved id (kept in a hidden input beside the text).
    record_id: str = ""
    #: A record picker's candidates after an ambiguous entry: ``{"id", "title", "url"}``.
    matches: list[dict[str, Any]] = field(default_factory=list)

    @property
    def id(self) -> str:
        return "f-" + self.name.replace(".", "-")


def _choices(spec: FormField, f: fields.Field) -> list[tuple[str, str]] | None:
    if spec.choices is not None:
        items = spec.choices(session()) if callable(spec.choices) else spec.choices
        return [(str(v), str(label)) for v, label in items]
    for v in f.validators:
        if isinstance(v, validate.OneOf):
            labels = list(v.labels) if v.labels else [humanize(str(c)) for c in v.choices]
            return [(str(c), str(label)) for c, label in zip(v.choices, labels, strict=False)]
    return None


def widget_kind(spec: FormField, f: fields.Field, column: Any) -> str:
    if spec.widget:
        return spec.widget
    if isinstance(f, fields.Boolean):
        return "checkbox"
    if _choices(spec, f) is not None:
        return "select"
    if isinstance(f, fields.Integer | fields.Float | fields.Decimal):
        return "number"
    if isinstance(f, fields.DateTime):
        return "datetime"
    if isinstance(f, fields.Date):
        return "date"
    if isinstance(f, fields.Email):
        return "email"
    if isinstance(f, fields.URL):
        return "url"
    if column is not None and isinstance(column.type, Text):
        return "textarea"
    return "text"


def make_widget(
    spec: FormField, f: fields.Field, column: Any, name: str, value: Any, errors: Any
) -> Widget:
    kind = widget_kind(spec, f, column)
    w = Widget(
        name=name, label=spec.title, kind=kind, required=f.required, help=spec.help,
        errors=[str(e) for e in errors] if isinstance(errors, list) else ([str(errors)] if errors else []),
    )  # fmt: skip
    if kind == "record":
        _dress_picker(w, spec, value)
        return w
    if kind in ("select",):
        options = _choices(spec, f) or []
        if isinstance(f, fields.Boolean):
            options = [("true", "Yes"), ("false", "No")]
        if f.allow_none or not f.required:
            options = [("", "—"), *options]
        w.options = options
    if kind == "number":
        if isinstance(f, fields.Integer):
            w.attrs["step"] = "1"
        else:
            scale = getattr(getattr(column, "type", None), "scale", None)
            w.attrs["step"] = str(Decimal(1).scaleb(-scale)) if scale else "any"
        w.attrs["inputmode"] = "decimal"
    length = getattr(getattr(column, "type", None), "length", None)
    if length and kind in ("text", "email", "url", "tel", "textarea"):
        w.attrs["maxlength"] = str(length)
    w.value = form_value(kind, value)
    return w


def _dress_picker(w: Widget, spec: FormField, value: Any) -> None:
    """A record picker: the record's title in a text input, its id kept beside it."""
    state, lookup, record_url = picker.widget_state(spec, value)
    w.value = state.text
    w.record_id = "" if state.record_id is None else str(state.record_id)
    w.matches = [{"id": m.id, "title": m.title, "url": record_url(m.id)} for m in state.matches]
    w.attrs.update({"autocomplete": "off", "spellcheck": "false", "placeholder": "Number or name"})
    if lookup:
        w.attrs["data-lookup"] = lookup


def form_value(kind: str, value: Any) -> Any:
    """A stored (dumped) value as the input shows it."""
    if kind == "checkbox":
        return value in (True, "1", "true", "on", "yes")
    if value is None:
        return ""
    if value is True or value is False:
        return "true" if value else "false"
    if kind == "datetime" and isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return value
        if parsed.tzinfo:
            parsed = parsed.astimezone(user_zone())
        return parsed.strftime("%Y-%m-%dT%H:%M")
    return str(value)


def form_to_payload(
    specs: list[FormField],
    schema_fields: dict[str, fields.Field],
    form: MultiDict,
    prefix: str = "",
    picked: dict[str, picker.Picked] | None = None,
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Submitted form values -> a JSON-like document for the schema, and page-level errors.

    Record pickers are resolved here, before any handler runs; what they resolved to is put
    in ``picked`` (by field name) so that the form shows the record's title again.
    """
    payload: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for spec in specs:
        f = schema_fields[spec.name]
        key = f.data_key or spec.name
        raw = form.get(prefix + spec.name)
        if spec.picks_record:
            found = picker.resolve_field(spec, form, prefix)
            if picked is not None:
                picked[spec.name] = found
            if found.error:
                errors[spec.name] = [found.error]
                continue
            raw = "" if found.record_id is None else str(found.record_id)
        kind = spec.widget or ("checkbox" if isinstance(f, fields.Boolean) else None)
        if kind == "checkbox":
            payload[key] = raw is not None
            continue
        raw = (
            (raw or "").strip()
            if not isinstance(f, fields.String) or isinstance(f, fields.Email | fields.URL)
            else (raw or "")
        )
        if raw == "" or (isinstance(f, fields.String) and raw.strip() == ""):
            if f.required:
                errors[spec.name] = ["Missing data for required field."]
            elif f.allow_none:
                payload[key] = None
            elif isinstance(f, fields.String):
                payload[key] = ""
            continue
        if bad_text(raw):
            errors[spec.name] = [BAD_TEXT]
            continue
        if isinstance(f, fields.DateTime) and "T" in raw and len(raw) <= 19:
            try:
                local = datetime.fromisoformat(raw).replace(tzinfo=user_zone())
                raw = local.isoformat()
            except ValueError:
                pass
        payload[key] = raw
    return payload, errors


# --------------------------------------------------------------------------- page model


@dataclass
class ChildTable:
    child: Child
    headers: list[str]
    rows: list[dict[str, Any]]  # {"index", "id", "widgets", "remove"}
    errors: list[str] = field(default_factory=list)


class ResourceUI:
    """What the templates need to know about a resource on this request."""

    def __init__(self, resource: Resource, blueprint: str) -> None:
        self.resource = resource
        self.blueprint = blueprint
        self.ep = endpoint_base(resource)
        self.perm = resource.permission

    def url(self, page: str, **values: Any) -> str:
        return url_for(f"{self.blueprint}.{self.ep}_{page}", **values)

    def action_url(self, action: Action, record_id: int) -> str:
        return url_for(
            f"{self.blueprint}.{self.ep}_action_{action.name.replace('-', '_')}",
            record_id=record_id,
        )

    @property
    def can_create(self) -> bool:
        return self.resource.can("create") and has_permission(f"{self.perm}.create")

    @property
    def can_import(self) -> bool:
        return self.resource.can("import") and has_permission(f"{self.perm}.create")

    @property
    def can_update(self) -> bool:
        return self.resource.can("update") and has_permission(f"{self.perm}.update")

    @property
    def can_delete(self) -> bool:
        return self.resource.can("delete") and has_permission(f"{self.perm}.delete")

    def actions_for(self, record: Any) -> list[Action]:
        return [
            a for a in self.resource.actions
            if has_permission(self.resource.action_permission(a)) and (a.when is None or a.when(record))
        ]  # fmt: skip

    def title(self, record: Any) -> str:
        return self.resource.record_title(record)

    def templates(self, page: str) -> list[str]:
        return [f"{self.blueprint}/{self.resource.name}_{page}.html", f"core/resource_{page}.html"]

    # ---------------------------------------------------------------- forms

    def widgets(
        self, values: dict[str, Any], errors: dict[str, Any]
    ) -> list[tuple[str, list[Widget]]]:
        schema_fields = self.resource.schema_instance.fields
        columns = self.resource.mapper.columns
        out = []
        for section in self.resource.form_sections:
            ws = []
            for spec in section.fields:
                assert isinstance(spec, FormField)
                f = schema_fields[spec.name]
                key = f.data_key or spec.name
                ws.append(
                    make_widget(
                        spec,
                        f,
                        columns.get(f.attribute or spec.name),
                        spec.name,
                        values.get(key),
                        errors.get(key),
                    )
                )
            out.append((section.title, ws))
        return out

    def child_tables(
        self, values: dict[str, Any], errors: dict[str, Any], extra: bool = True
    ) -> list[ChildTable]:
        tables = []
        for child in self.resource.children:
            schema = child.schema()
            model = self.resource.child_model(child)
            columns = model.__mapper__.columns
            specs = [c if isinstance(c, FormField) else FormField(c) for c in child.columns]
            rows_in = list(values.get(child.name) or [])
            child_errors = errors.get(child.name) or {}
            table = ChildTable(child, [s.title for s in specs], [])
            if isinstance(child_errors, list):
                table.errors = [str(e) for e in child_errors]
                child_errors = {}
            blank = max(child.extra_rows, 0) if extra else 0
            for index, row in enumerate([*rows_in, *([{}] * blank)]):
                row_errors = child_errors.get(index) or child_errors.get(str(index)) or {}
                ws = [
                    make_widget(s, schema.fields[s.name], columns.get(s.name), f"{child.name}-{index}-{s.name}", row.get(s.name), row_errors.get(s.name))
                    for s in specs
                ]  # fmt: skip
                for w in ws:
                    w.label = f"{w.label} (line {index + 1})"
                if isinstance(row_errors, dict) and row_errors.get("id"):
                    table.errors.extend(f"Line {index + 1}: {m}" for m in row_errors["id"])
                table.rows.append(
                    {
                        "index": index,
                        "id": row.get("id"),
                        "widgets": ws,
                        "remove": row.get("_remove", False),
                    }
                )
            tables.append(table)
        return tables

    def read_form(self, form: MultiDict) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        """(payload for the schema, values to show again, page-level errors) from a posted form."""
        schema_fields = self.resource.schema_instance.fields
        picked: dict[str, picker.Picked] = {}
        payload, errors = form_to_payload(
            self.resource.form_fields, schema_fields, form, picked=picked
        )
        shown: dict[str, Any] = {}
        for spec in self.resource.form_fields:
            f = schema_fields[spec.name]
            shown[f.data_key or spec.name] = (
                picked.get(spec.name, form.get(spec.name))
                if not isinstance(f, fields.Boolean) or spec.widget == "select"
                else spec.name in form
            )
        for child in self.resource.children:
            schema = child.schema()
            specs = [c if isinstance(c, FormField) else FormField(c) for c in child.columns]
            indexes = sorted(
                {
                    int(k.split("-")[1])
                    for k in form
                    if k.startswith(child.name + "-") and k.split("-")[1].isdigit()
                }
            )
            lines, shown_lines, line_errors = [], [], {}
            for index in indexes[:500]:
                p = f"{child.name}-{index}-"
                raw_id = form.get(p + "id", "").strip()
                filled = any(form.get(p + s.name, "").strip() for s in specs)
                if not raw_id and not filled:
                    continue
                removed = form.get(p + "remove") is not None
                shown_row: dict[str, Any] = {s.name: form.get(p + s.name) for s in specs}
                shown_row["_remove"] = removed
                if raw_id:
                    shown_row["id"] = raw_id
                shown_lines.append(shown_row)
                if removed:
                    continue
                row_picked: dict[str, picker.Picked] = {}
                row, row_errors = form_to_payload(
                    specs, schema.fields, form, prefix=p, picked=row_picked
                )
                shown_row.update(row_picked)
                if raw_id:
                    row["id"] = raw_id
                if row_errors:
                    line_errors[len(shown_lines) - 1] = row_errors
                lines.append(row)
            payload[child.name] = lines
            shown[child.name] = shown_lines
            if line_errors:
                errors[child.name] = line_errors
        return payload, shown, errors


# --------------------------------------------------------------------------- registration


def register_pages(bp: Blueprint, resource: Resource) -> None:
    """Add the generated pages of ``resource`` to an addon's ``web`` blueprint."""
    base = f"/{resource.name}"
    ep = endpoint_base(resource)
    perm = resource.permission

    def ui() -> ResourceUI:
        return ResourceUI(resource, bp.name)

    def crumbs(*extra: tuple[str, str | None]) -> list[tuple[str, str | None]]:
        return [("Home", url_for("home")), (resource.plural, ui().url("index")), *extra]

    # ------------------------------------------------------------------ list

    @permission_required(f"{perm}.read")
    def index() -> Any:
        page = ui()
        args = _page_args()
        error = None
        try:
            params = parse_list_params(resource, args, allow_format=False)
        except QueryError as exc:
            error = exc.message
            params = parse_list_params(resource, {})
            args = MultiDict()
        if "limit" not in args:
            params.limit = PAGE_SIZE
        result = run_list(session(), resource, params)
        rows = [
            {"record": r, "url": page.url("view", record_id=r.id), "cells": [display(resolve(r, c.name)) for c in resource.list_columns]}
            for r in result.items
        ]  # fmt: skip
        sort_key = (
            ",".join(("-" if d else "") + n for n, d in params.sort)
            if params.sort
            else resource.default_sort
        )

        def link(**changes: Any) -> str:
            merged = MultiDict(args)
            for k, v in changes.items():
                merged.pop(k, None)
                if v not in (None, ""):
                    merged[k] = v
            query = urlencode(list(merged.items(multi=True)))
            return request.path + ("?" + query if query else "")

        headers = []
        for i, col in enumerate(resource.list_columns):
            sortable = col.name in resource.sort_fields
            state = None
            if sort_key.lstrip("-") == col.name:
                state = "descending" if sort_key.startswith("-") else "ascending"
            target = f"-{col.name}" if state == "ascending" else col.name
            headers.append({
                "label": col.title, "sortable": sortable, "state": state,
                "url": link(sort=target, offset=None) if sortable else None,
                "link": col.link if col.link is not None else i == 0,
            })  # fmt: skip
        pages = max(1, math.ceil(result.total / params.limit))
        current = params.offset // params.limit + 1
        pagination = {
            "first": result.offset + 1 if result.items else 0,
            "last": result.offset + len(result.items),
            "total": result.total,
            "page": current,
            "pages": pages,
            "prev": link(offset=max(0, params.offset - params.limit) or None)
            if params.offset > 0
            else None,
            "next": link(offset=params.offset + params.limit)
            if params.offset + params.limit < result.total
            else None,
        }
        export_args = MultiDict(args)
        for k in ("limit", "offset"):
            export_args.pop(k, None)
        export_url = page.url("export") + (
            "?" + urlencode(list(export_args.items(multi=True))) if export_args else ""
        )
        return render_template(
            page.templates("list"), ui=page, resource=resource, rows=rows, headers=headers,
            pagination=pagination, filters=_filter_controls(resource, args), q=args.get("q", ""),
            sort=args.get("sort", ""), error=error, export_url=export_url, breadcrumbs=crumbs(),
            filtered=any(k not in ("sort", "limit", "offset") for k in args),
        ), (400 if error else 200)  # fmt: skip

    @permission_required(f"{perm}.read")
    def export() -> Any:
        args = _page_args()
        try:
            params = parse_list_params(resource, args, allow_format=False)
        except QueryError as exc:
            raise Problem(400, exc.message) from None
        params.limit = 0
        out = io.StringIO()
        csv_io.export_csv(session(), resource, params, out)
        return Response(
            out.getvalue(), mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{resource.name}.csv"'},
        )  # fmt: skip

    # ------------------------------------------------------------------ create

    @permission_required(f"{perm}.create")
    def new() -> Any:
        page = ui()
        values, errors, status, message = _defaults(resource), {}, 200, None
        if request.method == "POST":
            payload, shown, errors = page.read_form(request.form)
            values = shown
            if not errors:
                try:
                    record = write(
                        resource,
                        lambda db: create_record(db, resource, load_input(resource, payload)),
                    )
                    flash(f"{resource.singular} '{page.title(record)}' created.", "success")
                    return redirect(page.url("view", record_id=record.id))
                except Problem as p:
                    errors, status, message = p.errors or {}, p.status, p.detail
            if errors:
                status = 422 if status == 200 else status
                message = message or "Please correct the errors below."
        return render_template(
            page.templates("form"), ui=page, resource=resource, record=None, sections=page.widgets(values, errors),
            children=page.child_tables(values, errors), errors=_flat_errors(resource, errors), message=message,
            conflict=None, history=None, actions=[], version=None, action_url=page.url("new"),
            breadcrumbs=crumbs((f"New {resource.singular.lower()}", None)), editable=True,
        ), status  # fmt: skip

    # ------------------------------------------------------------------ view / edit

    @permission_required(f"{perm}.read")
    def view(record_id: int) -> Any:
        page = ui()
        db = session()
        record = _load(resource, record_id)
        status, errors, message, conflict = 200, {}, None, None
        values = resource.schema_instance.dump(record)
        if request.method == "POST":
            if not page.can_update:
                raise Problem(403, f"You lack the permission '{perm}.update'.", title="Forbidden")
            payload, shown, errors = page.read_form(request.form)
            raw_version = request.form.get("version", "")
            version = int(raw_version) if raw_version.isdigit() and len(raw_version) < 10 else None
            if not errors:
                try:

                    def work(db: Any) -> Any:
                        current = get_record(db, resource, record_id)
                        data = load_input(resource, payload, partial=True)
                        return update_record(db, resource, current, data, version)

                    record = write(resource, work)
                    flash(f"{resource.singular} '{page.title(record)}' saved.", "success")
                    return redirect(page.url("view", record_id=record_id))
                except Problem as p:
                    if p.title == "Edit conflict" or p.status == 428:
                        record = _load(resource, record_id)
                        current = resource.schema_instance.dump(record)
                        conflict = _conflict(resource, shown, current)
                        values, status, errors = current, 409, {}
                        message = None
                    else:
                        errors, status, message = p.errors or {}, p.status, p.detail
                        values = shown
            else:
                values = shown
            if errors and conflict is None:
                status = 422 if status == 200 else status
                message = message or "Please correct the errors below."
                record = _load(resource, record_id)
        history = [_history_row(h) for h in history_items(db, resource, record, limit=100)]
        return render_template(
            page.templates("form"), ui=page, resource=resource, record=record,
            sections=page.widgets(values, errors), children=page.child_tables(values, errors, extra=page.can_update),
            errors=_flat_errors(resource, errors), message=message, conflict=conflict, history=history,
            actions=page.actions_for(record), version=record.version if resource.has_version else None,
            action_url=page.url("view", record_id=record_id), editable=page.can_update,
            breadcrumbs=crumbs((page.title(record), None)),
        ), status  # fmt: skip

    # ------------------------------------------------------------------ delete

    @permission_required(f"{perm}.delete")
    def delete(record_id: int) -> Any:
        page = ui()
        record = _load(resource, record_id)
        title = page.title(record)
        if request.method == "POST":
            try:
                write(
                    resource,
                    lambda db: delete_record(db, resource, get_record(db, resource, record_id)),
                )
            except Problem as p:
                flash(p.detail, "error")
                return redirect(page.url("view", record_id=record_id))
            flash(f"{resource.singular} '{title}' deleted.", "success")
            return redirect(page.url("index"))
        return render_template(
            page.templates("delete"), ui=page, resource=resource, record=record, title=title,
            breadcrumbs=crumbs((title, page.url("view", record_id=record_id)), ("Delete", None)),
        )  # fmt: skip

    # ------------------------------------------------------------------ import

    @permission_required(f"{perm}.create")
    def import_page() -> Any:
        page = ui()
        result, status = None, 200
        if request.method == "POST":
            upload = request.files.get("file")
            update = "update" in request.form
            if upload is None or not upload.filename:
                flash("Choose a CSV file to import.", "error")
                status = 400
            elif update and not page.can_update:
                flash(f"Updating by import needs the permission '{perm}.update'.", "error")
                status = 403
            else:
                content = upload.stream.read()
                result = write(
                    resource,
                    lambda db: csv_io.import_csv(
                        db, resource, io.BytesIO(content),
                        dry_run="dry_run" in request.form, skip_errors="skip_errors" in request.form,
                        update=update,
                    ),
                    keep=lambda r: not r.failed and not r.dry_run,
                )  # fmt: skip
                if result.failed or result.dry_run:
                    status = 422 if result.failed else 200
                else:
                    flash(f"Import of {resource.plural.lower()}: {result.summary()}.", "success")
                    if not result.errors:
                        return redirect(page.url("index"))
        columns = [
            {"name": name, "required": f.required, "help": f.metadata.get("description")}
            for name, f in csv_io.import_fields(resource).items()
        ]  # fmt: skip
        return render_template(
            page.templates("import"), ui=page, resource=resource, result=result, columns=columns,
            breadcrumbs=crumbs(("Import", None)),
        ), status  # fmt: skip

    base_rules = [
        ("/", "index", index, ["GET"]),
        ("/export.csv", "export", export, ["GET"]),
        ("/lookup", "lookup", picker.lookup_view(resource), ["GET"]),
        (f"/{ID}", "view", view, ["GET", "POST"]),
    ]
    if resource.can("create"):
        base_rules.append(("/new", "new", new, ["GET", "POST"]))
    if resource.can("import"):
        base_rules.append(("/import", "import", import_page, ["GET", "POST"]))
    if resource.can("delete"):
        base_rules.append((f"/{ID}/delete", "delete", delete, ["GET", "POST"]))
    for rule, name, view_func, methods in base_rules:
        bp.add_url_rule(base + rule, f"{ep}_{name}", view_func, methods=methods)
    picker.register_pickers(bp, resource)
    for action in resource.actions:
        bp.add_url_rule(
            f"{base}/{ID}/{action.name}", f"{ep}_action_{action.name.replace('-', '_')}",
            _action_page(resource, action, ui, crumbs), methods=["GET", "POST"],
        )  # fmt: skip


def action_form(action: Action, schema: Any) -> list[FormField]:
    """The fields of an action's page: its declared ``form``, else its schema's input fields."""
    if schema is None:
        return []
    if action.form:
        return [f if isinstance(f, FormField) else FormField(f) for f in action.form]
    return [FormField(name) for name in schema.load_fields]


def _action_page(resource: Resource, action: Action, ui: Any, crumbs: Any) -> Any:
    @permission_required(resource.action_permission(action))
    def run(record_id: int) -> Any:
        page = ui()
        record = _load(resource, record_id)
        title = page.title(record)
        schema = action.schema() if action.schema else None
        specs = action_form(action, schema)
        values: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        status = 200
        if request.method == "POST":
            picked: dict[str, picker.Picked] = {}
            payload, errors = (
                form_to_payload(specs, schema.fields, request.form, picked=picked)
                if schema
                else ({}, {})
            )
            values = {s.name: picked.get(s.name, request.form.get(s.name)) for s in specs}
            if not errors:
                try:

                    def work(db: Any) -> Any:
                        data = load_payload(schema, payload) if schema else {}
                        return run_action(
                            db, resource, action, get_record(db, resource, record_id), data
                        )

                    write(resource, work)
                    flash(f"{action.title}: done.", "success")
                    return redirect(page.url("view", record_id=record_id))
                except Problem as p:
                    if not p.errors or not schema:
                        flash(p.detail, "error")
                        return redirect(page.url("view", record_id=record_id))
                    errors, status = p.errors, p.status
            status = 422 if status == 200 else status
        widgets = (
            [
                make_widget(
                    s, schema.fields[s.name], None, s.name, values.get(s.name), errors.get(s.name)
                )
                for s in specs
            ]
            if schema
            else []
        )
        return render_template(
            page.templates("action"), ui=page, resource=resource, record=record, action=action, widgets=widgets,
            errors=_flat_errors(resource, errors), title=title, post_url=page.action_url(action, record_id),
            breadcrumbs=crumbs((title, page.url("view", record_id=record_id)), (action.title, None)),
        ), status  # fmt: skip

    run.__name__ = f"action_page_{action.name}"
    return run


# --------------------------------------------------------------------------- helpers


def _page_args() -> MultiDict:
    """The query string without empty inputs; the status select's "all" made a filter."""
    args = MultiDict([(k, v) for k, v in request.args.items(multi=True) if v.strip() != ""])
    if args.get("archived") == "all":
        args.pop("archived")
        args["archived__in"] = "true,false"
    return args


def _load(resource: Resource, record_id: int) -> Any:
    try:
        return get_record(session(), resource, record_id)
    except LookupError:
        raise Problem(
            404, f"{resource.singular} {record_id} does not exist (or you may not see it)."
        ) from None


def _defaults(resource: Resource) -> dict[str, Any]:
    values = {}
    for name, f in resource.schema_instance.load_fields.items():
        default = f.load_default
        if default is not None and not callable(default) and default is not missing:
            values[f.data_key or name] = default
    return values


def _flat_errors(resource: Resource, errors: dict[str, Any]) -> list[tuple[str | None, str]]:
    """(input id or None, message) for the error summary at the top of a form."""
    labels = {f.name: f.title for f in resource.form_fields}
    out: list[tuple[str | None, str]] = []
    for key, messages in errors.items():
        if key == "_schema":
            out.extend((None, str(m)) for m in messages)
            continue
        if isinstance(messages, dict):
            child = next((c for c in resource.children if c.name == key), None)
            for index, line in messages.items():
                for fname, fmsgs in line.items() if isinstance(line, dict) else [("", line)]:
                    text = (
                        "; ".join(str(m) for m in fmsgs) if isinstance(fmsgs, list) else str(fmsgs)
                    )
                    anchor = f"f-{key}-{index}-{fname}" if fname and fname != "id" else None
                    title = child.title if child else humanize(key)
                    out.append(
                        (
                            anchor,
                            f"{title}, line {int(index) + 1}: {humanize(fname) + ': ' if fname else ''}{text}",
                        )
                    )
            continue
        items = messages if isinstance(messages, list) else [messages]
        anchor = f"f-{key}" if key in labels else None
        for m in items:
            out.append((anchor, f"{labels.get(key, humanize(key))}: {m}"))
    return out


def _conflict(
    resource: Resource, mine: dict[str, Any], current: dict[str, Any]
) -> list[dict[str, str]]:
    """Fields whose submitted value differs from the record's current value."""
    rows = []
    for spec in resource.form_fields:
        f = resource.schema_instance.fields[spec.name]
        key = f.data_key or spec.name
        kind = widget_kind(spec, f, None)
        theirs, ours = form_value(kind, current.get(key)), form_value(kind, mine.get(key))
        if str(theirs) != str(ours):
            rows.append({"label": spec.title, "mine": display(ours), "current": display(theirs)})
    return rows


def _history_row(entry: dict[str, Any]) -> dict[str, Any]:
    at = entry.get("at")
    try:
        when = display(datetime.fromisoformat(at)) if isinstance(at, str) else display(at)
    except ValueError:
        when = str(at)
    user = entry.get("user") or {}
    changes = [
        {
            "field": humanize(name),
            "old": display(change.get("old")),
            "new": display(change.get("new")),
        }
        for name, change in (entry.get("changes") or {}).items()
        if isinstance(change, dict)
    ]
    return {
        "when": when,
        "who": user.get("name") or "System",
        "action": humanize(str(entry.get("action", ""))),
        "changes": changes,
    }


def filter_label(name: str) -> str:
    """``owner_id`` -> "Owner"; ``tags.name`` -> "Tags"; ``addresses.country`` -> "Addresses: country"."""
    if "." not in name:
        return humanize(name)
    relation, column = name.split(".", 1)
    if column in ("name", "title", "label"):
        return humanize(relation)
    return f"{humanize(relation)}: {humanize(column).lower()}"


def _filter_controls(resource: Resource, args: MultiDict) -> list[dict[str, Any]]:
    """Inputs of the filter bar: one control per operator the page offers."""
    controls = []
    for name, spec in resource.filter_specs.items():
        label = spec.label or filter_label(name)
        py = column_python_type(resource, name)
        ops = filter_operators(resource, name)
        if spec.choices is not None:
            controls.append(_choice_control(spec, name, label, args.get(name, "")))
            continue
        if name == "archived":
            current = "all" if args.get("archived__in") else args.get("archived", "")
            controls.append(
                {"kind": "archived", "name": "archived", "label": "Status", "value": current}
            )
            continue
        input_type = (
            "number"
            if py in (int, float, Decimal)
            else "date"
            if py in (date, datetime)
            else "text"
        )
        if py is bool:
            controls.append(
                {"kind": "bool", "name": name, "label": label, "value": args.get(name, "")}
            )
        elif "gte" in ops:
            controls.append({
                "kind": "range", "name": name, "label": label, "type": input_type,
                "gte": args.get(f"{name}__gte", ""), "lte": args.get(f"{name}__lte", ""),
                "step": "any" if input_type == "number" else None,
            })  # fmt: skip
        elif "contains" in ops:
            controls.append(
                {
                    "kind": "text",
                    "name": f"{name}__contains",
                    "label": label,
                    "value": args.get(f"{name}__contains", ""),
                }
            )
        else:
            controls.append(
                {
                    "kind": "text",
                    "name": name,
                    "label": label,
                    "value": args.get(name, ""),
                    "type": input_type,
                }
            )
    return controls


def _choice_control(spec: Filter, name: str, label: str, current: str) -> dict[str, Any]:
    """A ``<select>`` of the filter's choices with an empty "Any" first.

    The current value is matched in its stored form (``?addresses.country=de`` selects
    "DE"); a value the computed choices no longer hold is kept as an option so that the
    page still shows what it filters on.
    """
    options = [(str(v), str(text)) for v, text in spec.choice_list(session())]
    value = current
    if current and spec.reads_values:
        try:
            value = spec.normalised(current)
        except ValueError:
            value = current
    if value and value not in {v for v, _text in options}:
        options.append((value, value))
    return {"kind": "select", "name": name, "label": label, "value": value, "options": options}


__all__ = ["MAX_LIMIT", "ResourceUI", "display", "register_pages"]
