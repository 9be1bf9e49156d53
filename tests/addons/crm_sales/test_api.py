"""The sales REST API through the Flask test client: generated resources, custom actions, the
report, permissions and company scoping. Every error must be problem+json, never a 500."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from addons.contacts.models import Account
from addons.crm_sales.models import Opportunity
from core import identity
from core.models import Company, Group, Permission
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

BASE = "/api/v1/sales"
LEADS = f"{BASE}/leads/"
OPPS = f"{BASE}/opportunities/"
STAGES = f"{BASE}/stages/"
REPORT = f"{BASE}/reports/pipeline"
PASSWORD = "Sturdy-Pass-2024"
PROBLEM = "application/problem+json"


def login(client, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> dict[str, str]:
    response = client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}


def make_user(session, email: str, *groups: Group | str) -> str:
    company = session.scalars(select(Company).order_by(Company.id)).first()
    found = [g if isinstance(g, Group) else identity.find_group(session, g) for g in groups]
    identity.create_user(session, email, PASSWORD, name=email.split("@")[0], companies=[company],
                         company=company, groups=found)  # fmt: skip
    session.commit()
    return email


@pytest.fixture
def admin(client) -> dict[str, str]:
    return login(client)


def call(client, method, url, headers, body=None, status=200):
    response = client.open(url, method=method, json=body, headers=headers)
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    if status >= 400:
        assert response.mimetype == PROBLEM
    return response.get_json()


def new_lead(client, headers, **body):
    body.setdefault("title", "Website enquiry: 20 seats")
    body.setdefault("contact_name", "Ada Lovelace")
    body.setdefault("email", "ada@analytical.example")
    body.setdefault("company_name", "Analytical Engines Ltd")
    return call(client, "POST", LEADS, headers, body, 201)


def stage_ids(client, headers) -> dict[str, int]:
    items = call(client, "GET", STAGES, headers)["items"]
    return {s["name"]: s["id"] for s in items}


# =========================================================================== leads


def test_lead_create_list_filter_and_search(client, admin):
    response = client.post(LEADS, headers=admin, json={"title": "Call back", "email": " Bob@Example.COM ",
                                                        "source": "phone"})  # fmt: skip
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert response.headers["Location"].endswith(f"{LEADS}{body['id']}")
    assert (body["status"], body["email"], body["source"]) == ("new", "bob@example.com", "phone")
    assert body["owner_id"] is not None  # the caller
    new_lead(client, admin, title="Fair contact", source="event")
    listed = call(client, "GET", LEADS, admin, None)
    assert {"items", "total", "limit", "offset"} <= set(listed)
    assert call(client, "GET", LEADS + "?source=event", admin)["total"] == 1
    assert call(client, "GET", LEADS + "?q=call", admin)["items"][0]["title"] == "Call back"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "x", "email": "nope"}, "email"),
        ({"title": "x", "source": "pigeon"}, "source"),
        ({"title": "x", "status": "converted"}, "status"),
        ({"title": ""}, "title"),
        ({"title": "x", "owner_id": 2**31 - 1}, "owner_id"),
        ({"title": "x", "account_id": "abc"}, "account_id"),
        ({"title": "x" * 201}, "title"),
    ],
)
def test_lead_validation_is_422_per_field(client, admin, body, field):
    problem = call(client, "POST", LEADS, admin, body, 422)
    assert field in problem["errors"]


def test_qualify_disqualify_transitions(client, admin):
    lead = new_lead(client, admin)
    url = f"{LEADS}{lead['id']}"
    assert call(client, "POST", f"{url}/qualify", admin)["status"] == "qualified"
    assert call(client, "POST", f"{url}/qualify", admin, status=409)["status"] == 409
    problem = call(client, "POST", f"{url}/disqualify", admin, {}, 422)
    assert "reason" in problem["errors"]
    out = call(client, "POST", f"{url}/disqualify", admin, {"reason": "No budget"})
    assert (out["status"], out["disqualify_reason"]) == ("disqualified", "No budget")
    call(client, "POST", f"{url}/convert", admin, {}, 409)
    assert call(client, "POST", f"{url}/qualify", admin)["disqualify_reason"] is None


def test_convert_creates_customer_and_opportunity_then_409(client, admin, db_session):
    stages = stage_ids(client, admin)
    lead = new_lead(client, admin)
    url = f"{LEADS}{lead['id']}/convert"
    out = call(
        client,
        "POST",
        url,
        admin,
        {"expected_revenue": "12500.50", "expected_close_date": "2030-06-30"},
    )
    opp = out["opportunity"]
    assert out["account_created"] and out["contact_created"]
    assert out["lead"]["status"] == "converted" and out["lead"]["opportunity_id"] == opp["id"]
    assert (opp["stage_id"], opp["probability"], opp["expected_revenue"]) == (
        stages["New"],
        "10.00",
        "12500.50",
    )
    assert (opp["account_id"], opp["contact_id"]) == (out["account_id"], out["contact_id"])
    assert opp["account_name"] == "Analytical Engines Ltd" and opp["source_lead_id"] == lead["id"]
    problem = call(client, "POST", url, admin, {}, 409)
    assert problem["status"] == 409
    count = db_session.scalar(
        select(func.count())
        .select_from(Opportunity)
        .where(Opportunity.source_lead_id == lead["id"])
    )
    assert count == 1
    # the converted lead is history now
    current = call(client, "GET", f"{LEADS}{lead['id']}", admin)
    call(
        client,
        "PATCH",
        f"{LEADS}{lead['id']}",
        admin,
        {"title": "New", "version": current["version"]},
        409,
    )
    call(
        client,
        "PATCH",
        f"{LEADS}{lead['id']}",
        admin,
        {"notes": "ok", "version": current["version"]},
    )


def test_convert_links_an_existing_customer(client, admin, db_session):
    firm = call(client, "POST", "/api/v1/contacts/accounts/", admin, {"name": "ACME GmbH"}, 201)
    person = call(client, "POST", "/api/v1/contacts/contacts/", admin,
                  {"first_name": "Wile", "last_name": "Coyote", "email": "wile@acme.example",
                   "account_id": firm["id"]}, 201)  # fmt: skip
    before = db_session.scalar(select(func.count()).select_from(Account))
    lead = new_lead(
        client, admin, company_name="Acme", contact_name="Wile E. Coyote", email="WILE@ACME.example"
    )
    out = call(client, "POST", f"{LEADS}{lead['id']}/convert", admin)
    assert (out["account_id"], out["contact_id"]) == (firm["id"], person["id"])
    assert not out["account_created"] and not out["contact_created"]
    assert db_session.scalar(select(func.count()).select_from(Account)) == before


@pytest.mark.parametrize(
    "body",
    [{"currency": "XYZ"}, {"expected_revenue": "-1"}, {"account_id": 2**31 - 1}, {"foo": 1},
     {"expected_close_date": "soon"}, {"expected_revenue": "1e400"}, []],
)  # fmt: skip
def test_convert_bad_payloads_are_4xx_and_change_nothing(client, admin, body):
    lead = new_lead(client, admin)
    response = client.post(f"{LEADS}{lead['id']}/convert", json=body, headers=admin)
    assert response.status_code in (400, 422), response.get_json()
    assert response.mimetype == PROBLEM
    assert call(client, "GET", f"{LEADS}{lead['id']}", admin)["status"] == "new"


def test_converted_lead_cannot_be_deleted_while_its_opportunity_exists(client, admin):
    lead = new_lead(client, admin)
    call(client, "POST", f"{LEADS}{lead['id']}/convert", admin)
    call(client, "DELETE", f"{LEADS}{lead['id']}", admin, status=409)


# =========================================================================== opportunities


def test_opportunity_lifecycle_through_the_api(client, admin):
    stages = stage_ids(client, admin)
    opp = call(client, "POST", OPPS, admin, {"name": "Deal", "expected_revenue": "1000"}, 201)
    assert (opp["stage_id"], opp["status"], opp["weighted_revenue"]) == (
        stages["New"],
        "open",
        "100.00",
    )
    url = f"{OPPS}{opp['id']}"
    moved = call(client, "POST", f"{url}/move", admin, {"stage_id": stages["Proposal"]})
    assert (moved["stage_name"], moved["probability"]) == ("Proposal", "50.00")
    assert (
        "reason"
        in call(client, "POST", f"{url}/move", admin, {"stage_id": stages["Lost"]}, 422)["errors"]
    )
    won = call(client, "POST", f"{url}/won", admin)
    assert (won["status"], won["stage_name"], won["probability"]) == ("won", "Won", "100.00")
    assert won["closed_at"] is not None
    call(client, "PATCH", url, admin, {"name": "Changed", "version": won["version"]}, 409)
    call(client, "POST", f"{url}/move", admin, {"stage_id": stages["New"]}, 409)
    call(client, "POST", f"{url}/won", admin, status=409)
    reopened = call(client, "POST", f"{url}/reopen", admin, {})
    assert (reopened["status"], reopened["stage_name"], reopened["closed_at"]) == (
        "open",
        "Proposal",
        None,
    )
    patched = call(
        client,
        "PATCH",
        url,
        admin,
        {"name": "Changed", "probability": "35", "version": reopened["version"]},
    )
    assert (patched["name"], patched["probability"], patched["probability_manual"]) == (
        "Changed",
        "35.00",
        True,
    )
    assert "reason" in call(client, "POST", f"{url}/lost", admin, {}, 422)["errors"]
    lost = call(client, "POST", f"{url}/lost", admin, {"reason": "Went quiet"})
    assert (lost["status"], lost["lost_reason"], lost["probability"]) == (
        "lost",
        "Went quiet",
        "0.00",
    )
    history = call(client, "GET", f"{url}/history", admin)
    assert history["total"] >= 3


def test_opportunity_patch_needs_the_version_and_refuses_stale_ones(client, admin):
    opp = call(client, "POST", OPPS, admin, {"name": "Deal"}, 201)
    url = f"{OPPS}{opp['id']}"
    call(client, "PATCH", url, admin, {"name": "A"}, 428)
    call(client, "PATCH", url, admin, {"name": "A", "version": opp["version"]})
    call(client, "PATCH", url, admin, {"name": "B", "version": opp["version"]}, 409)


@pytest.mark.parametrize(
    "body",
    [{"name": "x", "stage_id": 0}, {"name": "x", "stage_id": 2**40}, {"name": "x", "currency": "EURO"},
     {"name": "x", "expected_revenue": "1.001"}, {"name": "x", "probability": "101"},
     {"name": "x", "expected_revenue": "NaN"}, {"name": "x", "expected_close_date": "2030-02-30"},
     {"name": None}, {"name": "x", "account_id": True}],
)  # fmt: skip
def test_opportunity_bad_input_is_never_a_500(client, admin, body):
    response = client.post(OPPS, json=body, headers=admin)
    assert response.status_code in (400, 422), response.get_data(as_text=True)
    assert response.mimetype == PROBLEM


def test_opportunity_cannot_be_created_in_a_closing_stage(client, admin):
    stages = stage_ids(client, admin)
    problem = call(client, "POST", OPPS, admin, {"name": "x", "stage_id": stages["Won"]}, 422)
    assert "stage_id" in problem["errors"]


def test_move_into_won_needs_the_won_permission(client, admin, db_session):
    read = db_session.scalars(select(Permission).where(Permission.name.in_(
        ["crm_sales.opportunity.read", "crm_sales.opportunity.move", "crm_sales.stage.read"]))).all()  # fmt: skip
    movers = Group(
        addon="crm_sales_test", key="movers", label="Movers only", permissions=list(read)
    )
    db_session.add(movers)
    make_user(db_session, "mover@example.com", movers)
    stages = stage_ids(client, admin)
    opp = call(client, "POST", OPPS, admin, {"name": "Deal"}, 201)
    mover = login(client, "mover@example.com", PASSWORD)
    call(client, "POST", f"{OPPS}{opp['id']}/move", mover, {"stage_id": stages["Qualified"]})
    call(client, "POST", f"{OPPS}{opp['id']}/move", mover, {"stage_id": stages["Won"]}, 403)
    call(client, "POST", f"{OPPS}{opp['id']}/won", mover, status=403)


# =========================================================================== stages


def test_stages_list_in_sequence_and_rules(client, admin):
    items = call(client, "GET", STAGES, admin)["items"]
    assert [s["name"] for s in items][:6] == [
        "New",
        "Qualified",
        "Proposal",
        "Negotiation",
        "Won",
        "Lost",
    ]
    created = call(
        client, "POST", STAGES, admin, {"name": "Demo", "sequence": 25, "probability": "30"}, 201
    )
    assert created["probability"] == "30.00"
    call(client, "POST", STAGES, admin, {"name": "Demo"}, 422)
    call(client, "POST", STAGES, admin, {"name": "Both", "is_won": True, "is_lost": True}, 422)
    opp = call(client, "POST", OPPS, admin, {"name": "In demo", "stage_id": created["id"]}, 201)
    call(client, "DELETE", f"{STAGES}{created['id']}", admin, status=409)
    call(
        client,
        "PATCH",
        f"{STAGES}{created['id']}",
        admin,
        {"is_won": True, "version": created["version"]},
        422,
    )
    call(client, "DELETE", f"{OPPS}{opp['id']}", admin, status=204)
    spare = call(client, "POST", STAGES, admin, {"name": "Unused"}, 201)
    call(client, "DELETE", f"{STAGES}{spare['id']}", admin, status=204)


# =========================================================================== report


def test_pipeline_report(client, admin):
    stages = stage_ids(client, admin)
    a = call(
        client,
        "POST",
        OPPS,
        admin,
        {"name": "A", "expected_revenue": "1000", "expected_close_date": "2030-04-10"},
        201,
    )
    call(client, "POST", OPPS, admin, {"name": "B", "expected_revenue": "3000", "expected_close_date": "2030-04-20",
                                       "stage_id": stages["Proposal"]}, 201)  # fmt: skip
    call(client, "POST", f"{OPPS}{a['id']}/won", admin)
    report = call(client, "GET", REPORT, admin)
    assert set(report) == {"company_id", "currency", "owner_id", "stages", "forecast_by_month",
                           "forecast_by_owner", "win_rate", "time_in_stage"}  # fmt: skip
    april = [r for r in report["forecast_by_month"] if r["month"] == "2030-04"]
    assert april == [
        {
            "month": "2030-04",
            "currency": "EUR",
            "count": 1,
            "expected": "3000.00",
            "weighted": "1500.00",
        }
    ]
    assert report["win_rate"]["won"] >= 1
    assert {s["name"] for s in report["stages"]} >= {"New", "Won", "Lost"}
    assert call(client, "GET", REPORT + "?closed_from=2999-01-01", admin)["win_rate"]["closed"] == 0


@pytest.mark.parametrize(
    "query", ["?owner_id=abc", "?closed_from=yesterday", "?nonsense=1", "?owner_id=99999999999"]
)
def test_report_bad_query_is_400(client, admin, query):
    call(client, "GET", REPORT + query, admin, status=400)


# =========================================================================== access


@pytest.mark.parametrize(
    ("method", "url"),
    [("GET", LEADS), ("POST", LEADS), ("GET", OPPS), ("GET", STAGES), ("GET", REPORT),
     ("POST", f"{LEADS}1/convert"), ("POST", f"{OPPS}1/won")],
)  # fmt: skip
def test_anonymous_is_401(client, method, url):
    response = client.open(url, method=method, json={})
    assert response.status_code == 401 and response.mimetype == PROBLEM


def test_without_sales_permissions_is_403(client, db_session):
    make_user(db_session, "contacts.only@example.com", "contacts.user")
    headers = login(client, "contacts.only@example.com", PASSWORD)
    for method, url in (("GET", LEADS), ("GET", OPPS), ("GET", REPORT), ("POST", STAGES)):
        assert (
            client.open(url, method=method, json={"name": "x"}, headers=headers).status_code == 403
        )


def test_sales_user_can_work_leads_but_not_manage_stages(client, db_session, admin):
    make_user(db_session, "seller@example.com", "crm_sales.user")
    seller = login(client, "seller@example.com", PASSWORD)
    lead = new_lead(client, seller)
    call(client, "POST", f"{LEADS}{lead['id']}/convert", seller)
    call(client, "POST", STAGES, seller, {"name": "Mine"}, 403)
    call(client, "DELETE", f"{LEADS}{lead['id']}", seller, status=403)
    assert call(client, "GET", REPORT, seller)["company_id"]


def test_records_of_another_company_are_404(client, admin, db_session):
    from addons.crm_sales import services

    other = identity.create_company(db_session, "Sales Elsewhere Ltd")
    db_session.flush()
    foreign = services.create_opportunity(db_session, {"name": "Theirs"}, company_id=other.id).id
    db_session.commit()
    call(client, "GET", f"{OPPS}{foreign}", admin, status=404)
    call(client, "POST", f"{OPPS}{foreign}/won", admin, status=404)
    names = [o["name"] for o in call(client, "GET", OPPS + "?limit=200", admin)["items"]]
    assert "Theirs" not in names


def test_openapi_describes_the_sales_resources_actions_and_report(client, admin):
    doc = call(client, "GET", "/api/v1/openapi.json", admin)
    paths = doc["paths"]
    for path in (
        "/api/v1/sales/leads/",
        "/api/v1/sales/leads/{record_id}/convert",
        "/api/v1/sales/opportunities/{record_id}/move",
        "/api/v1/sales/opportunities/{record_id}/won",
        "/api/v1/sales/opportunities/{record_id}/lost",
        "/api/v1/sales/opportunities/{record_id}/reopen",
        "/api/v1/sales/stages/",
        "/api/v1/sales/reports/pipeline",
    ):
        assert path in paths, sorted(p for p in paths if "/sales/" in p)
    report = paths["/api/v1/sales/reports/pipeline"]["get"]
    assert "forecast" in report["summary"].lower()


def test_csv_import_goes_through_the_services_and_export_lists_the_leads(client, admin):
    csv = (
        "title,contact_name,email,company_name,source\n"
        "Imported one,Ann Bee,ANN@bee.example,Bee Ltd,import\n"
        "Bad one,,not-an-email,,import\n"
    )
    headers = {**admin, "Content-Type": "text/csv"}
    refused = client.post(f"{LEADS}import", data=csv, headers=headers)
    assert refused.status_code == 422 and refused.get_json()["rows"][0]["errors"] == {
        "email": ["Not a valid e-mail address."]
    }
    result = client.post(f"{LEADS}import?skip_errors=true", data=csv, headers=headers)
    assert result.status_code == 200, result.get_json()
    assert (result.get_json()["created"], result.get_json()["skipped"]) == (1, 1)
    exported = client.get(f"{LEADS}?format=csv&q=imported", headers=admin)
    assert exported.mimetype == "text/csv"
    text = exported.get_data(as_text=True)
    assert "Imported one" in text and "ann@bee.example" in text and "Bad one" not in text


def test_status_source_and_currency_filters_read_values_as_typed(client, admin):
    new_lead(client, admin, title="By phone", source="phone")
    assert [
        i["title"] for i in call(client, "GET", LEADS + "?source=%20Phone%20", admin)["items"]
    ] == ["By phone"]
    refused = call(client, "GET", LEADS + "?status=maybe", admin, status=400)
    assert refused["errors"] == {"status": [refused["errors"]["status"][0]]}
    assert set(refused["allowed_values"]) == {"new", "qualified", "disqualified", "converted"}
    deal = call(
        client,
        "POST",
        OPPS,
        admin,
        {"name": "Typed", "expected_revenue": "5", "currency": "CHF"},
        201,
    )
    call(client, "POST", f"{OPPS}{deal['id']}/won", admin)
    assert [
        i["name"] for i in call(client, "GET", OPPS + "?status=WON&currency=chf", admin)["items"]
    ] == ["Typed"]
    assert call(client, "GET", OPPS + "?status__in=open,Lost&currency=chf", admin)["total"] == 0
    spec = call(client, "GET", "/api/v1/openapi.json", admin)
    params = {p["name"]: p for p in spec["paths"][LEADS.rstrip("/") + "/"]["get"]["parameters"]}
    assert params["status"]["schema"]["enum"] == ["new", "qualified", "disqualified", "converted"]
