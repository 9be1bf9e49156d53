"""Input validation shared by the API, the pages and CSV import (no Flask here).

The schema says what a client may send; the database says what it can store. Both are checked
before anything is flushed, so that bad input is always a 422 with per-field messages and never
a database error: text with NUL bytes or lone surrogates (PostgreSQL and UTF-8 refuse them),
strings longer than the column, integers outside the column's range, amounts with more digits
or decimals than ``Numeric(p, s)`` holds. SQLite would silently accept most of these; checking
here gives the same answer on every backend.
"""

from __future__ import annotations

import enum
import functools
import logging
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from marshmallow import Schema, ValidationError, fields
from sqlalchemy import JSON, BigInteger, Float, Numeric, SmallInteger, String
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.types import TypeDecorator, TypeEngine

from core.resources.declaration import Resource

log = logging.getLogger(__name__)
MAX_DEPTH = 32
BAD_TEXT = "Text may not contain NUL characters or invalid Unicode."


class ValidationFailed(Exception):
    """The input does not satisfy the schema or the columns: ``errors`` is {field: [messages]}."""

    def __init__(self, errors: Mapping[str, Any], message: str = "The data is not valid.") -> None:
        super().__init__(message)
        self.errors = dict(errors)
        self.message = message


def bad_text(value: str) -> bool:
    """True when ``value`` cannot be stored as text: a NUL byte or a lone surrogate."""
    if "\x00" in value:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether a decoded JSON document nests deeper than ``limit`` (checked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def text_errors(payload: Mapping[str, Any]) -> dict[str, list[str]]:
    """Fields (top-level keys) whose value holds unstorable text anywhere inside it."""
    errors: dict[str, list[str]] = {}
    for key, value in payload.items():
        if not isinstance(key, str) or bad_text(key):
            errors.setdefault("_schema", []).append("A field name contains invalid characters.")
            continue
        stack = [value]
        while stack:
            item = stack.pop()
            if isinstance(item, str):
                if bad_text(item):
                    errors[key] = [BAD_TEXT]
                    break
            elif isinstance(item, dict):
                stack.extend(item.values())
                if any(isinstance(k, str) and bad_text(k) for k in item):
                    errors[key] = [BAD_TEXT]
                    break
            elif isinstance(item, list):
                stack.extend(item)
    return errors


def _base_type(column_type: TypeEngine) -> TypeEngine:
    return column_type.impl if isinstance(column_type, TypeDecorator) else column_type  # type: ignore[return-value]


def _python_type(t: TypeEngine) -> type | None:
    try:
        return t.python_type
    except NotImplementedError:
        return None


def column_value_error(column_type: TypeEngine, value: Any) -> str | None:
    """Why ``value`` cannot be stored in a column of this type, or None when it can.

    A value of the wrong Python type (a list for a text column, text for a number) is refused
    here, whatever the schema let through: the database would refuse it with an error that
    is not the client's to read.
    """
    if value is None:
        return None
    t = _base_type(column_type)
    expected = _python_type(t)
    if isinstance(t, JSON) or expected is None or expected in (list, dict):
        return None
    if expected is str:
        if not isinstance(value, str):
            return "Not a valid string."
        if bad_text(value):
            return BAD_TEXT
        length = getattr(t, "length", None)
        if isinstance(t, String) and length and len(value) > length:
            return f"At most {length} characters."
        return None
    if expected is bool:
        return None if isinstance(value, bool) else "Not a valid boolean."
    if expected is int:
        if isinstance(value, bool) or not isinstance(value, int):
            return "Not a valid integer."
        bits = 63 if isinstance(t, BigInteger) else 15 if isinstance(t, SmallInteger) else 31
        if not -(2**bits) <= value < 2**bits:
            return f"Must be between {-(2**bits)} and {2**bits - 1}."
        return None
    if expected in (Decimal, float):
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            return "Not a valid number."
        if isinstance(t, Float) or isinstance(value, float):
            try:
                if not math.isfinite(float(value)):
                    return "Must be a finite number."
            except (OverflowError, ValueError):
                return "Must be a finite number."
            return None
        return _numeric_error(t, Decimal(value)) if isinstance(t, Numeric) else None
    if isinstance(expected, type) and issubclass(expected, enum.Enum):
        return None if isinstance(value, expected | str) else "Not a valid choice."
    if isinstance(expected, type) and not isinstance(value, expected):
        return f"Not a valid {expected.__name__}."
    return None


def _numeric_error(t: Numeric, value: Decimal) -> str | None:
    if not value.is_finite():
        return "Must be a finite number."
    precision, scale = t.precision, t.scale or 0
    if precision is None:
        return None
    try:
        _sign, _digits, exponent = value.normalize().as_tuple()
    except InvalidOperation:
        return "Not a valid number."
    assert isinstance(exponent, int)
    if exponent < 0 and -exponent > scale:
        return f"At most {scale} decimal places." if scale else "Must be a whole number."
    if abs(value) >= Decimal(10) ** (precision - scale):
        return f"Too large: at most {precision - scale} digits before the decimal point."
    return None


def column_errors(model: type, data: dict[str, Any]) -> dict[str, list[str]]:
    """Per-field errors for loaded values that the model's columns cannot store.

    Amounts that fit are brought to the column's scale (``20`` -> ``20.00``), so that what the
    session holds, what the audit trail records and what the database returns agree.
    """
    types = _column_types(model)
    errors: dict[str, list[str]] = {}
    for key, value in data.items():
        known = types.get(key)
        if known is None or value is None:
            continue
        column_type, max_length = known
        if (  # the common case, inline: text that fits
            max_length != NOT_TEXT
            and type(value) is str
            and (max_length is None or len(value) <= max_length)
            and not bad_text(value)
        ):
            continue
        problem = column_value_error(column_type, value)
        if problem:
            errors[key] = [problem]
            continue
        t = _base_type(column_type)
        if (
            isinstance(value, Decimal)
            and isinstance(t, Numeric)
            and not isinstance(t, Float)
            and t.scale is not None
        ):
            data[key] = value.quantize(Decimal(1).scaleb(-t.scale))
    return errors


NOT_TEXT = -1


@functools.cache
def _column_types(model: type) -> dict[str, tuple[TypeEngine, int | None]]:
    """Column key -> (type, text length: ``None`` unlimited, ``NOT_TEXT``) of a model.

    Worked out once per model: ``column_errors`` runs for every imported row.
    """
    out: dict[str, tuple[TypeEngine, int | None]] = {}
    for key, column in sa_inspect(model).columns.items():
        base = _base_type(column.type)
        text = isinstance(base, String) and _python_type(base) is str
        out[key] = (column.type, (base.length or None) if text else NOT_TEXT)
    return out


_JSON_TYPES: list[tuple[type, tuple[type, ...], str]] = [
    (fields.Boolean, (bool,), "Not a valid boolean."),
    (fields.Integer, (int,), "Not a valid integer."),
    (fields.Float, (int, float, Decimal), "Not a valid number."),
]


def json_type_errors(schema: Schema, payload: Mapping[str, Any]) -> dict[str, Any]:
    """Values of the wrong JSON type for their field (``true`` for ``1``, ``"3"`` for ``3``).

    Marshmallow coerces such values because forms and CSV cells are text; a JSON client
    must send the type the OpenAPI document promises.
    """
    errors: dict[str, Any] = {}
    by_key = {(f.data_key or name): f for name, f in schema.load_fields.items()}
    for key, value in payload.items():
        f = by_key.get(key)
        if f is None or value is None:
            continue
        for field_cls, allowed, message in _JSON_TYPES:
            if isinstance(f, field_cls):
                ok = isinstance(value, allowed) and (
                    field_cls is fields.Boolean or not isinstance(value, bool)
                )
                if not ok:
                    errors[key] = [message]
        inner = f.inner if isinstance(f, fields.List) else f
        if isinstance(inner, fields.Nested) and isinstance(inner.schema, Schema):
            rows = value if isinstance(f, fields.List) or inner.many else [value]
            if not isinstance(rows, list):
                continue
            nested = {
                i: e
                for i, row in enumerate(rows)
                if isinstance(row, dict) and (e := json_type_errors(inner.schema, row))
            }
            if nested:
                errors[key] = nested
    return errors


def load_input(
    resource: Resource,
    payload: Any,
    *,
    partial: bool = False,
    schema: Schema | None = None,
    strict_json: bool = False,
    text_checked: bool = False,
) -> dict[str, Any]:
    """Validate a decoded document and return the loaded data, or raise ``ValidationFailed``.

    ``partial`` is for updates: absent fields are left as they are, but fields that are sent
    are validated as strictly as on create. ``strict_json`` (the API) refuses values of the
    wrong JSON type that forms and CSV (text) need coerced. ``text_checked``: the caller
    knows the payload's strings hold no NUL and no lone surrogate (a CSV file's cells).
    """
    if not isinstance(payload, dict):
        raise ValidationFailed({"_schema": ["Expected a JSON object."]})
    schema = schema or resource.schema_instance
    errors = {} if text_checked else text_errors(payload)
    if strict_json:
        errors.update(
            {k: v for k, v in json_type_errors(schema, payload).items() if k not in errors}
        )
    if errors:
        raise ValidationFailed(errors)
    # An update may leave fields out, but the lines it sends are whole lines.
    partial_fields = tuple(schema.load_fields) if partial else False
    try:
        data = schema.load(payload, partial=partial_fields)
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        raise ValidationFailed(messages) from None
    except (TypeError, ValueError, AttributeError, ArithmeticError) as exc:
        raise _unreadable(schema, exc) from None
    if not isinstance(data, dict):
        raise TypeError(
            f"{type(schema).__name__}.load must return a dict (no post_load building objects)"
        )
    _assume_utc(data)
    errors = column_errors(resource.model, data)
    for child in resource.children:
        rows = data.get(child.name)
        if not isinstance(rows, list):
            continue
        for row in rows:
            _assume_utc(row)
        child_model = resource.child_model(child)
        nested = {
            i: e
            for i, row in enumerate(rows)
            if isinstance(row, dict) and (e := column_errors(child_model, row))
        }
        if nested:
            errors[child.name] = nested  # type: ignore[assignment]
    if errors:
        raise ValidationFailed(errors)
    return data


def _assume_utc(data: Any) -> None:
    """Timestamps without an offset are UTC (the API's convention); columns store aware values."""
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(value, datetime) and value.tzinfo is None:
                data[key] = value.replace(tzinfo=UTC)


def load_payload(schema: Schema, payload: Any, *, strict_json: bool = False) -> dict[str, Any]:
    """Validate an action's payload (no model behind it): schema and text checks only."""
    if not isinstance(payload, dict):
        raise ValidationFailed({"_schema": ["Expected a JSON object."]})
    errors = text_errors(payload)
    if strict_json:
        errors.update(
            {k: v for k, v in json_type_errors(schema, payload).items() if k not in errors}
        )
    if errors:
        raise ValidationFailed(errors)
    try:
        data = schema.load(payload)
        _assume_utc(data)
        return data
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        raise ValidationFailed(messages) from None
    except (TypeError, ValueError, AttributeError, ArithmeticError) as exc:
        raise _unreadable(schema, exc) from None


def _unreadable(schema: Schema, exc: Exception) -> ValidationFailed:
    """A field or validator that choked on a value of an unexpected type (a schema too loose).

    The client gets a 422; the developer gets a warning with the traceback to tighten the field.
    """
    log.warning("%s.load failed on unexpected input: %r", type(schema).__name__, exc, exc_info=True)
    return ValidationFailed({"_schema": ["A value has the wrong type for its field."]})
