"""Marshmallow schemas: the shape of accounts, contacts and addresses in JSON and CSV.

One schema per resource serves both directions: ``dump_only`` fields are computed or owned
by the server, the others are accepted on input. The schemas check shape, types and
lengths; the rules that need the database or other fields (phone numbers read in the
address's country, duplicates, parent cycles) are checked by ``services``, which report
problems with the same ``{field: [message]}`` shape.
"""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load, validate

from addons.contacts.models import ACCOUNT_SIZES, ADDRESS_KINDS


def _text(max_length: int, **kwargs: Any) -> fields.String:
    return fields.String(validate=validate.Length(max=max_length), **kwargs)


def _optional_text(max_length: int) -> fields.String:
    return _text(max_length, allow_none=True)


class TagNames(fields.Field):
    """Tags as a list of names; on input also a ``;``- or ``,``-separated string (CSV)."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> list[str]:
        return [tag.name for tag in value or []]

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[str]:
        if value is None:
            return []
        if isinstance(value, str):
            value = value.replace(",", ";").split(";")
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValidationError("Must be a list of tag names.")
        names = [" ".join(v.split()) for v in value]
        if any(len(n) > 60 for n in names):
            raise ValidationError("A tag name has at most 60 characters.")
        return [n for n in names if n]


class BlankIsNone(Schema):
    """Empty strings from forms and CSV files mean "no value" for optional fields."""

    @pre_load
    def _blank_to_none(self, data: Any, **_kwargs: Any) -> Any:
        if not isinstance(data, dict):
            return data
        return {
            k: (
                None
                if isinstance(v, str)
                and not v.strip()
                and k in self.fields
                and self.fields[k].allow_none
                else v
            )
            for k, v in data.items()
        }


class AddressSchema(BlankIsNone):
    id = fields.Integer(allow_none=True)
    kind = fields.String(validate=validate.OneOf(ADDRESS_KINDS), load_default="billing")
    is_default = fields.Boolean(load_default=None, allow_none=True)
    street1 = _optional_text(200)
    street2 = _optional_text(200)
    city = _optional_text(100)
    postal_code = _optional_text(20)
    region = _optional_text(100)
    country = fields.String(allow_none=True, validate=validate.Length(min=2, max=3),
                            metadata={"description": "ISO 3166-1 code, e.g. DE"})  # fmt: skip
    lines = fields.List(fields.String(), dump_only=True)


class UserRefSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    email = fields.String()


class AccountRefSchema(Schema):
    id = fields.Integer()
    name = fields.String()


class RecordSchema(BlankIsNone):
    """Fields every account and contact shows (server-owned ones are ``dump_only``)."""

    id = fields.Integer(dump_only=True)
    company_id = fields.Integer(dump_only=True)
    created_at = fields.AwareDateTime(dump_only=True)
    updated_at = fields.AwareDateTime(dump_only=True)
    version = fields.Integer(metadata={"description": "send back on update (optimistic locking)"})
    archived = fields.Boolean()
    email = _optional_text(254)
    phone = _optional_text(40)
    owner_id = fields.Integer(allow_none=True)
    owner = fields.Nested(UserRefSchema, dump_only=True, allow_none=True)
    notes = fields.String(allow_none=True, validate=validate.Length(max=20000))
    tags = TagNames()
    addresses = fields.List(fields.Nested(AddressSchema))


class AccountSchema(RecordSchema):
    name = _text(200, required=True)
    legal_name = _optional_text(200)
    tax_id = _optional_text(64)
    website = _optional_text(255)
    industry = _optional_text(100)
    size = fields.String(allow_none=True, validate=validate.OneOf(ACCOUNT_SIZES))
    is_customer = fields.Boolean()
    is_vendor = fields.Boolean()
    types = fields.List(fields.String(), dump_only=True)
    parent_id = fields.Integer(allow_none=True)
    parent = fields.Nested(AccountRefSchema, dump_only=True, allow_none=True)


class ContactSchema(RecordSchema):
    first_name = _text(100)
    last_name = _text(100)
    name = fields.String(dump_only=True)
    title = _optional_text(100)
    mobile = _optional_text(40)
    language = fields.String(allow_none=True, validate=validate.Length(max=16),
                             metadata={"description": "BCP 47 tag, e.g. de-CH"})  # fmt: skip
    account_id = fields.Integer(allow_none=True)
    account = fields.Nested(AccountRefSchema, dump_only=True, allow_none=True)
    is_forgotten = fields.Boolean(dump_only=True)
    forgotten_at = fields.AwareDateTime(dump_only=True, allow_none=True)


class MergeSchema(Schema):
    """Body of the merge action: the record merged away into the one addressed by the URL."""

    source_id = fields.Integer(
        required=True, metadata={"description": "id of the record merged away"}
    )


class ImportRowSchema(Schema):
    """Lenient wrapper used by CSV import: unknown columns are ignored, not refused."""

    class Meta:
        unknown = EXCLUDE


class ContactImportSchema(ContactSchema, ImportRowSchema):
    pass


class AccountImportSchema(AccountSchema, ImportRowSchema):
    pass
