"""Custom marshmallow fields describe themselves to the OpenAPI document (``openapi_schema``,
``openapi_input_schema``): apispec cannot guess what their ``_serialize`` returns."""

from __future__ import annotations

from typing import Any, ClassVar

from marshmallow import Schema, fields

from core.resources.openapi import SpecBuilder, _with_input_schemas


class Money(fields.Field):
    openapi_schema: ClassVar[dict[str, Any]] = {"type": "string", "format": "money"}
    openapi_input_schema: ClassVar[dict[str, Any]] = {
        "oneOf": [{"type": "string"}, {"type": "number"}]
    }


class Plain(fields.Field):
    pass


class Priced(Schema):
    price = Money(metadata={"description": "what it costs", "format": "eur"})
    other = Plain()
    total = Money(dump_only=True)


def test_a_field_declares_its_type_and_metadata_still_wins(app):
    converter = SpecBuilder(app).converter
    assert converter.field2property(Priced().fields["price"]) == {
        "type": "string",
        "format": "eur",
        "description": "what it costs",
    }
    assert converter.field2property(Priced().fields["total"]) == {
        "type": "string",
        "format": "money",
        "readOnly": True,
    }
    assert "type" not in converter.field2property(Priced().fields["other"])  # nothing declared


def test_request_bodies_take_the_input_schema_of_fields_that_accept_more(app):
    converter = SpecBuilder(app).converter
    body = _with_input_schemas(converter.schema2jsonschema(Priced()), Priced())
    assert body["properties"]["price"] == {
        "oneOf": [{"type": "string"}, {"type": "number"}],
        "description": "what it costs",
    }
    assert body["properties"]["total"]["type"] == "string"  # dump-only: not an input
