"""The contacts web pages through the Flask test client, logged in with the login form."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from addons.contacts import services
from addons.contacts.models import Account, Contact
from core.models import Company
from tests.addons.contacts.test_api import PASSWORD, user_with
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def web_login(client, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> None:
    token = csrf(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token}
    )
    assert response.status_code in (302, 303)


@pytest.fixture
def world(db_session):
    company_id = db_session.scalar(select(Company.id).order_by(Company.id))
    acme = services.create_account(db_session, {
        "name": "Acme GmbH", "addresses": [{"kind": "billing", "street1": "Hauptstraße 1", "postal_code": "10115",
                                            "city": "Berlin", "country": "DE"}],
    }, company_id=company_id)  # fmt: skip
    anna = services.create_contact(db_session, {"first_name": "Anna", "last_name": "Schmidt", "email": "anna@acme.example",
                                                "account_id": acme.id}, company_id=company_id)  # fmt: skip
    twin = services.create_contact(db_session, {"first_name": "A.", "last_name": "Schmidt", "email": "Anna@acme.example"},
                                   company_id=company_id, confirm_duplicate=True)  # fmt: skip
    db_session.commit()
    return {"acme": acme.id, "anna": anna.id, "twin": twin.id}


def test_lists_and_record_pages_show_the_links_between_accounts_and_contacts(client, world):
    web_login(client)
    listing = client.get("/contacts/contacts/")
    assert listing.status_code == 200
    assert "Schmidt" in listing.get_data(as_text=True)
    assert 'href="/contacts/contacts/duplicates"' in listing.get_data(as_text=True)
    account_page = client.get(f"/contacts/accounts/{world['acme']}").get_data(as_text=True)
    assert f'href="/contacts/contacts/{world["anna"]}"' in account_page
    assert "Hauptstraße 1" in account_page and "Berlin" in account_page
    contact_page = client.get(f"/contacts/contacts/{world['anna']}").get_data(as_text=True)
    assert (
        f'href="/contacts/accounts/{world["acme"]}"' in contact_page and "Acme GmbH" in contact_page
    )


def test_creating_a_duplicate_warns_with_links_and_saves_when_confirmed(client, world, db_session):
    web_login(client)
    form = client.get("/contacts/contacts/new").get_data(as_text=True)
    data = {
        "csrf_token": csrf(form),
        "first_name": "Anna",
        "last_name": "Smith",
        "email": "ANNA@acme.example",
    }
    warned = client.post("/contacts/contacts/new", data=data)
    html = warned.get_data(as_text=True)
    assert warned.status_code == 409
    assert "Possible duplicate" in html
    assert f'<a href="/contacts/contacts/{world["anna"]}">contact #{world["anna"]}</a>' in html
    saved = client.post("/contacts/contacts/new", data={**data, "confirm_duplicate": "1"})
    assert saved.status_code in (302, 303)
    assert db_session.scalar(select(Contact.id).where(Contact.last_name == "Smith")) is not None


def test_duplicates_page_merges_with_one_click(client, world, db_session):
    web_login(client)
    page = client.get("/contacts/contacts/duplicates")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and f"Merge #{world['twin']} into #{world['anna']}" in html
    merged = client.post(
        f"/contacts/contacts/{world['anna']}/merge",
        data={"csrf_token": csrf(html), "source_id": str(world["twin"])},
    )
    assert merged.status_code in (302, 303)
    db_session.expire_all()
    assert db_session.get(Contact, world["twin"]) is None


def test_forget_asks_first_then_erases(client, world, db_session):
    web_login(client)
    question = client.get(f"/contacts/contacts/{world['anna']}/forget")
    html = question.get_data(as_text=True)
    assert question.status_code == 200 and "for good" in html
    done = client.post(
        f"/contacts/contacts/{world['anna']}/forget", data={"csrf_token": csrf(html)}
    )
    assert done.status_code in (302, 303)
    db_session.expire_all()
    assert db_session.get(Contact, world["anna"]).is_forgotten


def test_a_user_without_rights_sees_no_merge_or_forget(client, world, db_session):
    web_login(client, user_with(db_session, "clerk@example.com", "contacts.user"), PASSWORD)
    page = client.get(f"/contacts/contacts/{world['anna']}").get_data(as_text=True)
    assert "/merge" not in page and "/forget" not in page
    assert client.get(f"/contacts/contacts/{world['anna']}/forget").status_code == 403
    duplicates = client.get("/contacts/contacts/duplicates").get_data(as_text=True)
    assert "Merge #" not in duplicates


def test_anonymous_visitors_are_sent_to_the_login_page(client, world):
    for url in (
        "/contacts/contacts/",
        f"/contacts/accounts/{world['acme']}",
        "/contacts/accounts/duplicates",
    ):
        response = client.get(url)
        assert response.status_code in (302, 303) and "/login" in response.headers["Location"]


def test_an_account_form_picks_its_parent_by_name(client, world, db_session):
    web_login(client)
    form = client.get("/contacts/accounts/new").get_data(as_text=True)
    assert 'data-lookup="/contacts/accounts/lookup"' in form
    response = client.post(
        "/contacts/accounts/new",
        data={"csrf_token": csrf(form), "name": "Acme Logistics", "parent_id": "acme gmbh"},
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:1500]
    child = db_session.scalar(select(Account).where(Account.name == "Acme Logistics"))
    assert child.parent_id == world["acme"]
    unknown = client.post(
        "/contacts/accounts/new",
        data={"csrf_token": csrf(form), "name": "Orphan Ltd", "parent_id": "no such firm"},
    )
    assert unknown.status_code == 422
    assert db_session.scalar(select(Account).where(Account.name == "Orphan Ltd")) is None


def test_an_address_country_is_chosen_from_the_list(client, world, db_session):
    web_login(client)
    form = client.get("/contacts/accounts/new").get_data(as_text=True)
    assert '<select id="f-addresses-0-country" name="addresses-0-country"' in form
    assert '<option value="DE">Germany (DE)</option>' in form
    base = {"csrf_token": csrf(form), "name": "Country Picks AG", "addresses-0-kind": "billing",
            "addresses-0-city": "Basel"}  # fmt: skip
    forged = client.post("/contacts/accounts/new", data={**base, "addresses-0-country": "XX"})
    assert forged.status_code == 422  # a value the list does not offer is still refused
    assert db_session.scalar(select(Account).where(Account.name == "Country Picks AG")) is None
    response = client.post("/contacts/accounts/new", data={**base, "addresses-0-country": "CH"})
    assert response.status_code == 302, response.get_data(as_text=True)[:1500]
    account = db_session.scalar(select(Account).where(Account.name == "Country Picks AG"))
    assert [a.country for a in account.addresses] == ["CH"]
