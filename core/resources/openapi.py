"""The OpenAPI 3 description of every REST route, generated and custom, built with apispec.

Generated endpoints are described from their resource declaration (schemas, filters, sort
fields, actions). Custom endpoints are found in the app's URL map; describe them with
:func:`api_doc` (request and response schemas, extra responses), otherwise they get a summary
from their docstring and generic bodies. Protected routes (``core.access`` decorators) carry
the bearer security requirement and their 401/403 answers; every operation documents its
problem+json errors. Served at ``/api/v1/openapi.json``; ``/api-docs`` renders it as a page.

A custom marshmallow field describes itself with class attributes (apispec cannot guess what
``_serialize`` returns): ``openapi_schema`` is the JSON schema of its value (``{"type":
"string"}``...), used wherever the field appears, and ``openapi_input_schema``, if set, what
it accepts in the create and update bodies when that is more than it answers. The field's
``metadata`` (description, example...) still adds to both.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask, current_app, render_template
from marshmallow import Schema, fields
from werkzeug.routing import Rule

from core import __version__
from core.problems import PROBLEM_MIME

OPENAPI_VERSION = "3.0.3"
PROBLEM = {"$ref": "#/components/schemas/Problem"}
ERROR_TEXT = {
    400: "Malformed request: bad JSON, unknown or invalid query parameter.",
    401: "Authentication is required (send a bearer token).",
    403: "The caller lacks the permission.",
    404: "No such record (or not visible to the caller).",
    409: "Conflict: stale version, still referenced, duplicate value or a business rule.",
    413: "The request body is too large.",
    415: "Wrong content type.",
    422: "Validation failed: per-field messages in `errors`.",
    428: "The record's version is required (body `version` or If-Match).",
    429: "Too many requests.",
}
_CONVERTER_TYPES = {
    "IntegerConverter": {"type": "integer", "minimum": 0, "maximum": 9223372036854775807},
    "FloatConverter": {"type": "number"},
    "UUIDConverter": {"type": "string", "format": "uuid"},
}


def api_doc(
    *,
    summary: str | None = None,
    description: str | None = None,
    body: type[Schema] | Schema | dict[str, Any] | None = None,
    response: type[Schema] | Schema | dict[str, Any] | None = None,
    status: int = 200,
    query: list[dict[str, Any]] | None = None,
    errors: tuple[int, ...] = (),
    tags: list[str] | None = None,
    content_type: str = "application/json",
) -> Callable[[Any], Any]:
    """Describe a custom API route for the OpenAPI document.

    ``body``/``response`` take a marshmallow schema (class or instance, ``many=True`` for a
    list) or a JSON-schema dict; ``status`` is the success status; ``query`` lists OpenAPI
    parameter objects; ``errors`` adds statuses to the documented problem responses.
    Works above or below ``permission_required``.
    """

    def decorate(view: Any) -> Any:
        view.mosaic_openapi = {
            "summary": summary, "description": description, "body": body, "response": response,
            "status": status, "query": query or [], "errors": errors, "tags": tags,
            "content_type": content_type,
        }  # fmt: skip
        return view

    return decorate


# --------------------------------------------------------------------------- builder


class SpecBuilder:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self.names: dict[type, str] = {}
        self.plugin = MarshmallowPlugin(schema_name_resolver=self.schema_name)
        self.spec = APISpec(
            title="Mosaic API",
            version=__version__,
            openapi_version=OPENAPI_VERSION,
            plugins=[self.plugin],
            info={
                "description": (
                    "REST API of this Mosaic instance: one section per installed addon. Lists take "
                    "`limit` (default 50, at most 500), `offset`, `q`, `sort=-field` and filters; "
                    "errors are `application/problem+json` (RFC 9457)."
                )
            },
        )
        self.plugin.converter.add_attribute_function(_decimal_as_string)
        self.plugin.converter.add_attribute_function(_declared_by_the_field)
        self.spec.components.security_scheme(
            "bearerAuth",
            {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
             "description": "An access token from POST /api/v1/auth/login, or a personal API token."},
        )  # fmt: skip
        self.spec.components.schema("Problem", _problem_schema())
        self.tags: dict[str, str] = {}

    @property
    def converter(self) -> Any:
        return self.plugin.converter

    # ---------------------------------------------------------------- schemas

    def schema_name(self, schema: Any) -> str:
        cls = schema if isinstance(schema, type) else type(schema)
        if cls in self.names:
            return self.names[cls]
        base = cls.__name__.removesuffix("Schema") or cls.__name__
        name = base
        if name in self.names.values() or name in ("Problem",):
            owner = cls.__module__.split(".")[1 if cls.__module__.startswith("addons.") else 0]
            name = f"{owner.title().replace('_', '')}{base}"
            n = 2
            while name in self.names.values():
                name, n = f"{owner.title()}{base}{n}", n + 1
        self.names[cls] = name
        return name

    def ref(self, schema: Any) -> dict[str, Any]:
        """A $ref to the component of a schema (registered on first use)."""
        if isinstance(schema, dict):
            return schema
        many = getattr(schema, "many", False) and not isinstance(schema, type)
        cls = schema if isinstance(schema, type) else type(schema)
        ref = self.converter.resolve_nested_schema(cls)
        return {"type": "array", "items": ref} if many else ref

    def component(self, name: str) -> dict[str, Any]:
        return self.spec.components.schemas[name]

    def resource_schemas(self, resource: Any) -> dict[str, Any]:
        """$refs of a resource's output, list-item, create-body and update-body schemas."""
        out_ref = self.ref(resource.schema)
        name = out_ref["$ref"].rsplit("/", 1)[1]
        _mark_nullable(self.component(name), resource.schema_instance, resource.model)
        for child in resource.children:
            child_ref = self.ref(child.schema)
            _mark_nullable(
                self.component(child_ref["$ref"].rsplit("/", 1)[1]),
                child.schema(),
                resource.child_model(child),
            )
        list_ref = self.ref(resource.list_schema) if resource.list_schema else out_ref
        if resource.list_schema:
            _mark_nullable(
                self.component(list_ref["$ref"].rsplit("/", 1)[1]),
                resource.list_schema_instance,
                resource.model,
            )
        create_name, update_name = f"{name}Create", f"{name}Update"
        if create_name not in self.spec.components.schemas:
            body = self.converter.schema2jsonschema(resource.schema_instance)
            body = _with_input_schemas(_writable(body), resource.schema_instance)
            self.spec.components.schema(create_name, body)
            update = {
                **body,
                "properties": {
                    k: {x: y for x, y in v.items() if x != "default"}
                    for k, v in body.get("properties", {}).items()
                },
            }
            update.pop("required", None)
            if resource.has_version:
                update["properties"]["version"] = {
                    "type": "integer", "minimum": 0, "maximum": 2147483647,
                    "description": "The version you edited (from GET); a stale one is a 409.",
                }  # fmt: skip
                update["required"] = ["version"]
            self.spec.components.schema(update_name, update)
        return {
            "out": out_ref,
            "list": list_ref,
            "create": {"$ref": f"#/components/schemas/{create_name}"},
            "update": {"$ref": f"#/components/schemas/{update_name}"},
        }

    # ---------------------------------------------------------------- build

    def build(self) -> dict[str, Any]:
        grouped: dict[str, dict[str, Any]] = {}
        path_params: dict[str, list[dict[str, Any]]] = {}
        for rule in sorted(self.app.url_map.iter_rules(), key=lambda r: r.rule):
            if not rule.rule.startswith("/api/"):
                continue
            view = self.app.view_functions[rule.endpoint]
            path = re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule.rule)
            path_params[path] = self.path_parameters(rule)
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                op = self.operation(rule, view, method)
                grouped.setdefault(path, {})[method.lower()] = op
        for path, operations in grouped.items():
            self.spec.path(path=path, operations=operations, parameters=path_params[path] or None)
        for tag, description in sorted(self.tags.items()):
            self.spec.tag({"name": tag, "description": description})
        return self.spec.to_dict()

    def path_parameters(self, rule: Rule) -> list[dict[str, Any]]:
        params = []
        for name, conv in (rule._converters or {}).items():
            schema = dict(_CONVERTER_TYPES.get(type(conv).__name__, {"type": "string"}))
            if type(conv).__name__ == "IntegerConverter" and getattr(conv, "max", None):
                schema["maximum"] = conv.max
            params.append({"name": name, "in": "path", "required": True, "schema": schema})
        return params

    def operation(self, rule: Rule, view: Any, method: str) -> dict[str, Any]:
        generated = getattr(view, "mosaic_resource", None)
        if generated is not None:
            from core.resources.openapi_ops import generated_operation

            op = generated_operation(self, rule, generated, method)
        else:
            op = self.custom_operation(rule, view, method)
        op["operationId"] = _operation_id(rule, method)
        protected = getattr(view, "mosaic_protected", False)
        responses = op.setdefault("responses", {})
        if protected:
            op["security"] = [{"bearerAuth": []}]
            responses.setdefault("401", _problem_response(401))
            if getattr(view, "mosaic_permission", None):
                responses.setdefault("403", _problem_response(403))
                op["description"] = (
                    op.get("description") or ""
                ) + f"\n\nPermission: `{view.mosaic_permission}`."
        else:
            op["security"] = []
        responses.setdefault(
            "default",
            {
                "description": "An error (problem details).",
                "content": {PROBLEM_MIME: {"schema": PROBLEM}},
            },
        )
        op["description"] = op.get("description", "").strip() or op.get("summary", "")
        return op

    def tag_for(self, rule: Rule) -> str:
        blueprint = rule.endpoint.split(".", 1)[0] if "." in rule.endpoint else "core"
        name = blueprint.removesuffix("_api")
        self.tags.setdefault(name, f"Routes of {name}.")
        return name

    def custom_operation(self, rule: Rule, view: Any, method: str) -> dict[str, Any]:
        doc = getattr(view, "mosaic_openapi", None) or {}
        text = (view.__doc__ or "").strip()
        summary = doc.get("summary") or (
            text.splitlines()[0]
            if text
            else rule.endpoint.rsplit(".", 1)[-1].replace("_", " ").capitalize()
        )
        op: dict[str, Any] = {
            "summary": summary,
            "description": doc.get("description") or "\n".join(text.splitlines()[1:]).strip(),
            "tags": doc.get("tags") or [self.tag_for(rule)],
        }
        if doc.get("query"):
            op["parameters"] = list(doc["query"])
        status = str(doc.get("status", 200))
        response_schema = doc.get("response")
        if response_schema is not None:
            op["responses"] = {
                status: {
                    "description": "Success.",
                    "content": {
                        doc.get("content_type", "application/json"): {
                            "schema": self.ref(response_schema)
                        }
                    },
                }
            }
        elif method in ("POST", "PUT", "PATCH", "GET"):
            op["responses"] = {
                status: {"description": "Success.", "content": {"application/json": {"schema": {}}}}
            }
        else:
            op["responses"] = {status: {"description": "Success."}}
        if method in ("POST", "PUT", "PATCH"):
            body = doc.get("body")
            schema = self.ref(body) if body is not None else {"type": "object"}
            op["requestBody"] = {
                "required": body is not None,
                "content": {"application/json": {"schema": schema}},
            }
            for code in (400, 413, 415, 422):
                op["responses"].setdefault(str(code), _problem_response(code))
        for code in doc.get("errors", ()):
            op["responses"].setdefault(str(code), _problem_response(code))
        if "{" in rule.rule or "<" in rule.rule:
            op["responses"].setdefault("404", _problem_response(404))
        return op


# --------------------------------------------------------------------------- helpers


def _operation_id(rule: Rule, method: str) -> str:
    base = re.sub(r"[^A-Za-z0-9_]", "_", rule.endpoint)
    return f"{base}_{method.lower()}"


def _problem_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "RFC 9457 problem details.",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string", "description": "What went wrong, for a person."},
            "errors": {
                "type": "object",
                "additionalProperties": True,
                "description": "Per-field messages {field: [message]}; lines as {field: {index: {field: [message]}}}.",
            },
        },
        "additionalProperties": True,
    }


def _problem_response(status: int, text: str | None = None) -> dict[str, Any]:
    return {
        "description": text or ERROR_TEXT.get(status, "Error."),
        "content": {PROBLEM_MIME: {"schema": PROBLEM}},
    }


def _decimal_as_string(
    self: Any, field: fields.Field, ret: dict[str, Any], **_kwargs: Any
) -> dict[str, Any]:
    """Decimals travel as strings in JSON ("12.50"): no client turns them into floats."""
    if isinstance(field, fields.Decimal):
        for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"):
            ret.pop(key, None)
        sign = "" if decimal_minimum(field) is not None and decimal_minimum(field) >= 0 else "-?"
        return {"type": "string", "format": "decimal", "pattern": f"^{sign}\\d+(\\.\\d+)?$"}
    return {}


def _declared_by_the_field(
    self: Any, field: fields.Field, ret: dict[str, Any], **_kwargs: Any
) -> dict[str, Any]:
    """A custom field's own ``openapi_schema`` (see the module docstring)."""
    declared = getattr(field, "openapi_schema", None) or {}
    return {k: v for k, v in declared.items() if k not in field.metadata}  # metadata wins


def _with_input_schemas(body: dict[str, Any], schema: Schema) -> dict[str, Any]:
    """``body`` with the ``openapi_input_schema`` of the fields that accept more than they answer."""
    props = body.get("properties", {})
    for name, f in schema.load_fields.items():
        accepted = getattr(f, "openapi_input_schema", None)
        key = f.data_key or name
        if accepted and key in props:
            kept = {k: v for k, v in props[key].items() if k in ("description", "default")}
            props[key] = {**dict(accepted), **kept}
    return body


def decimal_minimum(field: fields.Field) -> Any:
    """The lowest value a Range validator lets through, if any (it decides the sign)."""
    from marshmallow import validate as v

    lows = [r.min for r in field.validators if isinstance(r, v.Range) and r.min is not None]
    return max(lows) if lows else None


def _writable(jsonschema: dict[str, Any]) -> dict[str, Any]:
    props = {k: v for k, v in jsonschema.get("properties", {}).items() if not v.get("readOnly")}
    out = {**jsonschema, "properties": props}
    required = [r for r in jsonschema.get("required", []) if r in props]
    if required:
        out["required"] = required
    else:
        out.pop("required", None)
    return out


def _mark_nullable(component: dict[str, Any], schema: Schema, model: type) -> None:
    """Output fields backed by nullable columns (or dump-only) may be null: say so."""
    from sqlalchemy import inspect as sa_inspect

    columns = sa_inspect(model).columns
    props = component.get("properties", {})
    for name, f in schema.dump_fields.items():
        prop = props.get(f.data_key or name)
        if prop is None or "$ref" in prop or prop.get("type") == "array":
            continue
        column = columns.get(f.attribute or name)
        if (column is not None and column.nullable) or (f.dump_only and column is None):
            prop["nullable"] = True
            if "enum" in prop and None not in prop["enum"]:
                prop["enum"] = [*prop["enum"], None]


def python_type_schema(py: type, column_type: Any = None) -> dict[str, Any]:
    if py is bool:
        return {"type": "boolean"}
    if py is int:
        return {"type": "integer", "minimum": -2147483648, "maximum": 2147483647}
    if py in (Decimal, float):
        return {"type": "number", "minimum": -1e15, "maximum": 1e15}
    if py is datetime:
        return {"type": "string", "format": "date-time"}
    if py is date:
        return {"type": "string", "format": "date"}
    return {"type": "string", "maxLength": 200}


# --------------------------------------------------------------------------- serving


def openapi_document(app: Flask) -> dict[str, Any]:
    """The OpenAPI document of ``app`` (built once per app: routes are fixed once it is built)."""
    cached = app.extensions.get("mosaic_openapi")
    if cached is None:
        cached = SpecBuilder(app).build()
        app.extensions["mosaic_openapi"] = cached
    return cached


def init_openapi(app: Flask) -> None:
    from core.access import login_required

    @app.get("/api/v1/openapi.json")
    @api_doc(summary="This OpenAPI document", response={"type": "object"}, tags=["core"])
    def openapi_json() -> Any:
        """The OpenAPI 3 description of every route of this instance."""
        return current_app.json.response(openapi_document(current_app))

    @app.get("/api-docs")
    @login_required
    def api_docs() -> Any:
        from core.resources.openapi_page import reference

        doc = openapi_document(current_app)
        return render_template(
            "core/api_docs.html",
            ref=reference(doc),
            breadcrumbs=[("Home", "/"), ("API reference", None)],
        )
