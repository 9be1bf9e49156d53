"""The lead-to-won flow, end to end through the REST API, as an integration would drive it.

A web form posts a lead; a salesperson qualifies and converts it (the customer already exists
in contacts and is linked, not copied); the opportunity moves through the pipeline, is won;
the forecast, the win rate and the time in each stage show it, and the history of every
record tells the story. Runs on SQLite and, with MOSAIC_TEST_DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import func, select

from addons.contacts.models import Account, Contact
from addons.crm_sales.models import StageHistory
from core import identity
from core.models import Company
from core.plugins import hookimpl
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

API = "/api/v1"
SALES = f"{API}/sales"
PASSWORD = "Sturdy-Pass-2024"


def login(client, email, password):
    response = client.post(f"{API}/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}


def ok(response, status=200):
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    return response.get_json()


class WonListener:
    """Stands in for a dependent addon (ordering) that starts work when a deal is won."""

    def __init__(self):
        self.won: list[tuple[int, str, str]] = []

    @hookimpl
    def crm_sales_opportunity_won(self, session, opportunity):
        self.won.append((opportunity.id, str(opportunity.expected_revenue), opportunity.currency))


def test_lead_to_won(app, client, db_session):
    listener = WonListener()
    pm = app.extensions["mosaic"].pm
    pm.register(listener, name="flow-won-listener")
    try:
        _flow(client, db_session, listener)
    finally:
        pm.unregister(name="flow-won-listener")


def _flow(client, db_session, listener):
    company = db_session.scalars(select(Company).order_by(Company.id)).first()
    identity.create_user(
        db_session, "sam.seller@example.com", PASSWORD, name="Sam Seller", companies=[company],
        company=company, groups=[identity.find_group(db_session, "crm_sales.user"),
                                 identity.find_group(db_session, "contacts.user")],
    )  # fmt: skip
    db_session.commit()
    admin = login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
    sam = login(client, "sam.seller@example.com", PASSWORD)

    # An existing customer, entered long ago in contacts.
    firm = ok(client.post(f"{API}/contacts/accounts/", headers=admin,
                          json={"name": "Globex Corporation", "is_customer": True}), 201)  # fmt: skip
    hank = ok(client.post(f"{API}/contacts/contacts/", headers=admin, json={
        "first_name": "Hank", "last_name": "Scorpio", "email": "hank@globex.example", "account_id": firm["id"]}), 201)  # fmt: skip
    accounts = db_session.scalar(select(func.count()).select_from(Account))
    people = db_session.scalar(select(func.count()).select_from(Contact))

    # 1. A lead comes in from the website.
    lead = ok(client.post(f"{SALES}/leads/", headers=sam, json={
        "title": "Globex: 50 seats of the CRM", "contact_name": "Hank Scorpio", "email": "HANK@globex.example",
        "company_name": "Globex Corp.", "source": "web", "phone": "+1 415 555 2671"}), 201)  # fmt: skip
    assert lead["status"] == "new" and lead["owner_name"] == "Sam Seller"
    lead_url = f"{SALES}/leads/{lead['id']}"

    # 2. Qualified, then converted: the existing customer is recognised and linked.
    assert ok(client.post(f"{lead_url}/qualify", headers=sam))["status"] == "qualified"
    conversion = ok(client.post(f"{lead_url}/convert", headers=sam, json={
        "expected_revenue": "48000.00", "expected_close_date": "2030-09-30"}))  # fmt: skip
    assert (conversion["account_id"], conversion["contact_id"]) == (firm["id"], hank["id"])
    assert not conversion["account_created"] and not conversion["contact_created"]
    assert db_session.scalar(select(func.count()).select_from(Account)) == accounts
    assert db_session.scalar(select(func.count()).select_from(Contact)) == people
    opp = conversion["opportunity"]
    assert (opp["stage_name"], opp["probability"], opp["status"]) == ("New", "10.00", "open")
    opp_url = f"{SALES}/opportunities/{opp['id']}"

    # Converting again is refused; so is editing the converted lead.
    again = client.post(f"{lead_url}/convert", headers=sam)
    assert again.status_code == 409 and again.mimetype == "application/problem+json"

    # 3. Through the pipeline.
    stages = {s["name"]: s["id"] for s in ok(client.get(f"{SALES}/stages/", headers=sam))["items"]}
    for name, probability in (
        ("Qualified", "25.00"),
        ("Proposal", "50.00"),
        ("Negotiation", "75.00"),
    ):
        moved = ok(client.post(f"{opp_url}/move", headers=sam, json={"stage_id": stages[name]}))
        assert (moved["stage_name"], moved["probability"]) == (name, probability)
    current = ok(client.get(opp_url, headers=sam))
    patched = ok(client.patch(opp_url, headers=sam, json={
        "version": current["version"], "next_activity_date": "2030-09-01", "next_activity_note": "Send contract"}))  # fmt: skip
    assert patched["next_activity_note"] == "Send contract"

    forecast = ok(client.get(f"{SALES}/reports/pipeline", headers=sam))
    september = [r for r in forecast["forecast_by_month"] if r["month"] == "2030-09"]
    assert september == [
        {
            "month": "2030-09",
            "currency": "EUR",
            "count": 1,
            "expected": "48000.00",
            "weighted": "36000.00",
        }
    ]
    mine = [r for r in forecast["forecast_by_owner"] if r["owner_name"] == "Sam Seller"]
    assert mine and mine[0]["weighted"] == "36000.00"

    # 4. Won: closed at 100 %, the dependent hears about it, and it is read-only now.
    won = ok(client.post(f"{opp_url}/won", headers=sam))
    assert (won["status"], won["stage_name"], won["probability"]) == ("won", "Won", "100.00")
    assert won["closed_at"] is not None
    assert listener.won == [(opp["id"], "48000.00", "EUR")]
    refused = client.patch(
        opp_url, headers=sam, json={"version": won["version"], "expected_revenue": "1.00"}
    )
    assert refused.status_code == 409 and refused.mimetype == "application/problem+json"

    # 5. The report and the history tell the story.
    report = ok(client.get(f"{SALES}/reports/pipeline?owner_id={won['owner_id']}", headers=sam))
    assert report["win_rate"] == {"won": 1, "lost": 0, "closed": 1, "rate": "100.0"}
    assert [r for r in report["forecast_by_month"] if r["month"] == "2030-09"] == []
    assert {row["name"] for row in report["time_in_stage"]} == {
        "New",
        "Qualified",
        "Proposal",
        "Negotiation",
    }
    stays = db_session.scalars(
        select(StageHistory)
        .where(StageHistory.opportunity_id == opp["id"])
        .order_by(StageHistory.id)
    ).all()
    assert [s.stage.name for s in stays] == ["New", "Qualified", "Proposal", "Negotiation", "Won"]
    assert all(s.duration_seconds is not None and s.left_at >= s.entered_at for s in stays[:-1])
    assert stays[-1].left_at is None
    history = ok(client.get(f"{opp_url}/history", headers=sam))
    assert history["total"] >= 5
    lead_after = ok(client.get(lead_url, headers=sam))
    assert (lead_after["status"], lead_after["opportunity_id"]) == ("converted", opp["id"])
