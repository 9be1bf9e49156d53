"""Forecast, win rate and time in stage; the kanban; contacts' merge and forget hooks; the
default pipeline data and the demo. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

import core.audit  # noqa: F401  (the audit trail's session listeners, as in the app)
from addons.contacts import services as contacts
from addons.crm_sales import data, demo, services
from addons.crm_sales.models import Lead, Opportunity, SalesPipelineStage
from core.models import AuditLog, DataRecord, User
from core.tenancy import company_scope
from tests.addons.crm_sales.conftest import T0, hours


@pytest.fixture
def seller(session, other_company_id):
    user = User(email="zed.seller@example.com", name="Zed Seller", company_id=other_company_id)
    session.add(user)
    session.flush()
    return user


@pytest.fixture
def world(session, other_company_id, admin_id, seller):
    """A small pipeline in a company of its own (currency USD), with known times and amounts."""
    c = other_company_id
    stage = {s.name: s for s in services.stages(session, c)}

    def opp(name, revenue, **extra):
        payload = {"name": name, "expected_revenue": Decimal(revenue), **extra}
        return services.create_opportunity(session, payload, company_id=c, now=T0)

    a = opp("A", "2000", owner_id=admin_id)
    services.move_opportunity(session, a, stage["Qualified"].id, now=T0 + hours(2))
    services.mark_won(session, a, now=T0 + hours(6))
    b = opp("B", "700", owner_id=seller.id)
    services.mark_lost(session, b, "Price", now=T0 + hours(4))
    opp("C", "1000", owner_id=admin_id, expected_close_date=date(2030, 4, 10))
    opp(
        "D",
        "2000",
        owner_id=seller.id,
        expected_close_date=date(2030, 4, 20),
        stage_id=stage["Proposal"].id,
    )
    opp(
        "E",
        "500",
        owner_id=admin_id,
        expected_close_date=date(2030, 5, 1),
        probability=Decimal("80"),
    )
    opp("F", "300", owner_id=None, currency="EUR", stage_id=stage["Negotiation"].id)
    return {"company_id": c, "stage": stage, "admin_id": admin_id, "seller": seller}


def test_forecast_by_close_month_per_currency(session, world):
    report = services.pipeline_report(session, world["company_id"])
    assert report["currency"] == "USD"
    assert report["forecast_by_month"] == [
        {
            "month": "2030-04",
            "currency": "USD",
            "count": 2,
            "expected": "3000.00",
            "weighted": "1100.00",
        },
        {
            "month": "2030-05",
            "currency": "USD",
            "count": 1,
            "expected": "500.00",
            "weighted": "400.00",
        },
        {"month": None, "currency": "EUR", "count": 1, "expected": "300.00", "weighted": "225.00"},
    ]


def test_forecast_by_owner(session, world):
    report = services.pipeline_report(session, world["company_id"])
    admin_name = (
        session.get(User, world["admin_id"]).name or session.get(User, world["admin_id"]).email
    )
    assert report["forecast_by_owner"] == [
        {"owner_id": world["admin_id"], "owner_name": admin_name, "currency": "USD", "count": 2,
         "expected": "1500.00", "weighted": "500.00"},
        {"owner_id": world["seller"].id, "owner_name": "Zed Seller", "currency": "USD", "count": 1,
         "expected": "2000.00", "weighted": "1000.00"},
        {"owner_id": None, "owner_name": None, "currency": "EUR", "count": 1, "expected": "300.00",
         "weighted": "225.00"},
    ]  # fmt: skip


def test_win_rate_and_its_window(session, world):
    report = services.pipeline_report(session, world["company_id"])
    assert report["win_rate"] == {"won": 1, "lost": 1, "closed": 2, "rate": "50.0"}
    # A was won at T0+6h, B lost at T0+4h: a window from T0+5h sees only the win
    later = services.pipeline_report(session, world["company_id"], closed_from=T0 + hours(5))
    assert later["win_rate"] == {"won": 1, "lost": 0, "closed": 1, "rate": "100.0"}
    none = services.pipeline_report(session, world["company_id"], closed_to=T0)
    assert none["win_rate"] == {"won": 0, "lost": 0, "closed": 0, "rate": None}


def test_average_time_in_stage(session, world):
    report = services.pipeline_report(session, world["company_id"])
    by_name = {row["name"]: row for row in report["time_in_stage"]}
    # New: A 2 h, B 4 h -> 3 h; Qualified: A 4 h. Stays still running do not count.
    assert by_name["New"] == {"stage_id": world["stage"]["New"].id, "name": "New", "stays": 2,
                              "average_seconds": 10800, "average_days": "0.1"}  # fmt: skip
    assert by_name["Qualified"]["average_seconds"] == 4 * 3600
    assert set(by_name) == {"New", "Qualified"}


def test_stage_totals_and_owner_filter(session, world):
    report = services.pipeline_report(session, world["company_id"])
    stages = {row["name"]: row for row in report["stages"]}
    assert stages["Won"]["count"] == 1
    assert stages["Won"]["totals"] == [
        {"currency": "USD", "count": 1, "expected": "2000.00", "weighted": "2000.00"}
    ]
    assert stages["Lost"]["totals"][0]["weighted"] == "0.00"
    mine = services.pipeline_report(session, world["company_id"], owner_id=world["seller"].id)
    assert [row["owner_id"] for row in mine["forecast_by_owner"]] == [world["seller"].id]
    assert mine["win_rate"]["lost"] == 1 and mine["win_rate"]["won"] == 0
    assert {row["name"] for row in mine["time_in_stage"]} == {"New"}


def test_kanban_columns_have_counts_totals_and_cards(session, world):
    columns = {c.stage.name: c for c in services.kanban(session, world["company_id"])}
    assert list(columns) == ["New", "Qualified", "Proposal", "Negotiation", "Won", "Lost"]
    assert [o.name for o in columns["New"].cards] == ["C", "E"]  # by expected close date
    assert columns["New"].count == 2
    assert [m.as_dict() for m in columns["New"].totals] == [
        {"currency": "USD", "count": 2, "expected": "1500.00", "weighted": "500.00"}
    ]
    assert columns["Qualified"].count == 0 and columns["Qualified"].totals == []
    assert [m.currency for m in columns["Negotiation"].totals] == ["EUR"]
    limited = {c.stage.name: c for c in services.kanban(session, world["company_id"], limit=1)}
    assert (len(limited["New"].cards), limited["New"].hidden, limited["New"].count) == (1, 1, 2)
    recent = {
        c.stage.name: c
        for c in services.kanban(session, world["company_id"], closed_since=T0 + hours(5))
    }
    assert (recent["Won"].count, recent["Lost"].count) == (1, 0)
    theirs = {
        c.stage.name: c
        for c in services.kanban(session, world["company_id"], owner_id=world["seller"].id)
    }
    assert theirs["Proposal"].count == 1 and theirs["New"].count == 0


def test_reports_only_see_the_callers_companies(session, world, company_id):
    with company_scope([company_id]):
        report = services.pipeline_report(session, world["company_id"])
        assert report["stages"] == [] and report["forecast_by_month"] == []
        assert report["win_rate"]["closed"] == 0
        assert services.kanban(session, world["company_id"]) == []


# =========================================================================== contacts hooks


def test_merging_accounts_repoints_leads_and_opportunities(session, company_id, pm):
    source = contacts.create_account(session, {"name": "Merge Source Ltd"}, company_id=company_id)
    target = contacts.create_account(session, {"name": "Merge Target Ltd"}, company_id=company_id)
    lead = services.create_lead(
        session, {"title": "L", "account_id": source.id}, company_id=company_id
    )
    open_opp = services.create_opportunity(
        session, {"name": "Open", "account_id": source.id}, company_id=company_id, now=T0
    )
    won_opp = services.create_opportunity(
        session, {"name": "Won", "account_id": source.id}, company_id=company_id, now=T0
    )
    services.mark_won(session, won_opp, now=T0)
    result = contacts.merge_accounts(session, source, target, pm=pm)
    assert result.repointed == {"crm_sales_lead": 1, "crm_sales_opportunity": 2}
    assert lead.account_id == open_opp.account_id == won_opp.account_id == target.id
    assert won_opp.account.name == "Merge Target Ltd"
    logged = session.scalars(
        select(AuditLog).where(AuditLog.table_name == "crm_sales_opportunity", AuditLog.record_id == won_opp.id,
                               AuditLog.action == "update")
    ).all()  # fmt: skip
    assert any("account_id" in (row.changes or {}) for row in logged)


def test_merging_contacts_repoints_leads_and_opportunities(session, company_id, pm):
    source = contacts.create_contact(
        session, {"first_name": "Sam", "last_name": "Source"}, company_id=company_id
    )
    target = contacts.create_contact(
        session, {"first_name": "Tia", "last_name": "Target"}, company_id=company_id
    )
    lead = services.create_lead(
        session, {"title": "L", "contact_id": source.id}, company_id=company_id
    )
    opp = services.create_opportunity(
        session, {"name": "O", "contact_id": source.id}, company_id=company_id, now=T0
    )
    contacts.merge_contacts(session, source, target, pm=pm)
    assert lead.contact_id == opp.contact_id == target.id


def test_without_our_hook_the_merge_is_refused(session, company_id):
    source = contacts.create_account(session, {"name": "Hookless Source"}, company_id=company_id)
    target = contacts.create_account(session, {"name": "Hookless Target"}, company_id=company_id)
    services.create_opportunity(
        session, {"name": "O", "account_id": source.id}, company_id=company_id, now=T0
    )
    with pytest.raises(contacts.MergeError):
        contacts.merge_accounts(session, source, target, pm=None)


def test_forgetting_a_person_erases_it_from_leads_and_their_audit_trail(session, company_id, pm):
    person = contacts.create_contact(
        session, {"first_name": "Pia", "last_name": "Private"}, company_id=company_id
    )
    lead = services.create_lead(
        session, {"title": "Privacy", "contact_name": "Pia Private", "email": "pia@private.example",
                  "phone": "+49 30 1234567", "contact_id": person.id}, company_id=company_id,
    )  # fmt: skip
    session.flush()
    contacts.forget_contact(session, person, user_id=None, pm=pm)
    assert (lead.contact_name, lead.email, lead.phone) == (None, None, None)
    assert lead.title == "Privacy" and lead.contact_id == person.id
    rows = session.scalars(
        select(AuditLog).where(
            AuditLog.table_name == "crm_sales_lead", AuditLog.record_id == lead.id
        )
    ).all()
    assert rows
    dumped = repr([row.changes for row in rows])
    for personal in ("Pia", "pia@private", "1234567"):
        assert personal not in dumped
    created = next(row for row in rows if row.action == "create")
    assert created.changes["email"] == {"old": None, "new": contacts.ERASED}  # shown as erased
    assert created.changes["title"] == {"old": None, "new": "Privacy"}


# =========================================================================== data and demo


def test_default_pipeline_reload_is_idempotent_and_respects_user_changes(session, other_company_id):
    pipeline = {s.name: s for s in services.stages(session, other_company_id)}
    pipeline["Proposal"].name = "Offer sent"
    pipeline["Proposal"].probability = Decimal("45")
    session.delete(pipeline["Negotiation"])
    session.flush()
    data.load(session)
    data.load(session)
    names = [s.name for s in services.stages(session, other_company_id)]
    assert names == ["New", "Qualified", "Offer sent", "Won", "Lost"]
    keys = session.scalar(
        select(func.count()).select_from(DataRecord).where(DataRecord.addon == "crm_sales",
                                                           DataRecord.key.like(f"%.company.{other_company_id}"))
    )  # fmt: skip
    assert keys == 6


def test_a_stage_created_by_hand_is_adopted_not_duplicated(session, other_company_id):
    own = SalesPipelineStage(company_id=other_company_id, name="Won", sequence=5, probability=Decimal("100"),
                             is_won=True, is_lost=False, folded=False)  # fmt: skip
    session.add(own)
    session.flush()
    data.load(session)
    pipeline = services.stages(session, other_company_id)
    assert [s.name for s in pipeline] == [
        "Won",
        "New",
        "Qualified",
        "Proposal",
        "Negotiation",
        "Lost",
    ]
    assert pipeline[0] is own


def test_demo_data_spreads_over_stages_owners_and_months(session, company_id):
    demo.load(session, now=T0)
    opps = session.scalars(select(Opportunity).where(Opportunity.company_id == company_id)).all()
    leads = session.scalars(select(Lead).where(Lead.company_id == company_id)).all()
    assert len(opps) == len(demo.OPPORTUNITIES) + 1
    assert {o.status for o in opps} == {"open", "won", "lost"}
    assert len({o.stage_id for o in opps}) == 6
    assert len({o.owner_id for o in opps}) >= 3
    assert (
        len({o.expected_close_date.strftime("%Y-%m") for o in opps if o.expected_close_date}) >= 5
    )
    assert {lead.status for lead in leads} == {"new", "qualified", "disqualified", "converted"}
    report = services.pipeline_report(session, company_id)
    assert report["win_rate"]["closed"] == 5
    # the same again changes nothing (the demo refuses to load twice)
    demo.load(session, now=T0)
    assert session.scalar(select(func.count()).where(Opportunity.company_id == company_id)) == len(
        opps
    )
    assert session.scalar(select(func.count()).select_from(SalesPipelineStage)
                          .where(SalesPipelineStage.company_id == company_id)) == 6  # fmt: skip


def test_the_audit_trail_records_moves_and_conversion_links(session, company_id):
    stage = {s.name: s for s in services.stages(session, company_id)}
    opp = services.create_opportunity(session, {"name": "Audited"}, company_id=company_id, now=T0)
    services.move_opportunity(session, opp, stage["Proposal"].id, now=T0 + hours(1))
    services.mark_won(session, opp, now=T0 + hours(2))
    updates = session.scalars(
        select(AuditLog)
        .where(
            AuditLog.table_name == "crm_sales_opportunity",
            AuditLog.record_id == opp.id,
            AuditLog.action == "update",
        )
        .order_by(AuditLog.id)
    ).all()
    assert [row.changes["stage_id"]["new"] for row in updates] == [
        stage["Proposal"].id,
        stage["Won"].id,
    ]
    lead = services.create_lead(
        session, {"title": "Audited lead", "company_name": "Audit Firm"}, company_id=company_id
    )
    result = services.convert_lead(session, lead, now=T0)
    logged = session.scalars(
        select(AuditLog).where(
            AuditLog.table_name == "crm_sales_lead",
            AuditLog.record_id == lead.id,
            AuditLog.action == "update",
        )
    ).all()
    changes = {k: v for row in logged for k, v in row.changes.items()}
    assert changes["account_id"]["new"] == result.account.id
    assert changes["status"] == {"old": "new", "new": "converted"}
