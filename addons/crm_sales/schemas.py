"""Marshmallow schemas: what a client may send, and what it gets back.

The schemas check types and shapes; the business rules (states, which stage, whose account)
are checked by ``services``, whichever door the data came through. Amounts and percentages
are strings in JSON (``"1250.00"``), so no client rounds them through a float.
"""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, fields, validate

from addons.crm_sales.models import LEAD_SOURCES, LEAD_STATUSES, OPPORTUNITY_STATUSES
from core.resources.schemas import MoneyField, RecordSchema

ID = {"validate": validate.Range(min=1, max=2**31 - 1), "allow_none": True}


def Percent(**kwargs: Any) -> fields.Decimal:
    """A percentage 0-100 with at most two decimals, as a string in JSON."""
    kwargs.setdefault("validate", validate.Range(min=0, max=100))
    kwargs.setdefault("metadata", {}).setdefault("example", "25.00")
    return fields.Decimal(as_string=True, places=None, **kwargs)


def _name(attr: str) -> Any:
    def get(obj: Any) -> str | None:
        related = getattr(obj, attr, None)
        if related is None:
            return None
        return getattr(related, "name", None) or getattr(related, "email", None)

    return get


class StageSchema(RecordSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    sequence = fields.Integer(validate=validate.Range(min=0, max=1_000_000))
    probability = Percent(
        metadata={"description": "Default probability (percent) of opportunities in this stage."}
    )
    is_won = fields.Boolean(metadata={"description": "Opportunities reaching this stage are won."})
    is_lost = fields.Boolean(
        metadata={"description": "Opportunities reaching this stage are lost."}
    )
    folded = fields.Boolean(metadata={"description": "Shown collapsed on the pipeline page."})
    archived = fields.Boolean()


class LeadSchema(RecordSchema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    contact_name = fields.String(allow_none=True, validate=validate.Length(max=200))
    email = fields.String(allow_none=True, validate=validate.Length(max=254))
    phone = fields.String(allow_none=True, validate=validate.Length(max=40))
    company_name = fields.String(
        allow_none=True,
        validate=validate.Length(max=200),
        metadata={"description": "The prospect's organisation, as captured."},
    )
    source = fields.String(validate=validate.OneOf(LEAD_SOURCES), load_default="web")
    owner_id = fields.Integer(**ID)
    account_id = fields.Integer(**ID, metadata={"description": "Linked account (contacts addon)."})
    contact_id = fields.Integer(**ID, metadata={"description": "Linked contact (contacts addon)."})
    notes = fields.String(allow_none=True)

    status = fields.String(dump_only=True, metadata={"enum": list(LEAD_STATUSES)})
    disqualify_reason = fields.String(dump_only=True, allow_none=True)
    converted_at = fields.DateTime(dump_only=True, allow_none=True)
    opportunity_id = fields.Function(
        lambda lead: lead.opportunity.id if lead.opportunity is not None else None, dump_only=True
    )
    owner_name = fields.Function(_name("owner"), dump_only=True)
    account_name = fields.Function(_name("account"), dump_only=True)
    linked_contact_name = fields.Function(_name("contact"), dump_only=True)


class OpportunitySchema(RecordSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    account_id = fields.Integer(**ID)
    contact_id = fields.Integer(**ID)
    stage_id = fields.Integer(
        validate=validate.Range(min=1, max=2**31 - 1),
        metadata={
            "description": "Default: the first stage. Closing stages need the won/lost actions."
        },
    )
    expected_revenue = MoneyField(validate=validate.Range(min=0))
    currency = fields.String(
        validate=validate.Length(equal=3),
        metadata={"description": "ISO 4217; default: the company's."},
    )
    probability = Percent(
        allow_none=True,
        metadata={
            "description": "Percent. Leave out or send null to follow the stage's probability."
        },
    )
    expected_close_date = fields.Date(allow_none=True)
    owner_id = fields.Integer(**ID)
    next_activity_date = fields.Date(allow_none=True)
    next_activity_note = fields.String(allow_none=True, validate=validate.Length(max=255))
    description = fields.String(allow_none=True)

    status = fields.String(dump_only=True, metadata={"enum": list(OPPORTUNITY_STATUSES)})
    probability_manual = fields.Boolean(dump_only=True)
    weighted_revenue = MoneyField(dump_only=True)
    lost_reason = fields.String(dump_only=True, allow_none=True)
    closed_at = fields.DateTime(dump_only=True, allow_none=True)
    stage_entered_at = fields.DateTime(dump_only=True, allow_none=True)
    source_lead_id = fields.Integer(dump_only=True, allow_none=True)
    stage_name = fields.Function(_name("stage"), dump_only=True)
    account_name = fields.Function(_name("account"), dump_only=True)
    contact_name = fields.Function(_name("contact"), dump_only=True)
    owner_name = fields.Function(_name("owner"), dump_only=True)


class StageHistorySchema(Schema):
    stage_id = fields.Integer()
    stage_name = fields.Function(_name("stage"))
    entered_at = fields.DateTime()
    left_at = fields.DateTime(allow_none=True)
    duration_seconds = fields.Integer(allow_none=True)


# --------------------------------------------------------------------------- action payloads


class _Action(Schema):
    class Meta:
        unknown = RAISE
        ordered = True


class DisqualifySchema(_Action):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class ConvertSchema(_Action):
    account_id = fields.Integer(
        **ID, metadata={"description": "Link this account instead of finding one."}
    )
    contact_id = fields.Integer(
        **ID, metadata={"description": "Link this contact instead of finding one."}
    )
    opportunity_name = fields.String(allow_none=True, validate=validate.Length(max=200))
    expected_revenue = MoneyField(allow_none=True, validate=validate.Range(min=0))
    currency = fields.String(allow_none=True, validate=validate.Length(equal=3))
    expected_close_date = fields.Date(allow_none=True)
    owner_id = fields.Integer(**ID)


class MoveSchema(_Action):
    stage_id = fields.Integer(required=True, validate=validate.Range(min=1, max=2**31 - 1))
    lost_reason = fields.String(
        allow_none=True,
        validate=validate.Length(max=2000),
        metadata={"description": "Required when the stage is the lost stage."},
    )


class LostSchema(_Action):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class ReopenSchema(_Action):
    stage_id = fields.Integer(
        allow_none=True,
        validate=validate.Range(min=1, max=2**31 - 1),
        metadata={"description": "Default: the open stage it was in last."},
    )


class ReportQuerySchema(_Action):
    owner_id = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1))
    closed_from = fields.Date()
    closed_to = fields.Date()


# --------------------------------------------------------------------------- responses


class ConversionSchema(Schema):
    """What ``POST /leads/<id>/convert`` answers: the new opportunity and the customer links."""

    lead = fields.Nested(LeadSchema)
    opportunity = fields.Nested(OpportunitySchema)
    account_id = fields.Function(lambda r: r.account.id if r.account is not None else None)
    contact_id = fields.Function(lambda r: r.contact.id if r.contact is not None else None)
    account_created = fields.Boolean(
        metadata={"description": "False when an existing account was recognised and linked."}
    )
    contact_created = fields.Boolean(
        metadata={"description": "False when an existing contact was recognised and linked."}
    )


class AmountsSchema(Schema):
    currency = fields.String()
    count = fields.Integer()
    expected = fields.String(metadata={"description": "Expected revenue, decimal string."})
    weighted = fields.String(metadata={"description": "Expected revenue x probability."})


class StageTotalsSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    sequence = fields.Integer()
    is_won = fields.Boolean()
    is_lost = fields.Boolean()
    archived = fields.Boolean()
    count = fields.Integer()
    totals = fields.List(fields.Nested(AmountsSchema))


class MonthForecastSchema(AmountsSchema):
    month = fields.String(allow_none=True, metadata={"description": "YYYY-MM; null: no date."})


class OwnerForecastSchema(AmountsSchema):
    owner_id = fields.Integer(allow_none=True)
    owner_name = fields.String(allow_none=True)


class WinRateSchema(Schema):
    won = fields.Integer()
    lost = fields.Integer()
    closed = fields.Integer()
    rate = fields.String(allow_none=True, metadata={"description": "Percent, one decimal."})


class TimeInStageSchema(Schema):
    stage_id = fields.Integer()
    name = fields.String()
    stays = fields.Integer(metadata={"description": "Completed stays counted."})
    average_seconds = fields.Integer()
    average_days = fields.String()


class PipelineReportSchema(Schema):
    company_id = fields.Integer()
    currency = fields.String(metadata={"description": "The company's currency."})
    owner_id = fields.Integer(allow_none=True)
    stages = fields.List(fields.Nested(StageTotalsSchema))
    forecast_by_month = fields.List(fields.Nested(MonthForecastSchema))
    forecast_by_owner = fields.List(fields.Nested(OwnerForecastSchema))
    win_rate = fields.Nested(WinRateSchema)
    time_in_stage = fields.List(fields.Nested(TimeInStageSchema))
