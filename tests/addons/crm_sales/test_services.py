"""Every transition and rule of leads, conversion, opportunities and stages, through the services.

Runs on SQLite and, with MOSAIC_TEST_DATABASE_URL, on PostgreSQL. Times are given explicitly
(``now=``), never read from the wall clock.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from addons.contacts import Account, Contact
from addons.contacts import services as contacts
from addons.crm_sales import services
from addons.crm_sales.models import Lead, Opportunity, SalesPipelineStage, StageHistory
from core.tenancy import company_scope
from tests.addons.crm_sales.conftest import T0, hours

# --------------------------------------------------------------------------- helpers


def lead(session, company_id, **data):
    data.setdefault("title", "Website enquiry")
    data.setdefault("contact_name", "Ada Lovelace")
    data.setdefault("email", "ada@analytical.example")
    data.setdefault("company_name", "Analytical Engines Ltd")
    return services.create_lead(session, data, company_id=company_id)


def opportunity(session, company_id, now=T0, **data):
    data.setdefault("name", "Big deal")
    data.setdefault("expected_revenue", Decimal("1000.00"))
    return services.create_opportunity(session, data, company_id=company_id, now=now)


def count(session, model, *where):
    return session.scalar(select(func.count()).select_from(model).where(*where))


def errors_of(excinfo) -> dict:
    assert excinfo.value.status == 422
    return excinfo.value.errors


# =========================================================================== leads


def test_new_lead_is_new_with_cleaned_email(session, company_id, admin_id):
    created = lead(
        session, company_id, email="  Ada@Analytical.EXAMPLE ", source="referral", owner_id=admin_id
    )
    assert created.status == "new"
    assert created.email == "ada@analytical.example"
    assert created.source == "referral"
    assert created.owner_id == admin_id
    assert created.company_id == company_id


def test_owner_defaults_to_the_acting_user(session, company_id, admin_id):
    with company_scope([company_id], user_id=admin_id):
        created = services.create_lead(session, {"title": "Call back"})
    assert created.owner_id == admin_id
    assert created.company_id == company_id


def test_lead_needs_a_company_outside_a_user_scope(session):
    with pytest.raises(services.SalesError) as excinfo:
        services.create_lead(session, {"title": "Nobody's"})
    assert excinfo.value.status == 409


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"title": "   "}, "title"),
        ({"email": "not-an-email"}, "email"),
        ({"phone": "call me maybe"}, "phone"),
        ({"source": "carrier pigeon"}, "source"),
        ({"owner_id": 987654}, "owner_id"),
        ({"account_id": 987654}, "account_id"),
        ({"contact_id": 987654}, "contact_id"),
        ({"status": "converted"}, "status"),
    ],
)
def test_lead_field_errors_are_422_per_field(session, company_id, data, field):
    with pytest.raises(services.SalesValidationError) as excinfo:
        lead(session, company_id, **data)
    assert field in errors_of(excinfo)
    assert count(session, Lead, Lead.title == "Website enquiry") == 0


def test_lead_cannot_link_another_companys_account(session, company_id, other_company_id):
    foreign = contacts.create_account(
        session, {"name": "Elsewhere Inc"}, company_id=other_company_id
    )
    with pytest.raises(services.SalesValidationError) as excinfo:
        lead(session, company_id, account_id=foreign.id)
    assert "account_id" in errors_of(excinfo)


def test_qualify_then_qualifying_again_is_refused(session, company_id):
    created = lead(session, company_id)
    services.qualify_lead(session, created)
    assert created.status == "qualified"
    with pytest.raises(services.InvalidTransition) as excinfo:
        services.qualify_lead(session, created)
    assert excinfo.value.status == 409


def test_disqualify_needs_a_reason(session, company_id):
    created = lead(session, company_id)
    with pytest.raises(services.SalesValidationError) as excinfo:
        services.disqualify_lead(session, created, "  ")
    assert "reason" in errors_of(excinfo)
    assert created.status == "new"


def test_disqualify_keeps_the_reason_and_requalify_clears_it(session, company_id):
    created = lead(session, company_id)
    services.qualify_lead(session, created)
    services.disqualify_lead(session, created, "No budget")
    assert (created.status, created.disqualify_reason) == ("disqualified", "No budget")
    with pytest.raises(services.InvalidTransition):
        services.disqualify_lead(session, created, "Again")
    services.qualify_lead(session, created)
    assert (created.status, created.disqualify_reason) == ("qualified", None)


def test_disqualified_lead_cannot_be_converted(session, company_id):
    created = lead(session, company_id)
    services.disqualify_lead(session, created, "Spam")
    with pytest.raises(services.InvalidTransition) as excinfo:
        services.convert_lead(session, created, now=T0)
    assert excinfo.value.status == 409
    assert created.status == "disqualified"


def test_update_lead_changes_fields(session, company_id):
    created = lead(session, company_id)
    services.update_lead(
        session, created, {"title": "Enquiry: 20 seats", "phone": "+49 30 1234567"}
    )
    assert created.title == "Enquiry: 20 seats"
    assert created.phone == "+49301234567"


# =========================================================================== conversion


def test_convert_creates_account_contact_and_opportunity_in_the_first_stage(
    session, company_id, stage, pm, recorder
):
    created = lead(session, company_id, phone="+44 20 7946 0958")
    result = services.convert_lead(
        session,
        created,
        expected_revenue="12500.50",
        expected_close_date=date(2030, 6, 30),
        pm=pm,
        now=T0,
    )
    opp = result.opportunity
    assert result.account_created and result.contact_created
    assert result.account.name == "Analytical Engines Ltd"
    assert result.account.is_customer
    assert (result.contact.first_name, result.contact.last_name) == ("Ada", "Lovelace")
    assert result.contact.email == "ada@analytical.example"
    assert result.contact.account_id == result.account.id
    assert opp.stage_id == stage["New"].id
    assert opp.probability == stage["New"].probability
    assert not opp.probability_manual
    assert opp.expected_revenue == Decimal("12500.50")
    assert opp.currency == "EUR"
    assert opp.name == "Website enquiry"
    assert opp.source_lead_id == created.id
    assert (opp.account_id, opp.contact_id) == (result.account.id, result.contact.id)
    assert opp.stage_entered_at == T0
    assert created.status == "converted"
    assert created.converted_at == T0
    assert (created.account_id, created.contact_id) == (result.account.id, result.contact.id)
    [stay] = opp.history
    assert (stay.stage_id, stay.entered_at, stay.left_at) == (stage["New"].id, T0, None)
    assert recorder.names() == ["crm_sales_lead_converted"]
    assert recorder.calls[0][1]["opportunity"] is opp


def test_convert_links_an_existing_customer_instead_of_copying_it(session, company_id):
    firm = contacts.create_account(session, {"name": "ACME GmbH"}, company_id=company_id)
    person = contacts.create_contact(
        session, {"first_name": "Wile", "last_name": "Coyote", "email": "wile@acme.example", "account_id": firm.id},
        company_id=company_id,
    )  # fmt: skip
    accounts_before, contacts_before = count(session, Account), count(session, Contact)
    created = lead(
        session,
        company_id,
        company_name="Acme",
        contact_name="W. E. Coyote",
        email="WILE@acme.example",
    )
    result = services.convert_lead(session, created, now=T0)
    assert (result.account.id, result.contact.id) == (firm.id, person.id)
    assert not result.account_created and not result.contact_created
    assert (count(session, Account), count(session, Contact)) == (accounts_before, contacts_before)


def test_convert_finds_the_person_by_name_at_the_same_account(session, company_id):
    firm = contacts.create_account(session, {"name": "Initech"}, company_id=company_id)
    person = contacts.create_contact(
        session,
        {"first_name": "Peter", "last_name": "Gibbons", "account_id": firm.id},
        company_id=company_id,
    )
    created = lead(
        session, company_id, company_name="Initech", contact_name="Peter Gibbons", email=None
    )
    result = services.convert_lead(session, created, now=T0)
    assert result.contact.id == person.id


def test_convert_uses_the_account_and_contact_given(session, company_id):
    firm = contacts.create_account(session, {"name": "Chosen Corp"}, company_id=company_id)
    person = contacts.create_contact(session, {"first_name": "Chosen", "last_name": "One", "account_id": firm.id},
                                     company_id=company_id)  # fmt: skip
    created = lead(session, company_id)
    result = services.convert_lead(session, created, account_id=firm.id, contact_id=person.id,
                                   opportunity_name="Chosen deal", now=T0)  # fmt: skip
    assert (result.account.id, result.contact.id) == (firm.id, person.id)
    assert result.opportunity.name == "Chosen deal"
    assert count(session, Account, Account.name == "Analytical Engines Ltd") == 0


def test_convert_refuses_a_contact_given_with_another_account(session, company_id):
    one = contacts.create_account(session, {"name": "One Corp"}, company_id=company_id)
    two = contacts.create_account(session, {"name": "Two Corp"}, company_id=company_id)
    person = contacts.create_contact(session, {"first_name": "Mia", "last_name": "Two", "account_id": two.id},
                                     company_id=company_id)  # fmt: skip
    created = lead(session, company_id)
    with pytest.raises(services.SalesValidationError) as excinfo:
        services.convert_lead(session, created, account_id=one.id, contact_id=person.id, now=T0)
    assert "contact_id" in errors_of(excinfo)
    assert created.status == "new"


def test_convert_with_only_a_company_name_links_no_contact(session, company_id):
    created = lead(session, company_id, contact_name=None, email=None, company_name="Lonely Firm")
    result = services.convert_lead(session, created, now=T0)
    assert result.contact is None
    assert result.account.name == "Lonely Firm"


def test_convert_with_only_a_person_creates_no_account(session, company_id):
    created = lead(
        session,
        company_id,
        company_name=None,
        contact_name="Solo Trader",
        email="solo@trader.example",
    )
    result = services.convert_lead(session, created, now=T0)
    assert result.account is None
    assert result.contact.last_name == "Trader"


def test_convert_needs_someone_to_sell_to(session, company_id):
    created = lead(session, company_id, contact_name=None, email=None, company_name=None)
    with pytest.raises(services.SalesValidationError) as excinfo:
        services.convert_lead(session, created, now=T0)
    assert "company_name" in errors_of(excinfo)
    assert created.status == "new"


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"currency": "XYZ"}, "currency"),
        ({"expected_revenue": "-5"}, "expected_revenue"),
        ({"expected_revenue": "1.234"}, "expected_revenue"),
        ({"owner_id": 987654}, "owner_id"),
        ({"account_id": 987654}, "account_id"),
    ],
)
def test_convert_options_are_validated_before_anything_is_created(
    session, company_id, options, field
):
    created = lead(session, company_id)
    accounts_before = count(session, Account)
    with pytest.raises(services.SalesValidationError) as excinfo:
        services.convert_lead(session, created, now=T0, **options)
    assert field in errors_of(excinfo)
    assert created.status == "new"
    assert count(session, Account) == accounts_before


def test_converting_twice_is_refused_with_409_and_changes_nothing(session, company_id):
    created = lead(session, company_id)
    services.convert_lead(session, created, now=T0)
    opportunities = count(session, Opportunity)
    with pytest.raises(services.AlreadyConverted) as excinfo:
        services.convert_lead(session, created, now=T0)
    assert excinfo.value.status == 409
    assert count(session, Opportunity) == opportunities


def test_conversion_is_one_transaction(session, company_id, pm, recorder):
    """A failure at the very end (a dependent's hook) leaves no account, contact or opportunity."""
    created = lead(session, company_id, company_name="Atomic Widgets", email="atom@widgets.example")
    recorder.fail_on = "crm_sales_lead_converted"
    before = (count(session, Account), count(session, Contact), count(session, Opportunity))
    savepoint = session.begin_nested()
    with pytest.raises(RuntimeError):
        services.convert_lead(session, created, pm=pm, now=T0)
    savepoint.rollback()
    session.expire_all()
    assert (count(session, Account), count(session, Contact), count(session, Opportunity)) == before
    assert session.get(Lead, created.id).status == "new"


def test_converted_lead_only_accepts_notes(session, company_id):
    created = lead(session, company_id)
    services.convert_lead(session, created, now=T0)
    services.update_lead(session, created, {"notes": "Signed at the fair"})
    assert created.notes == "Signed at the fair"
    with pytest.raises(services.ClosedLead) as excinfo:
        services.update_lead(session, created, {"title": "Rewritten"})
    assert excinfo.value.status == 409
    with pytest.raises(services.InvalidTransition):
        services.qualify_lead(session, created)
    with pytest.raises(services.InvalidTransition):
        services.disqualify_lead(session, created, "too late")


def test_opportunity_currency_defaults_to_the_company_currency(session, other_company_id):
    created = lead(session, other_company_id)
    result = services.convert_lead(session, created, now=T0)
    assert result.opportunity.currency == "USD"


# =========================================================================== opportunities


def test_new_opportunity_starts_in_the_first_stage_with_its_probability(session, company_id, stage):
    opp = opportunity(session, company_id)
    assert opp.stage_id == stage["New"].id
    assert opp.probability == Decimal("10.00")
    assert opp.status == "open"
    assert opp.weighted_revenue == Decimal("100.00")
    assert [(h.stage_id, h.left_at) for h in opp.history] == [(stage["New"].id, None)]


def test_opportunity_cannot_be_created_closed(session, company_id, stage):
    with pytest.raises(services.SalesValidationError) as excinfo:
        opportunity(session, company_id, stage_id=stage["Won"].id)
    assert "stage_id" in errors_of(excinfo)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": ""}, "name"),
        ({"expected_revenue": Decimal("-1")}, "expected_revenue"),
        ({"currency": "EURO"}, "currency"),
        ({"probability": Decimal("101")}, "probability"),
        ({"stage_id": 987654}, "stage_id"),
        ({"expected_close_date": "next week"}, "expected_close_date"),
        ({"foo": 1}, "foo"),
    ],
)
def test_opportunity_field_errors(session, company_id, data, field):
    with pytest.raises(services.SalesValidationError) as excinfo:
        opportunity(session, company_id, **data)
    assert field in errors_of(excinfo)


def test_moving_records_the_time_spent_in_each_stage(session, company_id, stage, pm, recorder):
    opp = opportunity(session, company_id, now=T0)
    services.move_opportunity(session, opp, stage["Qualified"].id, pm=pm, now=T0 + hours(3))
    services.move_opportunity(session, opp, stage["Proposal"].id, pm=pm, now=T0 + hours(27))
    stays = session.scalars(
        select(StageHistory).where(StageHistory.opportunity_id == opp.id).order_by(StageHistory.id)
    ).all()
    assert [(s.stage_id, s.duration_seconds) for s in stays] == [
        (stage["New"].id, 3 * 3600),
        (stage["Qualified"].id, 24 * 3600),
        (stage["Proposal"].id, None),
    ]
    assert stays[0].left_at == T0 + hours(3)
    assert opp.stage_entered_at == T0 + hours(27)
    assert opp.probability == stage["Proposal"].probability
    assert recorder.names() == ["crm_sales_opportunity_stage_changed"] * 2
    assert recorder.calls[0][1]["from_stage"].id == stage["New"].id


def test_moving_to_the_same_stage_changes_nothing(session, company_id, stage):
    opp = opportunity(session, company_id)
    services.move_opportunity(session, opp, stage["New"].id, now=T0 + hours(1))
    assert len(opp.history) == 1


def test_move_needs_a_stage_of_the_same_company(session, company_id, other_company_id, stage):
    opp = opportunity(session, company_id)
    foreign = services.stages(session, other_company_id)[1]
    for bad in (None, 987654, foreign.id):
        with pytest.raises(services.SalesValidationError) as excinfo:
            services.move_opportunity(session, opp, bad, now=T0)
        assert "stage_id" in errors_of(excinfo)


def test_move_to_an_archived_stage_is_refused(session, company_id, stage):
    spare = services.create_stage(
        session, {"name": "Parking", "sequence": 50, "probability": 5}, company_id=company_id
    )
    services.update_stage(session, spare, {"archived": True})
    opp = opportunity(session, company_id)
    with pytest.raises(services.SalesValidationError):
        services.move_opportunity(session, opp, spare.id, now=T0)


def test_manual_probability_survives_moves_until_cleared(session, company_id, stage):
    opp = opportunity(session, company_id, probability=Decimal("33.5"))
    assert (opp.probability, opp.probability_manual) == (Decimal("33.5"), True)
    services.move_opportunity(session, opp, stage["Proposal"].id, now=T0 + hours(1))
    assert opp.probability == Decimal("33.5")
    services.update_opportunity(session, opp, {"probability": None})
    assert (opp.probability, opp.probability_manual) == (stage["Proposal"].probability, False)


def test_update_with_a_stage_is_a_recorded_move(session, company_id, stage):
    opp = opportunity(session, company_id)
    services.update_opportunity(session, opp, {"stage_id": stage["Negotiation"].id, "name": "Bigger deal"},
                                now=T0 + hours(2))  # fmt: skip
    assert (opp.stage_id, opp.name) == (stage["Negotiation"].id, "Bigger deal")
    assert [h.duration_seconds for h in opp.history] == [7200, None]


def test_update_cannot_close_an_opportunity(session, company_id, stage):
    opp = opportunity(session, company_id)
    for closing in ("Won", "Lost"):
        with pytest.raises(services.SalesValidationError) as excinfo:
            services.update_opportunity(session, opp, {"stage_id": stage[closing].id})
        assert "stage_id" in errors_of(excinfo)
    assert opp.status == "open"


def test_won_closes_at_100_percent_in_the_won_stage(session, company_id, stage, pm, recorder):
    opp = opportunity(session, company_id, probability=Decimal("40"))
    services.mark_won(session, opp, pm=pm, now=T0 + hours(5))
    assert opp.status == "won"
    assert opp.stage_id == stage["Won"].id
    assert opp.probability == Decimal("100")
    assert opp.closed_at == T0 + hours(5)
    assert opp.history[0].duration_seconds == 5 * 3600
    assert recorder.names() == ["crm_sales_opportunity_stage_changed", "crm_sales_opportunity_won"]
    assert recorder.calls[-1][1]["opportunity"] is opp


def test_lost_needs_a_reason(session, company_id, stage, pm, recorder):
    opp = opportunity(session, company_id)
    with pytest.raises(services.SalesValidationError) as excinfo:
        services.mark_lost(session, opp, "", pm=pm, now=T0)
    assert "reason" in errors_of(excinfo)
    assert opp.status == "open"
    services.mark_lost(session, opp, "Too expensive", pm=pm, now=T0 + hours(1))
    assert (opp.status, opp.lost_reason, opp.probability) == ("lost", "Too expensive", Decimal("0"))
    assert opp.stage_id == stage["Lost"].id
    assert recorder.names()[-1] == "crm_sales_opportunity_lost"


def test_moving_into_the_won_or_lost_stage_closes_it(session, company_id, stage):
    won = opportunity(session, company_id)
    services.move_opportunity(session, won, stage["Won"].id, now=T0 + hours(1))
    assert won.status == "won"
    lost = opportunity(session, company_id)
    with pytest.raises(services.SalesValidationError) as excinfo:
        services.move_opportunity(session, lost, stage["Lost"].id, now=T0 + hours(1))
    assert "reason" in errors_of(excinfo)
    services.move_opportunity(session, lost, stage["Lost"].id, "No reply", now=T0 + hours(1))
    assert (lost.status, lost.lost_reason) == ("lost", "No reply")


@pytest.mark.parametrize("outcome", ["won", "lost"])
def test_closed_opportunity_cannot_be_edited_moved_or_closed_again(
    session, company_id, stage, outcome
):
    opp = opportunity(session, company_id)
    if outcome == "won":
        services.mark_won(session, opp, now=T0)
    else:
        services.mark_lost(session, opp, "Gone", now=T0)
    version = opp.version
    for attempt in (
        lambda: services.update_opportunity(session, opp, {"expected_revenue": Decimal("5")}),
        lambda: services.update_opportunity(session, opp, {"name": "Renamed"}),
        lambda: services.move_opportunity(session, opp, stage["Proposal"].id, now=T0),
        lambda: services.mark_won(session, opp, now=T0),
        lambda: services.mark_lost(session, opp, "again", now=T0),
    ):
        with pytest.raises(services.ClosedOpportunity) as excinfo:
            attempt()
        assert excinfo.value.status == 409
    # sending the values it already has is not an edit
    services.update_opportunity(session, opp, {"name": opp.name, "expected_revenue": "1000.00"})
    session.flush()
    assert opp.version == version and opp.status == outcome


def test_reopen_returns_to_the_last_open_stage(session, company_id, stage, pm, recorder):
    opp = opportunity(session, company_id)
    services.move_opportunity(session, opp, stage["Negotiation"].id, now=T0 + hours(1))
    services.mark_lost(session, opp, "Budget frozen", now=T0 + hours(2))
    services.reopen_opportunity(session, opp, pm=pm, now=T0 + hours(10))
    assert opp.status == "open"
    assert opp.stage_id == stage["Negotiation"].id
    assert (opp.closed_at, opp.lost_reason) == (None, None)
    assert opp.probability == stage["Negotiation"].probability
    assert [h.stage_id for h in opp.history] == [
        stage[n].id for n in ("New", "Negotiation", "Lost", "Negotiation")
    ]
    assert opp.history[2].duration_seconds == 8 * 3600
    assert recorder.calls[-1] == (
        "crm_sales_opportunity_reopened",
        {"opportunity": opp, "previous_status": "lost"},
    )
    # and it can be edited again
    services.update_opportunity(session, opp, {"name": "Second chance"})
    assert opp.name == "Second chance"


def test_reopen_into_a_chosen_stage_and_its_refusals(session, company_id, stage):
    opp = opportunity(session, company_id)
    with pytest.raises(services.InvalidTransition):
        services.reopen_opportunity(session, opp, now=T0)
    services.mark_won(session, opp, now=T0)
    with pytest.raises(services.SalesValidationError):
        services.reopen_opportunity(session, opp, stage["Lost"].id, now=T0)
    services.reopen_opportunity(session, opp, stage["Proposal"].id, now=T0 + hours(1))
    assert (opp.status, opp.stage_id) == ("open", stage["Proposal"].id)


def test_won_again_after_reopen_calls_the_hook_again(session, company_id, pm, recorder):
    opp = opportunity(session, company_id)
    services.mark_won(session, opp, pm=pm, now=T0)
    services.reopen_opportunity(session, opp, pm=pm, now=T0 + hours(1))
    services.mark_won(session, opp, pm=pm, now=T0 + hours(2))
    assert recorder.names().count("crm_sales_opportunity_won") == 2


def test_a_pipeline_without_a_won_stage_refuses_to_win(session, other_company_id):
    pipeline = {s.name: s for s in services.stages(session, other_company_id)}
    opp = opportunity(session, other_company_id)
    services.update_stage(session, pipeline["Won"], {"archived": True})
    with pytest.raises(services.SalesError) as excinfo:
        services.mark_won(session, opp, now=T0)
    assert "no won stage" in str(excinfo.value)


# =========================================================================== stages


def test_a_new_company_gets_the_default_pipeline_on_first_use(session, other_company_id):
    pipeline = services.stages(session, other_company_id)
    assert [s.name for s in pipeline] == [
        "New",
        "Qualified",
        "Proposal",
        "Negotiation",
        "Won",
        "Lost",
    ]
    assert [s.probability for s in pipeline] == [
        Decimal(p) for p in ("10", "25", "50", "75", "100", "0")
    ]
    assert [(s.is_won, s.is_lost, s.folded) for s in pipeline][-2:] == [
        (True, False, False),
        (False, True, True),
    ]
    assert services.stages(session, other_company_id) == pipeline  # not created twice


def test_stage_changes_of_probability_follow_into_open_opportunities(session, company_id, stage):
    follows = opportunity(session, company_id)
    manual = opportunity(session, company_id, probability=Decimal("90"))
    services.update_stage(session, stage["New"], {"probability": Decimal("15")})
    assert follows.probability == Decimal("15")
    assert manual.probability == Decimal("90")


def test_stage_rules(session, company_id, stage):
    with pytest.raises(services.SalesValidationError) as excinfo:
        services.create_stage(
            session, {"name": "Both", "is_won": True, "is_lost": True}, company_id=company_id
        )
    assert "is_lost" in errors_of(excinfo)
    with pytest.raises(services.SalesValidationError) as excinfo:
        services.create_stage(session, {"name": "Proposal"}, company_id=company_id)
    assert "name" in errors_of(excinfo)
    with pytest.raises(services.SalesValidationError) as excinfo:
        services.create_stage(
            session, {"name": "Odd", "probability": Decimal("150")}, company_id=company_id
        )
    assert "probability" in errors_of(excinfo)
    opportunity(session, company_id, stage_id=stage["Proposal"].id)
    with pytest.raises(services.SalesValidationError) as excinfo:
        services.update_stage(session, stage["Proposal"], {"is_won": True})
    assert "is_won" in errors_of(excinfo)
    with pytest.raises(services.SalesValidationError) as excinfo:
        services.update_stage(session, stage["Proposal"], {"archived": True})
    assert "archived" in errors_of(excinfo)
    services.update_stage(
        session, stage["Proposal"], {"name": "Offer", "sequence": 35, "folded": True}
    )
    assert (stage["Proposal"].name, stage["Proposal"].folded) == ("Offer", True)


def test_stages_of_an_invisible_company_are_neither_shown_nor_created(
    session, company_id, other_company_id
):
    with company_scope([company_id]):
        assert services.stages(session, other_company_id) == []
    assert (
        count(session, SalesPipelineStage, SalesPipelineStage.company_id == other_company_id) == 0
    )
