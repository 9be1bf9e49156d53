"""The REST resources ``leads``, ``opportunities`` and ``stages``, and the pipeline report.

``register(api, web)`` mounts what ``core.resources`` generates from the three declarations
(``/api/v1/sales/<resource>/...``: list with search, filters and sort, create, read, update,
delete, history, CSV import/export, and the matching pages under ``/sales/...``), the custom
actions beside them, and ``GET /api/v1/sales/reports/pipeline``:

==========================================  ==========================================
``POST /leads/<id>/qualify``                 new / disqualified -> qualified
``POST /leads/<id>/disqualify``              ``{"reason": ...}``
``POST /leads/<id>/convert``                 find or create the customer, open an opportunity
                                             (a second conversion is a 409)
``POST /opportunities/<id>/move``            ``{"stage_id": ..., "lost_reason": ...}``
``POST /opportunities/<id>/won``             close as won
``POST /opportunities/<id>/lost``            ``{"reason": ...}``
``POST /opportunities/<id>/reopen``          ``{"stage_id": ...}`` (optional)
==========================================  ==========================================

Everything that decides something is in ``services``; this module adapts it to the web: it
hands the app's plugin manager to the services (so dependents hear about conversions and won
deals) and checks that a move into the won or lost stage is allowed to the caller.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from flask import Blueprint, current_app, request
from marshmallow import ValidationError
from sqlalchemy.orm import Session

from addons.crm_sales import schemas, services
from addons.crm_sales.models import (
    LEAD_SOURCES,
    LEAD_STATUSES,
    OPPORTUNITY_STATUSES,
    Lead,
    Opportunity,
    SalesPipelineStage,
)
from core.access import current_company_id, has_permission, permission_required
from core.identity import user_choices
from core.problems import Problem
from core.resources import (
    Action,
    Column,
    Filter,
    FormField,
    Resource,
    Section,
    api_doc,
    register_resource,
)

# --------------------------------------------------------------------------- adapters


def plugin_manager() -> Any:
    """The app's plugin manager: the services call the hooks dependents implement."""
    return current_app.extensions["mosaic"].pm


def require_company() -> int:
    company_id = current_company_id()
    if company_id is None:
        raise Problem(409, "Choose a current company first.")
    return company_id


def seed_pipeline(company_id: int) -> None:
    """A company created after the install gets the default pipeline on its first visit;
    committed here because the pages and the report that trigger it only read."""
    session = current_app.extensions["mosaic"].db.session
    if services.ensure_pipeline(session, company_id):
        session.commit()


def check_closing_permission(stage: SalesPipelineStage | None) -> None:
    """Moving into the won or lost stage is winning or losing: it needs that permission too."""
    if stage is None or not stage.is_closing:
        return
    needed = "crm_sales.opportunity.won" if stage.is_won else "crm_sales.opportunity.lost"
    if not has_permission(needed):
        raise Problem(403, f"You lack the permission '{needed}'.", title="Forbidden")


def move(
    session: Session, opp: Opportunity, stage_id: int, lost_reason: str | None = None
) -> Opportunity:
    stage = session.get(SalesPipelineStage, stage_id)
    check_closing_permission(stage)
    return services.move_opportunity(session, opp, stage_id, lost_reason, pm=plugin_manager())


def _create_lead(session: Session, data: dict[str, Any]) -> Lead:
    return services.create_lead(session, data)


def _convert(session: Session, lead: Lead, **options: Any) -> services.Conversion:
    return services.convert_lead(session, lead, pm=plugin_manager(), **options)


def _disqualify(session: Session, lead: Lead, reason: str) -> Lead:
    return services.disqualify_lead(session, lead, reason)


def _create_opportunity(session: Session, data: dict[str, Any]) -> Opportunity:
    return services.create_opportunity(session, data, pm=plugin_manager())


def _update_opportunity(session: Session, opp: Opportunity, data: dict[str, Any]) -> Opportunity:
    return services.update_opportunity(session, opp, data, pm=plugin_manager())


def _won(session: Session, opp: Opportunity) -> Opportunity:
    return services.mark_won(session, opp, pm=plugin_manager())


def _lost(session: Session, opp: Opportunity, reason: str) -> Opportunity:
    return services.mark_lost(session, opp, reason, pm=plugin_manager())


def _reopen(session: Session, opp: Opportunity, stage_id: int | None = None) -> Opportunity:
    return services.reopen_opportunity(session, opp, stage_id, pm=plugin_manager())


def _create_stage(session: Session, data: dict[str, Any]) -> SalesPipelineStage:
    return services.create_stage(session, data)


def stage_choices(session: Session) -> list[tuple[int, str]]:
    """The current company's stages (all of them: a closed opportunity shows its own)."""
    company_id = current_company_id()
    if company_id is None:
        return []
    return [(s.id, s.name) for s in services.stages(session, company_id)]


# --------------------------------------------------------------------------- declarations

OWNER_FILTER = Filter(choices=user_choices, label="Owner")  # a select of people, not an id

leads = Resource(
    name="leads",
    model=Lead,
    schema=schemas.LeadSchema,
    permission="crm_sales.lead",
    label="Lead",
    description="Prospects before qualification. Convert a qualified lead into an opportunity.",
    title_field="title",
    search=["title", "contact_name", "email", "company_name"],
    filters={
        "status": Filter(normalise="lower", choices=LEAD_STATUSES, label="Status"),
        "source": Filter(normalise="lower", choices=LEAD_SOURCES, label="Source"),
        "owner_id": OWNER_FILTER,
        "account_id": "eq",
        "created_at": "range",
    },
    sort=["title", "status", "source", "company_name", "created_at", "updated_at", "id"],
    default_sort="-created_at",
    columns=[
        "title",
        "contact_name",
        "company_name",
        "status",
        "source",
        Column("owner.name", "Owner"),
        "created_at",
    ],
    form=[
        Section(
            "Lead",
            [
                "title",
                "source",
                FormField("owner_id", "Owner", widget="select", choices=user_choices),
            ],
        ),
        Section(
            "Who",
            [
                "contact_name",
                FormField("email", widget="email"),
                FormField("phone", widget="tel"),
                FormField("company_name", "Company"),
            ],
        ),
        Section("", [FormField("notes", widget="textarea")]),
    ],
    eager=["owner", "opportunity"],
    actions=[
        Action(
            "qualify",
            services.qualify_lead,
            label="Qualify",
            description="Mark the lead as a real prospect.",
            when=lambda lead: lead.status in ("new", "disqualified"),
        ),
        Action(
            "disqualify",
            _disqualify,
            schema=schemas.DisqualifySchema,
            form=[FormField("reason", widget="textarea")],
            label="Disqualify",
            description="Not a prospect (say why).",
            when=lambda lead: lead.status in ("new", "qualified"),
        ),
        Action(
            "convert",
            _convert,
            schema=schemas.ConvertSchema,
            response=schemas.ConversionSchema,
            form=[
                FormField(
                    "account_id",
                    "Existing account",
                    widget="record",
                    target="contacts.accounts",
                    help="Its number or name. Empty: found through duplicate detection, or created.",
                ),
                FormField(
                    "contact_id",
                    "Existing contact",
                    widget="record",
                    target="contacts.contacts",
                    help="Their number or name. Empty: found through duplicate detection, or created.",
                ),
                "opportunity_name",
                "expected_revenue",
                "currency",
                "expected_close_date",
                FormField("owner_id", "Owner", widget="select", choices=user_choices),
            ],
            label="Convert to opportunity",
            description="Find the customer (or create the account and contact) through the "
            "contacts addon's duplicate detection, open an opportunity in the first stage and "
            "mark the lead converted. A lead is converted once: a second time is a 409.",
            when=lambda lead: lead.status in ("new", "qualified"),
        ),
    ],
    create=_create_lead,
    update=services.update_lead,
)

opportunities = Resource(
    name="opportunities",
    model=Opportunity,
    schema=schemas.OpportunitySchema,
    permission="crm_sales.opportunity",
    label="Opportunity",
    label_plural="Opportunities",
    description="Deals in the pipeline. Moves are recorded; won and lost are actions.",
    search=["name", "account.name"],
    filters={
        "status": Filter(normalise="lower", choices=OPPORTUNITY_STATUSES, label="Status"),
        "stage_id": Filter(choices=stage_choices, label="Stage"),
        "owner_id": OWNER_FILTER,
        "account_id": "eq",
        "contact_id": "eq",
        "currency": Filter(normalise="upper", help="An ISO 4217 code such as EUR (any case)."),
        "expected_close_date": "range",
        "expected_revenue": "range",
        "created_at": "range",
    },
    sort=[
        "name",
        "expected_revenue",
        "probability",
        "expected_close_date",
        "status",
        "created_at",
        "updated_at",
        "id",
    ],
    default_sort="-id",
    columns=[
        "name",
        Column("account.name", "Account"),
        Column("stage.name", "Stage"),
        "expected_revenue",
        "currency",
        "probability",
        "expected_close_date",
        Column("owner.name", "Owner"),
        "status",
    ],
    form=[
        Section(
            "Deal",
            [
                "name",
                FormField("stage_id", "Stage", widget="select", choices=stage_choices),
                "expected_revenue",
                "currency",
                FormField("probability", help="Leave empty to follow the stage's probability."),
                "expected_close_date",
                FormField("owner_id", "Owner", widget="select", choices=user_choices),
            ],
        ),
        Section(
            "Customer",
            [
                FormField("account_id", "Account", widget="record", target="contacts.accounts"),
                FormField("contact_id", "Contact", widget="record", target="contacts.contacts"),
            ],
        ),
        Section("Next step", ["next_activity_date", "next_activity_note"]),
        Section("", [FormField("description", widget="textarea")]),
    ],
    eager=["stage", "account", "contact", "owner"],
    actions=[
        Action(
            "move",
            move,
            schema=schemas.MoveSchema,
            form=[
                FormField("stage_id", "Stage", widget="select", choices=stage_choices),
                FormField(
                    "lost_reason", "Reason (when moved to the lost stage)", widget="textarea"
                ),
            ],
            label="Move to stage",
            description="Move to another stage (the time in each stage is recorded). The won "
            "stage wins it, the lost stage loses it and needs `lost_reason`.",
            when=lambda opp: opp.status == "open",
        ),
        Action(
            "won",
            _won,
            label="Mark won",
            description="Close as won: the won stage, 100 %.",
            when=lambda opp: opp.status == "open",
        ),
        Action(
            "lost",
            _lost,
            schema=schemas.LostSchema,
            form=[FormField("reason", widget="textarea")],
            label="Mark lost",
            description="Close as lost, saying why.",
            when=lambda opp: opp.status == "open",
            danger=True,
        ),
        Action(
            "reopen",
            _reopen,
            schema=schemas.ReopenSchema,
            form=[
                FormField(
                    "stage_id",
                    "Stage",
                    widget="select",
                    choices=stage_choices,
                    help="Empty: the open stage it was in last.",
                ),
            ],
            label="Reopen",
            description="Open a won or lost opportunity again (by default in the stage it was "
            "in last); only then can it be edited.",
            when=lambda opp: opp.status != "open",
        ),
    ],
    create=_create_opportunity,
    update=_update_opportunity,
)

stages = Resource(
    name="stages",
    model=SalesPipelineStage,
    schema=schemas.StageSchema,
    permission="crm_sales.stage",
    label="Pipeline stage",
    description="The columns of the pipeline, in sequence. Stages in use are archived, not deleted.",
    search=["name"],
    filters={"is_won": "eq", "is_lost": "eq", "folded": "eq"},
    sort=["sequence", "name", "probability", "id"],
    default_sort="sequence",
    columns=["name", "sequence", "probability", "is_won", "is_lost", "folded", "archived"],
    form=["name", "sequence", "probability", "is_won", "is_lost", "folded", "archived"],
    create=_create_stage,
    update=services.update_stage,
    operations=("create", "update", "delete"),
)


# --------------------------------------------------------------------------- report


def _day_start(value: Any) -> datetime | None:
    return datetime.combine(value, time.min, tzinfo=UTC) if value is not None else None


@api_doc(
    summary="The pipeline report: forecast, win rate, time in stage",
    description="Open opportunities' expected and weighted revenue by expected close month and "
    "by owner (per currency), totals per stage, the win rate of opportunities closed in "
    "[closed_from, closed_to), and the average completed stay in each stage.",
    response=schemas.PipelineReportSchema,
    query=[
        {"name": "owner_id", "in": "query", "schema": {"type": "integer"}},
        {"name": "closed_from", "in": "query", "schema": {"type": "string", "format": "date"}},
        {"name": "closed_to", "in": "query", "schema": {"type": "string", "format": "date"}},
    ],
    errors=(400,),
    tags=["crm_sales"],
)
@permission_required("crm_sales.report.read")
def pipeline_report() -> Any:
    try:
        args = schemas.ReportQuerySchema().load(request.args.to_dict())
    except ValidationError as exc:
        raise Problem(400, "Invalid query parameters.", errors=exc.normalized_messages()) from None
    session = current_app.extensions["mosaic"].db.session
    company_id = require_company()
    seed_pipeline(company_id)
    report = services.pipeline_report(
        session,
        company_id,
        owner_id=args.get("owner_id"),
        closed_from=_day_start(args.get("closed_from")),
        closed_to=_day_start(args.get("closed_to")),
    )
    return current_app.json.response(schemas.PipelineReportSchema().dump(report))


def register(api: Blueprint, web: Blueprint | None = None) -> None:
    for resource in (leads, opportunities, stages):
        register_resource(api, web, resource)
    api.add_url_rule("/reports/pipeline", "reports_pipeline", pipeline_report, methods=["GET"])
