"""The OpenAPI document reshaped for the server-rendered API reference page (``/api-docs``)."""

from __future__ import annotations

from typing import Any

METHOD_ORDER = {"get": 0, "post": 1, "put": 2, "patch": 3, "delete": 4}


def _resolve(doc: dict[str, Any], schema: dict[str, Any] | None) -> dict[str, Any]:
    seen = 0
    while schema and "$ref" in schema and seen < 10:
        schema = doc["components"]["schemas"].get(schema["$ref"].rsplit("/", 1)[1], {})
        seen += 1
    return schema or {}


def type_label(doc: dict[str, Any], schema: dict[str, Any] | None) -> str:
    """A short human name of a JSON schema: ``string (date-time)``, ``array of Part``."""
    if not schema:
        return "any"
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[1]
    if "anyOf" in schema:
        return (
            " or ".join(
                type_label(doc, s)
                for s in schema["anyOf"]
                if s.get("type") != "object" or "$ref" in s
            )
            or "object"
        )
    kind = schema.get("type", "any")
    if kind == "array":
        return f"array of {type_label(doc, schema.get('items'))}"
    label = kind
    if schema.get("format"):
        label += f" ({schema['format']})"
    if schema.get("enum"):
        label += ": " + ", ".join(str(v) for v in schema["enum"] if v is not None)
    if schema.get("nullable"):
        label += ", or null"
    return label


def _constraints(schema: dict[str, Any]) -> str:
    parts = []
    for key, text in (
        ("minimum", "≥ {}"),
        ("maximum", "≤ {}"),
        ("maxLength", "at most {} characters"),
        ("default", "default {}"),
    ):
        if key in schema:
            parts.append(text.format(schema[key]))
    return ", ".join(parts)


def fields_of(doc: dict[str, Any], schema: dict[str, Any] | None) -> list[dict[str, Any]]:
    target = _resolve(doc, schema)
    if target.get("type") == "array":
        target = _resolve(doc, target.get("items"))
    required = set(target.get("required", []))
    out = []
    for name, prop in (target.get("properties") or {}).items():
        out.append({
            "name": name,
            "type": type_label(doc, prop),
            "required": name in required,
            "read_only": bool(prop.get("readOnly")),
            "description": " ".join(filter(None, [prop.get("description", ""), _constraints(prop)])),
        })  # fmt: skip
    return out


def reference(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Sections (one per tag) of operations with parameters, body fields and responses."""
    sections: dict[str, dict[str, Any]] = {}
    descriptions = {t["name"]: t.get("description", "") for t in doc.get("tags", [])}
    for path, item in doc.get("paths", {}).items():
        shared = item.get("parameters", [])
        for method, op in item.items():
            if method not in METHOD_ORDER:
                continue
            tag = (op.get("tags") or ["other"])[0]
            section = sections.setdefault(
                tag, {"name": tag, "description": descriptions.get(tag, ""), "operations": []}
            )
            body = op.get("requestBody", {}).get("content", {})
            body_type, body_schema = next(iter(body.items()), (None, {}))
            section["operations"].append({
                "id": op.get("operationId", f"{method}-{path}"),
                "method": method.upper(),
                "path": path,
                "summary": op.get("summary", ""),
                "description": op.get("description", ""),
                "secure": bool(op.get("security")),
                "parameters": [
                    {"name": p["name"], "in": p["in"], "type": type_label(doc, p.get("schema")), "required": p.get("required", False),
                     "description": " ".join(filter(None, [p.get("description", ""), _constraints(p.get("schema", {}))]))}
                    for p in [*shared, *op.get("parameters", [])]
                ],
                "body_type": body_type,
                "body": fields_of(doc, body_schema.get("schema")) if body_type == "application/json" else [],
                "responses": [
                    {"status": status, "description": r.get("description", ""),
                     "types": ", ".join(r.get("content", {}).keys()),
                     "schema": type_label(doc, next(iter(r.get("content", {}).values()), {}).get("schema")) if r.get("content") else ""}
                    for status, r in op.get("responses", {}).items()
                ],
            })  # fmt: skip
    out = sorted(sections.values(), key=lambda s: (s["name"] != "core", s["name"]))
    for section in out:
        section["operations"].sort(
            key=lambda o: (o["path"], METHOD_ORDER.get(o["method"].lower(), 9))
        )
    return out
