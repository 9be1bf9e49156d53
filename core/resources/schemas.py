"""Base schemas and fields for resources.

Derive a resource's schema from :class:`RecordSchema` (it shows the fields every business
record has, read-only) and the schema of nested lines from :class:`ChildSchema` (whose ``id``
may be sent back to update a line in place). Amounts use :func:`MoneyField`: a string in JSON
so that no client turns ``0.10`` into a float.
"""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, fields, validate


class RecordSchema(Schema):
    """id, version, company, timestamps and authors: shown, never accepted as input."""

    class Meta:
        unknown = RAISE
        ordered = True

    id = fields.Integer(dump_only=True)
    version = fields.Integer(
        dump_only=True, metadata={"description": "Send it back with PATCH (optimistic locking)."}
    )
    company_id = fields.Integer(dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)
    created_by_id = fields.Integer(dump_only=True, allow_none=True)
    updated_by_id = fields.Integer(dump_only=True, allow_none=True)


class ChildSchema(Schema):
    """A nested line: send ``id`` to update an existing line, omit it to add one."""

    class Meta:
        unknown = RAISE
        ordered = True

    id = fields.Integer(
        allow_none=True,
        validate=validate.Range(min=1, max=2**31 - 1),
        metadata={"description": "Id of an existing line to update; leave out to add a line."},
    )


class DecimalString(fields.Decimal):
    """A decimal that travels as a JSON string (``"12.50"``) both ways.

    A JSON number is refused with a clear message: ``0.1 + 0.2`` in a client's floats is
    not ``0.30``, and an amount must reach the ledger exactly as the person typed it.
    """

    default_error_messages = {"not_string": 'Send the number as a string, e.g. "12.50".'}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("as_string", True)
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, str):
            raise self.make_error("not_string")
        return super()._deserialize(value.strip(), attr, data, **kwargs)


def MoneyField(**kwargs: Any) -> fields.Decimal:
    """A monetary amount: a string in JSON (``"12.50"``); the column's scale limits the decimals."""
    kwargs.setdefault("metadata", {})
    kwargs["metadata"].setdefault("example", "12.50")
    return DecimalString(**kwargs)


def QuantityField(**kwargs: Any) -> fields.Decimal:
    """A quantity (stock, hours): a string in JSON (``"2.5"``), exact like an amount."""
    kwargs.setdefault("metadata", {})
    kwargs["metadata"].setdefault("example", "2.5")
    return DecimalString(**kwargs)
