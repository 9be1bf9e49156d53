"""The compiled dumper answers exactly what ``Schema.dump`` answers, only sooner."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from marshmallow import Schema, fields, post_dump

from core.resources.dump import dump_many, dumper
from tests.core.resources_support import API, login, make_gadgets


def test_gadgets_dump_the_same_both_ways(client, db_session):
    from testkit.api import gadgets
    from testkit.models import Gadget

    headers = login(client)
    make_gadgets(client, headers, 3, parts=2)
    client.post(
        API,
        json={"name": "Odd", "notes": "ünï", "archived": True, "price": "0.10"},
        headers=headers,
    )
    records = db_session.query(Gadget).all()
    assert len(records) == 4
    schema = gadgets.schema_instance
    assert dump_many(schema, records) == schema.dump(records, many=True)


@dataclass
class Line:
    id: int
    label: str | None


@dataclass
class Thing:
    id: int
    name: str | None
    amount: Decimal | None
    when: datetime | None
    day: date | None
    flag: bool
    ratio: float
    tags: list[str]
    lines: list[Line] = field(default_factory=list)
    main: Line | None = None
    meta: dict = field(default_factory=dict)
    others: list[Line] = field(default_factory=list)
    first: Line | None = None


class LineSchema(Schema):
    id = fields.Integer()
    label = fields.String(allow_none=True)


class ThingSchema(Schema):
    id = fields.Integer()
    title = fields.String(attribute="name")
    amount = fields.Decimal(as_string=True, places=2)
    when = fields.DateTime()
    day = fields.Date()
    flag = fields.Boolean()
    ratio = fields.Float()
    tags = fields.List(fields.String())
    lines = fields.List(fields.Nested(LineSchema))
    others = fields.Nested(LineSchema, many=True, data_key="otherLines")
    main = fields.Nested(LineSchema, allow_none=True)
    first = fields.Pluck(LineSchema, "label")
    shout = fields.Method("make_shout")
    constant = fields.Constant("k")
    label_of_main = fields.String(attribute="main.label")
    missing_attr = fields.String()
    defaulted = fields.String(dump_default="d")
    meta = fields.Dict()
    hidden = fields.String(load_only=True)

    def make_shout(self, obj):
        return (obj.name or "").upper()


class HookedSchema(LineSchema):
    @post_dump
    def mark(self, data, **kwargs):
        return {**data, "hooked": True}


def _things():
    line = Line(1, "one")
    return [
        Thing(1, "Alpha", Decimal("12.345"), datetime(2024, 5, 31, 12, 0, tzinfo=UTC), date(2024, 5, 31), True, 0.5,
              ["a", "b"], [line, Line(2, None)], line, {"x": 1}, [Line(5, "five")], line),
        Thing(2, None, None, None, None, False, 0.0, [], [], None),
    ]  # fmt: skip


def test_every_kind_of_field_dumps_the_same():
    schema = ThingSchema()
    things = _things()
    assert dump_many(schema, things) == schema.dump(things, many=True)


def test_schemas_with_hooks_and_mappings_go_through_marshmallow():
    hooked = HookedSchema()
    assert dumper(hooked)(Line(3, "x")) == {"id": 3, "label": "x", "hooked": True}
    plain = LineSchema()
    assert dumper(plain)({"id": 4, "label": "from a dict"}) == {"id": 4, "label": "from a dict"}
