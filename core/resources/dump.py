"""Fast, exact serialisation of records with their marshmallow schema.

``Schema.dump`` walks several layers per field (accessor, ``get_value``, ``serialize``)
before it reaches the field's own formatting. For a page of 50 records with their lines that
is most of the time a list request spends outside the database. :func:`dumper` compiles a
schema once into a flat list of steps that read the attribute and call the field's own
``_serialize`` directly, so the output is the one marshmallow gives (a test compares them),
only sooner. Whatever it does not recognise is left to marshmallow: schemas with dump hooks,
``Method``/``Function``/``Pluck`` fields, dotted attributes, dump defaults, and objects that
are mappings.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from marshmallow import Schema, fields, missing

Step = tuple[str, Callable[[Any], Any]]


def _has_dump_hooks(schema: Schema) -> bool:
    hooks = getattr(schema, "_hooks", {})
    return any(hooks.get(tag) for tag in ("pre_dump", "post_dump"))


def _generic(schema: Schema, name: str, field: fields.Field) -> Callable[[Any], Any]:
    accessor = schema.get_attribute
    return lambda obj: field.serialize(name, obj, accessor=accessor)


def _simple(attr: str, field: fields.Field) -> Callable[[Any], Any]:
    serialize = field._serialize

    def step(obj: Any) -> Any:
        value = getattr(obj, attr, missing)
        if value is missing:
            return missing
        return serialize(value, attr, obj)

    return step


def _nested(attr: str, inner: Callable[[Any], Any], many: bool) -> Callable[[Any], Any]:
    def step(obj: Any) -> Any:
        value = getattr(obj, attr, missing)
        if value is missing or value is None:
            return value
        return [inner(each) for each in value] if many else inner(value)

    return step


def _list_of_nested(attr: str, inner: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def step(obj: Any) -> Any:
        value = getattr(obj, attr, missing)
        if value is missing or value is None:
            return value
        return [None if each is None else inner(each) for each in value]

    return step


@functools.cache
def _compiled(schema: Schema) -> Callable[[Any], dict[str, Any]] | None:
    if _has_dump_hooks(schema):
        return None
    steps: list[Step] = []
    for name, field in schema.dump_fields.items():
        key = field.data_key if field.data_key is not None else name
        attr = field.attribute or name
        plain = (
            "." not in attr
            and field.dump_default is missing
            and not isinstance(
                field, fields.Method | fields.Function | fields.Pluck | fields.Constant
            )
        )
        inner_field = field.inner if isinstance(field, fields.List) else None
        if not plain:
            steps.append((key, _generic(schema, name, field)))
        elif isinstance(field, fields.Nested):
            inner = dumper(field.schema)
            steps.append((key, _nested(attr, inner, bool(field.many or field.schema.many))))
        elif isinstance(inner_field, fields.Nested) and not isinstance(inner_field, fields.Pluck):
            steps.append((key, _list_of_nested(attr, dumper(inner_field.schema))))
        elif isinstance(field, fields.List | fields.Tuple | fields.Dict):
            steps.append((key, _generic(schema, name, field)))
        else:
            steps.append((key, _simple(attr, field)))

    def dump(obj: Any) -> dict[str, Any]:
        out = {}
        for key, step in steps:
            value = step(obj)
            if value is not missing:
                out[key] = value
        return out

    return dump


def dumper(schema: Schema) -> Callable[[Any], dict[str, Any]]:
    """A function that serialises one object exactly as ``schema.dump(obj)`` does."""
    compiled = _compiled(schema)
    if compiled is None:
        return schema.dump

    def dump(obj: Any) -> dict[str, Any]:
        if isinstance(obj, Mapping) or hasattr(obj, "__getitem__"):
            return schema.dump(obj)
        return compiled(obj)

    return dump


def dump_many(schema: Schema, objects: list[Any]) -> list[dict[str, Any]]:
    one = dumper(schema)
    return [one(obj) for obj in objects]
