"""A salesperson in a real browser: converts a lead with the button, then drags the new
opportunity to another column of the pipeline (kanban.js), and the server agrees.

Uses the e2e fixtures of ``tests/e2e/conftest.py`` (Debian's Chromium, skipped when it is
missing unless CI is set), with a live server that has ``crm_sales`` (and so ``contacts``)
installed.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from addons.crm_sales import services
from addons.crm_sales.models import Lead, Opportunity, StageHistory
from core.models import Company
from tests.e2e.conftest import LiveServer, log_in, open_page


@pytest.fixture
def sales_server(live_server_for) -> LiveServer:
    return live_server_for("crm_sales")


@pytest.fixture
def sales_page(browser, sales_server):
    with open_page(browser, sales_server.url, viewport={"width": 1500, "height": 1000}) as page:
        yield page


def test_convert_a_lead_and_drag_its_opportunity_to_another_stage(sales_page, sales_server):
    page = sales_page
    db = sales_server.db
    with db.unit_of_work() as session:
        company_id = session.scalar(select(Company.id).order_by(Company.id).limit(1))
        lead_id = services.create_lead(
            session, {"title": "Browser lead: 12 licences", "contact_name": "Grace Hopper",
                      "email": "grace@compilers.example", "company_name": "Compilers Inc"},
            company_id=company_id,
        ).id  # fmt: skip
        stage = {s.name: s.id for s in services.stages(session, company_id)}

    # convert with the button
    log_in(page, next_path=f"/sales/leads/{lead_id}")
    expect(page.get_by_role("heading", name="Browser lead: 12 licences", level=1)).to_be_visible()
    page.get_by_role("link", name=re.compile("Convert to opportunity")).click()
    page.get_by_role("button", name="Convert to opportunity").click()
    expect(page.locator("[data-lead-status]")).to_have_text("Converted")
    link = page.locator("[data-opportunity-link]")
    expect(link).to_have_text("Browser lead: 12 licences")
    with db.session_factory() as session:
        opp_id = session.scalar(select(Opportunity.id).where(Opportunity.source_lead_id == lead_id))
        assert session.get(Lead, lead_id).status == "converted"
        assert session.get(Opportunity, opp_id).account.name == "Compilers Inc"

    # drag the card from "New" to "Proposal"
    page.goto("/sales/pipeline")
    card = page.locator(f'[data-card="{opp_id}"]')
    new_column = page.locator(f'[data-column="{stage["New"]}"]')
    proposal = page.locator(f'[data-column="{stage["Proposal"]}"]')
    expect(new_column.locator(f'[data-card="{opp_id}"]')).to_be_visible()
    expect(card).to_have_attribute("draggable", "true")  # the script is on
    card.drag_to(proposal.locator(".kanban-head"))
    expect(proposal.locator(f'[data-card="{opp_id}"]')).to_be_visible()
    expect(proposal.locator("[data-count]")).to_have_text("1")
    expect(proposal.locator("[data-totals]").first).to_contain_text("EUR")
    expect(new_column.locator(f'[data-card="{opp_id}"]')).to_have_count(0)
    expect(page.locator("[data-kanban-status]")).to_contain_text("is now in Proposal")

    # the server agrees, after a reload too
    page.reload()
    expect(
        page.locator(f'[data-column="{stage["Proposal"]}"] [data-card="{opp_id}"]')
    ).to_be_visible()
    with db.session_factory() as session:
        opp = session.get(Opportunity, opp_id)
        assert (opp.stage_id, opp.probability) == (stage["Proposal"], 50)
        stays = session.scalars(select(StageHistory).where(StageHistory.opportunity_id == opp_id)
                                .order_by(StageHistory.id)).all()  # fmt: skip
        assert [s.stage_id for s in stays] == [stage["New"], stage["Proposal"]]
        assert stays[0].duration_seconds is not None


def test_the_stage_selector_works_without_javascript(browser, sales_server):
    db = sales_server.db
    with db.unit_of_work() as session:
        company_id = session.scalar(select(Company.id).order_by(Company.id).limit(1))
        opp_id = services.create_opportunity(
            session, {"name": "No-JS deal"}, company_id=company_id
        ).id
        stage = {s.name: s.id for s in services.stages(session, company_id)}
    with open_page(browser, sales_server.url, java_script_enabled=False) as page:
        log_in(page, next_path="/sales/pipeline")
        card = page.locator(f'[data-column="{stage["New"]}"] li', has_text="No-JS deal")
        expect(card).not_to_have_attribute("draggable", "true")
        card.get_by_label("Stage of No-JS deal").select_option(label="Negotiation")
        card.get_by_role("button", name="Move").click()
        expect(page.get_by_role("status").first).to_contain_text("is now in Negotiation")
        expect(page.locator(f'[data-column="{stage["Negotiation"]}"]')).to_contain_text(
            "No-JS deal"
        )
    with db.session_factory() as session:
        assert session.get(Opportunity, opp_id).stage_id == stage["Negotiation"]
