"""Input validation never lets a value through that the database would choke on."""

from __future__ import annotations

from decimal import Decimal

import pytest
from marshmallow import Schema, fields, validate

from core.resources import Resource
from core.resources.validation import ValidationFailed, column_value_error, load_input
from tests.core.resources_support import models


class LooseSchema(Schema):
    """What a careless addon author might write: fields that take any JSON value."""

    name = fields.Raw(validate=validate.Length(max=5))
    notes = fields.Raw()
    price = fields.Raw()
    archived = fields.Raw()


@pytest.fixture
def loose(app) -> Resource:
    gadget_cls, _ = models()
    return Resource(name="loose", model=gadget_cls, schema=LooseSchema, permission="testkit.gadget")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": True}, "_schema"),  # Length on a bool: the validator raises TypeError
        ({"notes": ["a", "list"]}, "notes"),
        ({"notes": {"a": "dict"}}, "notes"),
        ({"notes": 12}, "notes"),
        ({"price": "12.50"}, "price"),
        ({"price": True}, "price"),
        ({"archived": "yes"}, "archived"),
    ],
)
def test_values_of_the_wrong_type_are_refused_with_a_message(loose, payload, field):
    with pytest.raises(ValidationFailed) as caught:
        load_input(loose, payload)
    assert field in caught.value.errors


def test_values_of_the_right_type_pass_and_amounts_take_the_columns_scale(loose):
    data = load_input(loose, {"name": "ok", "price": Decimal("3"), "archived": False, "notes": "n"})
    assert data == {"name": "ok", "price": Decimal("3.00"), "archived": False, "notes": "n"}


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("name", "x" * 121, "At most 120 characters."),
        ("name", "nul\x00", "NUL"),
        ("price", Decimal("1.001"), "At most 2 decimal places."),
        ("price", Decimal("1e16"), "Too large"),
        ("price", float("inf"), "finite"),
        ("id", 2**31, "Must be between"),
        ("created_at", "2024-01-01", "Not a valid datetime."),
    ],
)
def test_column_limits(app, column, value, message):
    gadget_cls, _ = models()
    problem = column_value_error(gadget_cls.__table__.c[column].type, value)
    assert problem is not None and message in problem
