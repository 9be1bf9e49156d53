"""The sales pages through the Flask test client, logged in with the web login (cookies, CSRF):
the generated list/forms, the convert button, the pipeline (kanban) with its no-JS stage
selector, the JSON answer the drag and drop uses, and the report with its server-side SVG."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from addons.crm_sales import services
from addons.crm_sales.models import Lead, Opportunity, SalesPipelineStage
from core.models import Company
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


@pytest.fixture
def web(client):
    """A browser-like client logged in as the administrator through the login page."""
    token = csrf_of(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302
    return client


@pytest.fixture
def company_id(db_session) -> int:
    return db_session.scalar(select(Company.id).order_by(Company.id).limit(1))


@pytest.fixture
def deals(db_session, company_id):
    """Two open opportunities (one in New, one in Proposal) and a lead; ids only."""
    stage = {s.name: s for s in services.stages(db_session, company_id)}
    a = services.create_opportunity(db_session, {"name": "Kanban Alpha", "expected_revenue": Decimal("1000")},
                                    company_id=company_id)  # fmt: skip
    b = services.create_opportunity(
        db_session, {"name": "Kanban Beta", "expected_revenue": Decimal("3000"), "stage_id": stage["Proposal"].id},
        company_id=company_id,
    )  # fmt: skip
    lead = services.create_lead(db_session, {"title": "Page lead", "contact_name": "Grace Hopper",
                                             "company_name": "Compilers Inc"}, company_id=company_id)  # fmt: skip
    ids = {"a": a.id, "b": b.id, "lead": lead.id, **{name: s.id for name, s in stage.items()}}
    db_session.commit()
    db_session.expunge_all()
    return ids


def page(client, url, status=200) -> str:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:1000]
    return response.get_data(as_text=True)


def test_anonymous_pages_redirect_to_login(client):
    for url in (
        "/sales/pipeline",
        "/sales/leads/",
        "/sales/reports/pipeline",
        "/sales/static/kanban.js",
    ):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_generated_lists_and_forms(web, deals):
    html = page(web, "/sales/leads/")
    assert "Page lead" in html
    assert "Kanban Beta" in page(web, "/sales/opportunities/")
    assert "Negotiation" in page(web, "/sales/stages/")
    form = page(web, "/sales/opportunities/new")
    assert 'name="stage_id"' in form and "Proposal" in form
    detail = page(web, f"/sales/opportunities/{deals['b']}")
    assert "Time in each stage" in detail and "Move to stage" in detail


def test_create_a_lead_through_the_form(web, db_session):
    form = page(web, "/sales/leads/new")
    response = web.post("/sales/leads/new", data={"csrf_token": csrf_of(form), "title": "Form lead",
                                                   "source": "referral", "email": "form@lead.example"})  # fmt: skip
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    lead = db_session.scalar(select(Lead).where(Lead.title == "Form lead"))
    assert (lead.source, lead.status, lead.email) == ("referral", "new", "form@lead.example")
    assert '<option value="web" selected>' in form  # the default source is preselected
    bad = web.post(
        "/sales/leads/new",
        data={"csrf_token": csrf_of(form), "title": "x", "email": "no", "source": "web"},
    )
    assert bad.status_code == 422 and "valid e-mail" in bad.get_data(as_text=True)


def test_convert_button_converts_the_lead(web, deals, db_session):
    detail = page(web, f"/sales/leads/{deals['lead']}")
    assert f"/sales/leads/{deals['lead']}/convert" in detail
    form = page(web, f"/sales/leads/{deals['lead']}/convert")
    response = web.post(f"/sales/leads/{deals['lead']}/convert", data={"csrf_token": csrf_of(form)})
    assert response.status_code == 302
    lead = db_session.get(Lead, deals["lead"])
    assert lead.status == "converted" and lead.opportunity.stage_id == deals["New"]
    after = page(web, f"/sales/leads/{deals['lead']}")
    assert "data-opportunity-link" in after and f"/sales/leads/{deals['lead']}/convert" not in after
    # a second conversion from a stale page is refused with a message, not an error page
    again = web.post(f"/sales/leads/{deals['lead']}/convert", data={"csrf_token": csrf_of(form)})
    assert again.status_code == 302
    assert "does not apply" in page(web, again.headers["Location"])


def test_pipeline_shows_columns_with_count_total_and_weighted(web, deals):
    html = page(web, "/sales/pipeline")
    columns = re.findall(r'data-column="(\d+)"', html)
    assert [int(c) for c in columns][:6] == [
        deals[n] for n in ("New", "Qualified", "Proposal", "Negotiation", "Won", "Lost")
    ]
    proposal = html.split(f'data-column="{deals["Proposal"]}"')[1].split("</section>")[0]
    assert "Kanban Beta" in proposal
    assert (
        "<span data-total>3,000.00</span> EUR" in proposal
        and "<span data-weighted>1,500.00</span>" in proposal
    )
    assert 'name="stage_id"' in proposal and 'name="csrf_token"' in proposal  # works without JS
    assert "kanban.js" in html
    script = web.get("/sales/static/kanban.js")
    assert script.status_code == 200 and "dragstart" in script.get_data(as_text=True)
    script.close()


def test_stage_selector_moves_without_javascript(web, deals, db_session):
    html = page(web, "/sales/pipeline")
    response = web.post(f"/sales/pipeline/{deals['a']}/move",
                        data={"csrf_token": csrf_of(html), "stage_id": deals["Negotiation"]})  # fmt: skip
    assert response.status_code == 302 and response.headers["Location"].endswith("/sales/pipeline")
    opp = db_session.get(Opportunity, deals["a"])
    assert opp.stage_id == deals["Negotiation"] and len(opp.history) == 2
    assert "is now in Negotiation" in page(web, "/sales/pipeline")


def test_move_without_csrf_token_is_refused(web, deals, db_session):
    response = web.post(f"/sales/pipeline/{deals['a']}/move", data={"stage_id": deals["Proposal"]})
    assert response.status_code == 403
    assert db_session.get(Opportunity, deals["a"]).stage_id == deals["New"]


def test_drag_and_drop_endpoint_answers_json_with_the_new_board(web, deals, db_session):
    token = csrf_of(page(web, "/sales/pipeline"))
    response = web.post(f"/sales/pipeline/{deals['a']}/move", headers={"Accept": "application/json"},
                        data={"csrf_token": token, "stage_id": deals["Proposal"]})  # fmt: skip
    assert response.status_code == 200
    body = response.get_json()
    assert body["stage_id"] == deals["Proposal"] and "Proposal" in body["message"]
    proposal = body["board"].split(f'data-column="{deals["Proposal"]}"')[1].split("</section>")[0]
    assert '<span class="count" data-count>2</span>' in proposal
    assert "<span data-total>4,000.00</span>" in proposal
    # dropping on Lost without a reason: a problem the script shows, nothing moved
    refused = web.post(f"/sales/pipeline/{deals['a']}/move", headers={"Accept": "application/json"},
                       data={"csrf_token": token, "stage_id": deals["Lost"]})  # fmt: skip
    assert refused.status_code == 422 and refused.mimetype == "application/problem+json"
    assert db_session.get(Opportunity, deals["a"]).status == "open"
    lost = web.post(f"/sales/pipeline/{deals['a']}/move", headers={"Accept": "application/json"},
                    data={"csrf_token": token, "stage_id": deals["Lost"], "lost_reason": "Too far away"})  # fmt: skip
    assert lost.status_code == 200 and lost.get_json()["status"] == "lost"


def test_move_errors_on_the_page_are_flashed(web, deals):
    token = csrf_of(page(web, "/sales/pipeline"))
    for data in ({"stage_id": "abc"}, {"stage_id": "99999999"}, {"stage_id": str(deals["Lost"])}):
        response = web.post(
            f"/sales/pipeline/{deals['a']}/move", data={"csrf_token": token, **data}
        )
        assert response.status_code == 302
    html = page(web, "/sales/pipeline")
    assert "flash-error" in html
    assert (
        web.post(
            "/sales/pipeline/99999999/move", data={"csrf_token": token, "stage_id": "1"}
        ).status_code
        == 302
    )


def test_move_from_the_opportunity_page_returns_there(web, deals):
    html = page(web, f"/sales/opportunities/{deals['b']}")
    response = web.post(f"/sales/pipeline/{deals['b']}/move", data={
        "csrf_token": csrf_of(html), "stage_id": deals["Won"], "next": f"/sales/opportunities/{deals['b']}"})  # fmt: skip
    assert response.headers["Location"].endswith(f"/sales/opportunities/{deals['b']}")
    after = page(web, f"/sales/opportunities/{deals['b']}")
    assert "Won · Won" in after and "Reopen" in after
    evil = web.post(f"/sales/pipeline/{deals['a']}/move", data={
        "csrf_token": csrf_of(html), "stage_id": deals["Qualified"], "next": "//evil.example/"})  # fmt: skip
    assert evil.headers["Location"].endswith("/sales/pipeline")


def test_report_page_has_a_server_rendered_svg_chart(web, deals, db_session, company_id):
    opp = db_session.get(Opportunity, deals["a"])
    services.update_opportunity(
        db_session, opp, {"expected_close_date": __import__("datetime").date(2030, 5, 3)}
    )
    db_session.commit()
    html = page(web, "/sales/reports/pipeline")
    assert "<svg" in html and "<script" not in html.split("<svg")[1].split("</svg>")[0]
    assert "2030-05" in html and "Win rate" in html and "Average time in stage" in html
    svg = web.get("/sales/reports/pipeline.svg")
    assert svg.mimetype == "image/svg+xml" and svg.get_data(as_text=True).startswith("<svg")


def test_names_are_escaped_on_the_board_and_in_the_chart(web, db_session, company_id):
    evil = '<script>alert("x")</script>'
    services.create_opportunity(db_session, {"name": evil, "expected_close_date": __import__("datetime").date(2030, 1, 1)},
                                company_id=company_id)  # fmt: skip
    db_session.commit()
    assert evil not in page(web, "/sales/pipeline")
    assert evil not in page(web, "/sales/reports/pipeline")


def test_a_folded_stage_is_marked(web, deals, db_session):
    stage = db_session.get(SalesPipelineStage, deals["Lost"])
    assert stage.folded
    html = page(web, "/sales/pipeline")
    lost = deals["Lost"]
    assert re.search(rf'class="kanban-col folded lost"\s+data-column="{lost}"', html)


def test_a_company_created_after_the_install_gets_its_pipeline_on_the_first_visit(
    client, db_session
):
    from core import identity

    fresh = identity.create_company(db_session, "Founded Later GmbH")
    identity.create_user(db_session, "later@example.com", "Sturdy-Pass-2024", name="Later", companies=[fresh],
                         company=fresh, groups=[identity.find_group(db_session, "crm_sales.user")])  # fmt: skip
    db_session.commit()
    fresh_id = fresh.id
    token = csrf_of(client.get("/login").get_data(as_text=True))
    client.post(
        "/login",
        data={"email": "later@example.com", "password": "Sturdy-Pass-2024", "csrf_token": token},
    )
    html = page(client, "/sales/pipeline")
    assert len(re.findall(r'data-column="\d+"', html)) == 6
    db_session.expire_all()
    names = db_session.scalars(
        select(SalesPipelineStage.name)
        .where(SalesPipelineStage.company_id == fresh_id)
        .order_by(SalesPipelineStage.sequence)
    ).all()
    assert names == ["New", "Qualified", "Proposal", "Negotiation", "Won", "Lost"]
    assert (
        len(re.findall(r'data-column="\d+"', page(client, "/sales/pipeline"))) == 6
    )  # not created twice


def test_action_pages_offer_the_stages_as_a_list(web, deals, db_session):
    url = f"/sales/opportunities/{deals['a']}/move"
    form = page(web, url)
    options = dict(re.findall(r'<option value="(\d+)"[^>]*>([^<]+)</option>', form))
    assert options[str(deals["Proposal"])] == "Proposal" and 'name="stage_id"' in form
    assert "<textarea" in form and 'name="lost_reason"' in form
    response = web.post(url, data={"csrf_token": csrf_of(form), "stage_id": str(deals["Proposal"])})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    assert db_session.get(Opportunity, deals["a"]).stage_id == deals["Proposal"]
    # reopening may leave the stage empty ("the stage it was in last")
    services.mark_lost(db_session, db_session.get(Opportunity, deals["b"]), reason="Budget")
    db_session.commit()
    reopen = page(web, f"/sales/opportunities/{deals['b']}/reopen")
    assert '<option value=""' in reopen and "Empty: the open stage it was in last." in reopen


def test_pipeline_and_report_filter_by_owner(web, deals, db_session):
    from core.models import User

    admin_id = db_session.scalar(select(User.id).where(User.email == ADMIN_EMAIL))
    for url in ("/sales/pipeline", "/sales/reports/pipeline"):
        html = page(web, url)
        assert f'action="{url}"' in html and '<option value="">Everyone</option>' in html
        assert f'<option value="{admin_id}"' in html
        chosen = page(web, f"{url}?owner_id={admin_id}")
        assert f'<option value="{admin_id}" selected>' in chosen


def test_the_opportunity_form_picks_its_account_and_contact_by_name(web, db_session, company_id):
    """Resource forms (not only actions) resolve record pickers: by name, or ask which one."""
    from addons.contacts import services as contacts

    firm = contacts.create_account(
        db_session, {"name": "Picker Widgets GmbH"}, company_id=company_id
    )
    person = contacts.create_contact(
        db_session, {"first_name": "Pia", "last_name": "Pickwick", "account_id": firm.id},
        company_id=company_id,
    )  # fmt: skip
    twin = contacts.create_account(db_session, {"name": "Picker Gadgets AG"}, company_id=company_id)
    db_session.commit()
    form = page(web, "/sales/opportunities/new")
    assert 'data-lookup="/contacts/accounts/lookup"' in form
    data = {
        "csrf_token": csrf_of(form),
        "name": "Picked deal",
        "expected_revenue": "10",
        "currency": "EUR",
    }
    ambiguous = web.post("/sales/opportunities/new", data={**data, "account_id": "picker"})
    html = ambiguous.get_data(as_text=True)
    assert (
        ambiguous.status_code == 422
        and "Picker Widgets GmbH" in html
        and "Picker Gadgets AG" in html
    )
    assert db_session.scalar(select(Opportunity).where(Opportunity.name == "Picked deal")) is None
    response = web.post(
        "/sales/opportunities/new",
        data={**data, "account_id": "picker widgets", "contact_id": "pickwick"},
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 302, body[body.find("error-summary") :][:1500]
    deal = db_session.scalar(select(Opportunity).where(Opportunity.name == "Picked deal"))
    assert (deal.account_id, deal.contact_id) == (firm.id, person.id)
    edit = page(web, f"/sales/opportunities/{deal.id}")  # the record page is its form
    assert 'value="Picker Widgets GmbH"' in edit and twin.name not in edit
