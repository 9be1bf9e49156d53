"""OpenAPI operations of the generated endpoints, described from the resource declaration."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import Schema, fields
from sqlalchemy import BigInteger, Integer, Numeric, SmallInteger, String
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.types import TypeDecorator
from werkzeug.routing import Rule

from core.resources.declaration import Action, Filter, Resource
from core.resources.openapi import _problem_response, decimal_minimum, python_type_schema
from core.resources.query import (
    DEFAULT_LIMIT,
    MAX_IN_VALUES,
    MAX_LIMIT,
    column_python_type,
    filter_column_type,
    filter_operators,
)

TEXT_PATTERN = "^[^\\x00]*$"


def _errors(*codes: int) -> dict[str, Any]:
    return {str(c): _problem_response(c) for c in codes}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


ETAG = {
    "ETag": {"description": "The record's version, for If-Match.", "schema": {"type": "string"}}
}


def generated_operation(
    builder: Any, rule: Rule, meta: tuple[Resource, str, Action | None], method: str
) -> dict[str, Any]:
    resource, kind, action = meta
    refs = builder.resource_schemas(resource)
    _constrain_components(builder, resource)
    addon = rule.endpoint.split(".", 1)[0].removesuffix("_api")
    tag = f"{addon}: {resource.name}"
    builder.tags.setdefault(tag, resource.description or f"{resource.plural} of the {addon} addon.")
    one = resource.singular.lower()
    op: dict[str, Any] = {"tags": [tag]}
    record_errors = (404,)
    body_errors = (400, 413, 415, 422)
    if kind == "list":
        op["summary"] = f"List {resource.plural.lower()}"
        op["description"] = _list_description(resource)
        op["parameters"] = list_parameters(resource)
        page = {
            "type": "object",
            "required": ["items", "total", "limit", "offset"],
            "properties": {
                "items": {"type": "array", "items": refs["list"]},
                "total": {"type": "integer", "minimum": 0},
                "limit": {"type": "integer"},
                "offset": {"type": "integer"},
            },
        }
        op["responses"] = {
            "200": {
                "description": f"A page of {resource.plural.lower()} (or every match as CSV with format=csv).",
                "content": {**_json(page), "text/csv": {"schema": {"type": "string"}}},
            },
            **_errors(400),
        }
    elif kind == "get":
        op["summary"] = f"Get one {one}"
        op["responses"] = {
            "200": {"description": f"The {one}.", "headers": ETAG, "content": _json(refs["out"])},
            **_errors(*record_errors),
        }
    elif kind == "create":
        op["summary"] = f"Create a {one}"
        op["requestBody"] = {"required": True, "content": _json(refs["create"])}
        op["responses"] = {
            "201": {
                "description": f"The new {one}.",
                "headers": {
                    **ETAG,
                    "Location": {
                        "description": "URL of the new record.",
                        "schema": {"type": "string"},
                    },
                },
                "content": _json(refs["out"]),
            },
            **_errors(*body_errors, 409),
        }
    elif kind == "update":
        op["summary"] = f"Update a {one}"
        op["description"] = (
            "Send only the fields to change, with the `version` you edited (from GET or the ETag). "
            "A stale version is a 409, with the current one in `current_version`. (Clients that "
            "prefer HTTP preconditions may send the ETag as `If-Match` instead of `version`; "
            "without either, a 428.) Lines of nested collections: send the whole list; lines "
            "with an `id` are updated, without are added, lines left out are removed."
        )
        op["requestBody"] = {"required": True, "content": _json(refs["update"])}
        op["responses"] = {"200": {"description": f"The updated {one}.", "headers": ETAG, "content": _json(refs["out"])},
                           **_errors(*body_errors, *record_errors, 409, 428)}  # fmt: skip
    elif kind == "delete":
        op["summary"] = f"Delete a {one}"
        op["description"] = "A 409 explains which records still refer to it."
        op["responses"] = {"204": {"description": "Deleted."}, **_errors(*record_errors, 409)}
    elif kind == "history":
        op["summary"] = f"History of a {one}"
        op["description"] = (
            "Every audited change of the record: who, when, which fields, old and new values; newest first."
        )
        entries = {"type": "object", "required": ["items", "total"], "properties": {
            "items": {"type": "array", "items": _history_entry(builder)}, "total": {"type": "integer"}}}  # fmt: skip
        op["responses"] = {
            "200": {"description": "The audit trail.", "content": _json(entries)},
            **_errors(*record_errors),
        }
    elif kind == "import":
        op["summary"] = f"Import {resource.plural.lower()} from CSV"
        op["description"] = (
            "The first line names the columns (the schema's fields). Every row is validated like a "
            "POST; by default nothing is saved when a row fails (422 with the rows' errors)."
        )
        op["parameters"] = [
            {
                "name": "dry_run",
                "in": "query",
                "schema": {"type": "boolean", "default": False},
                "description": "Validate only; save nothing.",
            },
            {
                "name": "skip_errors",
                "in": "query",
                "schema": {"type": "boolean", "default": False},
                "description": "Save the valid rows, report the others.",
            },
            {
                "name": "update",
                "in": "query",
                "schema": {"type": "boolean", "default": False},
                "description": "Rows with an `id` update that record (the `version` column must "
                "still be the record's; an empty cell clears the field); rows without one are "
                "created. Needs the update permission.",
            },
        ]
        op["requestBody"] = {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
        op["responses"] = {
            "200": {"description": "What was imported.", "content": _json(_import_result(builder))},
            **_errors(*body_errors),
        }
    elif kind == "action" and action is not None:
        op["summary"] = (
            action.description.splitlines()[0] if action.description else f"{action.title} a {one}"
        )
        op["description"] = action.description or ""
        if action.schema is not None:
            body = builder.ref(action.schema)
            needed = any(f.required for f in action.schema().load_fields.values())
            op["requestBody"] = {"required": needed, "content": _json(body)}
        else:
            op["requestBody"] = {
                "required": False,
                "content": _json({"type": "object", "maxProperties": 0}),
            }
        out = builder.ref(action.response) if action.response else refs["out"]
        op["responses"] = {
            "200": {"description": "The result.", "content": _json(out)},
            **_errors(*body_errors, *record_errors, 409),
        }
    return op


def _list_description(resource: Resource) -> str:
    parts = ["`limit` (default 50, at most 500) and `offset` page the list."]
    if resource.search:
        parts.append(f"`q` searches {', '.join(resource.search)} (every word must match).")
    parts.append(
        f"`sort` takes {', '.join(resource.sort_fields)}, comma-separated, `-` for descending."
    )
    if resource.has_archive:
        parts.append("Archived records are left out unless `archived` is filtered.")
    parts.append(
        "An unknown parameter is a 400 that lists the allowed ones. `format=csv` exports every match."
    )
    return " ".join(parts)


DATE = r"[1-9]\d{3}-(0[1-9]|1[0-2])-(0[1-9]|1\d|2[0-8])"
TIMESTAMP = (
    DATE + r"(T([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?(Z|[+-](0\d|1[0-3]):[0-5]\d)?)?"
)


def _in_pattern(item: dict[str, Any]) -> str:
    """Comma-separated values of the item's type (dates limited to days every month has)."""
    if item.get("type") == "integer":
        one = r"[+-]?\d{1,9}"
    elif item.get("type") == "number":
        one = r"[+-]?\d{1,15}(\.\d{1,10})?"
    elif item.get("type") == "boolean":
        one = "(true|false)"
    elif item.get("format") == "date":
        one = DATE
    elif item.get("format") == "date-time":
        one = TIMESTAMP
    elif item.get("enum"):
        one = "(" + "|".join(re.escape(str(v)) for v in item["enum"]) + ")"
    else:
        one = "[^,\\x00]+"
    return f"^{one}(,{one})*$"


def list_parameters(resource: Resource) -> list[dict[str, Any]]:
    names = "|".join(re.escape(n) for n in resource.sort_fields)
    params: list[dict[str, Any]] = [
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}},
        {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 2147483647, "default": 0}},
        {"name": "sort", "in": "query", "schema": {"type": "string", "pattern": f"^-?({names})(,-?({names}))*$"},
         "description": f"Comma-separated fields among {', '.join(resource.sort_fields)}; '-' for descending."},
        {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["json", "csv"], "default": "json"}},
    ]  # fmt: skip
    if resource.search:
        params.insert(2, {"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 200, "pattern": TEXT_PATTERN},
                          "description": _search_description(resource)})  # fmt: skip
    for name, spec in resource.filter_specs.items():
        py = column_python_type(resource, name)
        base = _filter_schema(resource, name, py)
        for op in filter_operators(resource, name):
            if op == "":
                schema, text = (
                    base,
                    f"{name} equals (a date matches the whole day)."
                    if base.get("format") == "date-time"
                    else f"{name} equals.",
                )
            elif op == "in":
                schema = {"type": "string", "pattern": _in_pattern(base)}
                text = f"{name} is one of these comma-separated values (at most {MAX_IN_VALUES})."
            elif op == "gte":
                schema, text = base, f"{name} is at least this."
            elif op == "lte":
                schema, text = base, f"{name} is at most this (a date includes the whole day)."
            elif op == "contains":
                schema, text = (
                    {"type": "string", "maxLength": 200, "pattern": TEXT_PATTERN},
                    f"{name} contains this text (any case).",
                )
            else:
                schema, text = {"type": "boolean"}, f"{name} is empty (true) or set (false)."
            if op in ("", "in"):
                text += _values_note(spec)
            params.append(
                {
                    "name": name if not op else f"{name}__{op}",
                    "in": "query",
                    "schema": dict(schema),
                    "description": text + _related_note(resource, name),
                }
            )
    return params


def _values_note(spec: Filter) -> str:
    """How a declared filter reads its values (empty for a plain one)."""
    parts = []
    if spec.normalise in ("upper", "lower"):
        parts.append(f"Read in {spec.normalise} case; the case typed does not matter.")
    elif spec.normalise is not None:
        parts.append("Read in its stored form (the case typed does not matter).")
    if spec.values is not None:
        parts.append("Only the values listed are accepted; any other is a 400.")
    if spec.help:
        parts.append(spec.help)
    return "".join(" " + p for p in parts)


def _related_note(resource: Resource, name: str) -> str:
    """How a filter on a related record reads (empty for the model's own columns)."""
    target = resource.filter_fields[name]
    if target.relationship is None:
        return ""
    rel, column = target.relationship.key, target.column.key
    if target.many:
        return (
            f" Keeps the {resource.plural.lower()} with at least one of their {rel} whose "
            f"{column} matches; every {rel}.* filter must hold for that same one."
        )
    return f" Reads the {column} of the record's {rel}; records without one are left out."


def _filter_schema(resource: Resource, name: str, py: type) -> dict[str, Any]:
    import enum

    if isinstance(py, type) and issubclass(py, enum.Enum):
        return {"type": "string", "enum": [str(m.value) for m in py]}
    spec = resource.filter_specs[name]
    if spec.values is not None:  # the declared choices, in the stored form
        values = [v.value if isinstance(v, enum.Enum) else v for v, _label in spec.options]
        return {**python_type_schema(py), "enum": values}
    schema = python_type_schema(py)
    column_type = filter_column_type(resource, name)
    if isinstance(column_type, TypeDecorator):
        column_type = column_type.impl
    if py is int:
        bits = (
            63
            if isinstance(column_type, BigInteger)
            else 15
            if isinstance(column_type, SmallInteger)
            else 31
        )
        schema.update(minimum=-(2**bits), maximum=2**bits - 1)
    if schema.get("type") == "string" and "format" not in schema:
        schema["pattern"] = TEXT_PATTERN
    return schema


# --------------------------------------------------------------------------- components


def _history_entry(builder: Any) -> dict[str, Any]:
    name = "HistoryEntry"
    if name not in builder.spec.components.schemas:
        builder.spec.components.schema(name, {
            "type": "object",
            "required": ["id", "at", "action", "user", "changes"],
            "properties": {
                "id": {"type": "integer"},
                "at": {"type": "string", "format": "date-time"},
                "action": {"type": "string", "description": "create, update, delete, or an addon's own (merge...)"},
                "user": {"type": "object", "nullable": True, "properties": {
                    "id": {"type": "integer"}, "name": {"type": "string", "nullable": True}}},
                "changes": {"type": "object", "additionalProperties": {
                    "type": "object", "properties": {"old": {"nullable": True}, "new": {"nullable": True}}}},
            },
        })  # fmt: skip
    return {"$ref": f"#/components/schemas/{name}"}


def _import_result(builder: Any) -> dict[str, Any]:
    name = "ImportResult"
    if name not in builder.spec.components.schemas:
        builder.spec.components.schema(name, {
            "type": "object",
            "required": ["rows", "created", "updated", "skipped", "dry_run", "errors"],
            "properties": {
                "rows": {"type": "integer"}, "created": {"type": "integer"}, "updated": {"type": "integer"},
                "skipped": {"type": "integer"}, "dry_run": {"type": "boolean"},
                "ignored_columns": {"type": "array", "items": {"type": "string"}},
                "ids": {"type": "array", "items": {"type": "integer"}, "description": "of the records created"},
                "updated_ids": {"type": "array", "items": {"type": "integer"}},
                "errors": {"type": "array", "items": {"type": "object", "properties": {
                    "line": {"type": "integer"}, "errors": {"type": "object", "additionalProperties": True}}}},
            },
        })  # fmt: skip
    return {"$ref": f"#/components/schemas/{name}"}


def _constrain_components(builder: Any, resource: Resource) -> None:
    """Add what the columns impose (length, integer range, digits) to the schemas' properties."""
    done = builder.__dict__.setdefault("_constrained", set())
    if resource in done:
        return
    done.add(resource)
    out_name = builder.ref(resource.schema)["$ref"].rsplit("/", 1)[1]
    targets = [
        (builder.component(out_name), resource.schema_instance, resource.model),
        (builder.component(f"{out_name}Create"), resource.schema_instance, resource.model),
        (builder.component(f"{out_name}Update"), resource.schema_instance, resource.model),
    ]
    if resource.list_schema:
        list_name = builder.ref(resource.list_schema)["$ref"].rsplit("/", 1)[1]
        targets.append(
            (builder.component(list_name), resource.list_schema_instance, resource.model)
        )
    for child in resource.children:
        child_name = builder.ref(child.schema)["$ref"].rsplit("/", 1)[1]
        targets.append((builder.component(child_name), child.schema(), resource.child_model(child)))
    for component, schema, model in targets:
        constrain(component, schema, model)


def constrain(component: dict[str, Any], schema: Schema, model: type) -> None:
    columns = sa_inspect(model).columns
    props = component.get("properties", {})
    for name, f in schema.fields.items():
        prop = props.get(f.data_key or name)
        if prop is None or "$ref" in prop:
            continue
        column = columns.get(f.attribute or name)
        column_type = getattr(column, "type", None)
        if isinstance(column_type, TypeDecorator):
            column_type = column_type.impl
        if isinstance(f, fields.String) and prop.get("type") == "string":
            length = (
                getattr(column_type, "length", None) if isinstance(column_type, String) else None
            )
            if length and "maxLength" not in prop:
                prop["maxLength"] = length
            if "pattern" not in prop and not prop.get("format"):
                prop["pattern"] = TEXT_PATTERN
        elif isinstance(f, fields.Integer) and isinstance(column_type, Integer):
            bits = (
                63
                if isinstance(column_type, BigInteger)
                else 15
                if isinstance(column_type, SmallInteger)
                else 31
            )
            prop.setdefault("minimum", -(2**bits))
            prop.setdefault("maximum", 2**bits - 1)
        elif (
            isinstance(f, fields.Decimal)
            and isinstance(column_type, Numeric)
            and column_type.precision
        ):
            p, s = column_type.precision, column_type.scale or 0
            low = decimal_minimum(f)
            sign = "" if low is not None and low >= 0 else "-?"
            prop["pattern"] = (
                f"^{sign}\\d{{1,{p - s}}}(\\.\\d{{1,{s}}})?$" if s else f"^{sign}\\d{{1,{p}}}$"
            )


def _search_description(resource: Resource) -> str:
    """What ``q`` searches; a ``search_terms`` hook may add a ``description`` of its own."""
    text = f"Every word must match one of: {', '.join(resource.search)}."
    extra = getattr(resource.search_terms, "description", None)
    return f"{text} {extra}" if extra else text
