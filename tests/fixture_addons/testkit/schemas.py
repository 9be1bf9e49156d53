"""Marshmallow schemas of the fixture addon: what the API accepts and shows."""

from __future__ import annotations

from decimal import Decimal

from marshmallow import Schema, fields, validate

from core.resources import ChildSchema, MoneyField, RecordSchema

CURRENCIES = ("EUR", "USD", "GBP", "CHF")


class PartSchema(ChildSchema):
    label = fields.String(required=True, validate=validate.Length(min=1, max=120))


class GadgetSchema(RecordSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    price = MoneyField(load_default=Decimal("0"), validate=validate.Range(min=0))
    currency = fields.String(load_default="EUR", validate=validate.OneOf(CURRENCIES))
    notes = fields.String(allow_none=True, load_default=None)
    archived = fields.Boolean(load_default=False)
    parts = fields.List(
        fields.Nested(PartSchema), metadata={"description": "The gadget's parts, in order."}
    )


class PolishSchema(Schema):
    """The payload of the polish action."""

    times = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10))
