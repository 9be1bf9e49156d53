"""Marshmallow schemas: the shape of accounts, contacts and addresses in JSON, forms and CSV.

One schema per resource serves both directions: ``dump_only`` fields are computed or owned
by the server, the others are accepted on input. The schemas check shape, types and
lengths; the rules that need the database or other fields (phone numbers read in the
address's country, duplicates, parent cycles, an account found by its name) are checked by
``services``, which report problems with the same ``{field: [message]}`` shape.

Two conveniences exist for flat files and forms, and the API accepts them too:
``account_name`` names a contact's account instead of ``account_id``, and the ``billing_*``
fields of an account read and write its default billing address.
"""

from __future__ import annotations

from typing import Any, ClassVar

from marshmallow import Schema, ValidationError, fields, pre_load, validate

from addons.contacts.models import ACCOUNT_SIZES, ADDRESS_KINDS
from core.resources import ChildSchema, RecordSchema

BILLING_FIELDS = ("street1", "street2", "city", "postal_code", "region", "country")
BILLING_LENGTHS = {
    "street1": 200,
    "street2": 200,
    "city": 100,
    "postal_code": 20,
    "region": 100,
    "country": 3,
}


def _text(max_length: int, **kwargs: Any) -> fields.String:
    return fields.String(validate=validate.Length(max=max_length), **kwargs)


def _optional(max_length: int, **kwargs: Any) -> fields.String:
    return _text(max_length, allow_none=True, **kwargs)


class TagNames(fields.Field):
    """Tags as one text, names separated by ``;`` (``"VIP; Newsletter"``).

    The same text serves JSON, forms and CSV cells, so a record round-trips through all of
    them; on input a JSON array of names is accepted too (``openapi_*`` tell the OpenAPI
    document so, see ``core.resources.openapi``).
    """

    openapi_schema: ClassVar[dict[str, Any]] = {
        "type": "string",
        "description": "tag names separated by ';'",
        "example": "VIP; Newsletter",
    }
    openapi_input_schema: ClassVar[dict[str, Any]] = {
        "oneOf": [
            {"type": "string", "example": "VIP; Newsletter"},
            {"type": "array", "maxItems": 50, "items": {"type": "string", "maxLength": 60}},
        ]
    }

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str:
        return "; ".join(tag.name for tag in value or [])

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[str]:
        if value is None:
            return []
        if isinstance(value, str):
            value = value.replace(",", ";").split(";")
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValidationError("Must be a list of tag names.")
        names = [" ".join(v.split()) for v in value]
        if len(names) > 50 or any(len(n) > 60 for n in names):
            raise ValidationError("At most 50 tags of at most 60 characters.")
        return [n for n in names if n]


class BlankIsNone(Schema):
    """Empty strings from forms and CSV files mean "no value" for optional fields."""

    @pre_load
    def _blank_to_none(self, data: Any, **_kwargs: Any) -> Any:
        if not isinstance(data, dict):
            return data
        return {
            key: None
            if isinstance(value, str) and not value.strip() and _nullable(self, key)
            else value
            for key, value in data.items()
        }


def _nullable(schema: Schema, key: str) -> bool:
    field = schema.fields.get(key)
    return field is not None and field.allow_none


class AddressSchema(BlankIsNone, ChildSchema):
    kind = fields.String(validate=validate.OneOf(ADDRESS_KINDS), load_default="billing")
    is_default = fields.Boolean(
        allow_none=True, metadata={"description": "the default address of its kind"}
    )
    street1 = _optional(200)
    street2 = _optional(200)
    city = _optional(100)
    postal_code = _optional(20)
    region = _optional(100)
    country = _optional(3, metadata={"description": "ISO 3166-1 code, e.g. DE (alpha-3 accepted)"})
    lines = fields.List(fields.String(), dump_only=True)


class UserRefSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    email = fields.String()


class AccountRefSchema(Schema):
    id = fields.Integer()
    name = fields.String()


class PartySchema(BlankIsNone, RecordSchema):
    """What accounts and contacts share."""

    archived = fields.Boolean()
    email = _optional(254, metadata={"description": "stored lower-case"})
    phone = _optional(40, metadata={"description": "stored in E.164 when the country is known"})
    owner_id = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=2**31 - 1))
    owner = fields.Nested(UserRefSchema, dump_only=True, allow_none=True)
    notes = fields.String(allow_none=True, validate=validate.Length(max=20000))
    tags = TagNames(metadata={"description": "tag names; unknown ones are created"})
    addresses = fields.List(fields.Nested(AddressSchema))
    confirm_duplicate = fields.Boolean(
        load_only=True,
        metadata={"description": "create it even if it looks like an existing record (else 409)"},
    )


def _billing(name: str) -> fields.Function:
    def read(account: Any) -> Any:
        address = account.default_address("billing")
        return getattr(address, name) if address is not None else None

    return fields.Function(
        read, deserialize=lambda value: value, allow_none=True,
        validate=validate.Length(max=BILLING_LENGTHS[name]),
        metadata={"description": f"{name.replace('_', ' ')} of the default billing address"},
    )  # fmt: skip


class AccountSchema(PartySchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    legal_name = _optional(200)
    tax_id = _optional(64)
    website = _optional(255)
    industry = _optional(100)
    size = fields.String(allow_none=True, validate=validate.OneOf(ACCOUNT_SIZES))
    is_customer = fields.Boolean()
    is_vendor = fields.Boolean()
    types = fields.List(fields.String(), dump_only=True)
    parent_id = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=2**31 - 1))
    parent = fields.Nested(AccountRefSchema, dump_only=True, allow_none=True)
    billing_street1 = _billing("street1")
    billing_street2 = _billing("street2")
    billing_city = _billing("city")
    billing_postal_code = _billing("postal_code")
    billing_region = _billing("region")
    billing_country = _billing("country")


class AccountListSchema(RecordSchema):
    """The columns of the account list (no addresses: one query per page, whatever its size)."""

    name = fields.String()
    email = fields.String()
    phone = fields.String()
    industry = fields.String()
    types = fields.List(fields.String())
    archived = fields.Boolean()
    owner = fields.Nested(UserRefSchema, allow_none=True)
    tags = TagNames()


class ContactSchema(PartySchema):
    first_name = _text(100)
    last_name = _text(100)
    name = fields.String(dump_only=True)
    title = _optional(100, metadata={"description": "job title"})
    mobile = _optional(40, metadata={"description": "stored in E.164 when the country is known"})
    language = _optional(16, metadata={"description": "BCP 47 tag, e.g. de-CH"})
    account_id = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=2**31 - 1))
    account_name = fields.Function(
        lambda contact: contact.account.name if contact.account is not None else None,
        deserialize=lambda value: value, allow_none=True, validate=validate.Length(max=200),
        metadata={"description": "the account, by name (when account_id is not given)"},
    )  # fmt: skip
    account = fields.Nested(AccountRefSchema, dump_only=True, allow_none=True)
    is_forgotten = fields.Boolean(dump_only=True)
    forgotten_at = fields.DateTime(dump_only=True, allow_none=True)


class ContactListSchema(RecordSchema):
    """The columns of the contact list."""

    name = fields.String()
    first_name = fields.String()
    last_name = fields.String()
    title = fields.String()
    email = fields.String()
    phone = fields.String()
    mobile = fields.String()
    archived = fields.Boolean()
    account = fields.Nested(AccountRefSchema, allow_none=True)
    tags = TagNames()


class TagSchema(BlankIsNone, RecordSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=60))
    color = fields.String(
        allow_none=True,
        validate=validate.Regexp(r"^#[0-9a-fA-F]{6}$", error="A colour like #2563eb."),
    )


class MergeSchema(Schema):
    """Body of the merge action: the record merged away into the one the URL names."""

    source_id = fields.Integer(
        required=True, validate=validate.Range(min=1, max=2**31 - 1),
        metadata={"description": "id of the record merged away (deleted afterwards)"},
    )  # fmt: skip


class MergeResultSchema(Schema):
    kind = fields.String()
    source_id = fields.Integer()
    target_id = fields.Integer()
    filled = fields.Dict(keys=fields.String())
    moved = fields.Dict(keys=fields.String(), values=fields.Integer())
    repointed = fields.Dict(keys=fields.String(), values=fields.Integer())
