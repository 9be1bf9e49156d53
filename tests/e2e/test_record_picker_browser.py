"""A salesperson converts a lead in a real browser, picking the existing account with the
record picker: types part of its name, picks the suggestion (core/static/picker.js), submits,
and the opportunity is linked to that account.

Uses the e2e fixtures of ``tests/e2e/conftest.py`` (Debian's Chromium, skipped when it is
missing unless CI is set) with the live server that has ``crm_sales`` (and so ``contacts``).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from addons.contacts import services as contact_services
from addons.crm_sales import services
from addons.crm_sales.models import Opportunity
from core.models import Company
from tests.e2e.conftest import LiveServer, log_in, open_page


@pytest.fixture
def sales_server(live_server_for) -> LiveServer:
    return live_server_for("crm_sales")


def test_convert_a_lead_picking_the_account_from_suggestions(browser, sales_server):
    db = sales_server.db
    with db.unit_of_work() as session:
        company_id = session.scalar(select(Company.id).order_by(Company.id).limit(1))
        for name in ("Brightwater Optics", "Brightwater Optics Nordic", "Stillwater Foods"):
            contact_services.create_account(
                session, {"name": name}, company_id=company_id, confirm_duplicate=True
            )
        lead_id = services.create_lead(
            session, {"title": "Picker browser lead", "contact_name": "Hedy Lamarr",
                      "company_name": "Frequency Hopping Ltd"},
            company_id=company_id,
        ).id  # fmt: skip
    with db.session_factory() as session:
        from addons.contacts.models import Account

        nordic_id = session.scalar(
            select(Account.id).where(Account.name == "Brightwater Optics Nordic")
        )

    with open_page(browser, sales_server.url) as page:
        log_in(page, next_path=f"/sales/leads/{lead_id}/convert")
        field = page.get_by_label("Existing account")
        expect(field).to_have_attribute("role", "combobox")  # the script is on
        field.press_sequentially("water opt", delay=30)
        suggestions = page.locator("#f-account_id-suggestions")
        options = suggestions.get_by_role("option")
        expect(options).to_have_count(2)
        expect(options.filter(has_text="Stillwater")).to_have_count(0)
        expect(field).to_have_attribute("aria-expanded", "true")
        field.press("ArrowDown")  # the keyboard moves through the suggestions
        expect(options.first).to_have_attribute("aria-selected", "true")
        options.filter(has_text=re.compile("Brightwater Optics Nordic")).click()
        expect(field).to_have_value("Brightwater Optics Nordic")
        expect(page.locator('input[name="account_id__id"]')).to_have_value(str(nordic_id))
        expect(options).to_have_count(0)
        expect(field).to_have_attribute("aria-expanded", "false")
        page.get_by_role("button", name="Convert to opportunity").click()
        expect(page.locator("[data-lead-status]")).to_have_text("Converted")

    with db.session_factory() as session:
        opp = session.scalar(select(Opportunity).where(Opportunity.source_lead_id == lead_id))
        assert opp is not None and opp.account_id == nordic_id
