"""The contacts REST API through the Flask test client: generated endpoints and custom actions."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from addons.contacts.models import Contact
from core import identity
from core.models import AuditLog, Company
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

CONTACTS = "/api/v1/contacts/contacts/"
ACCOUNTS = "/api/v1/contacts/accounts/"
PASSWORD = "Sturdy-Pass-2024"


def login(client, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> dict[str, str]:
    response = client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}


@pytest.fixture
def admin(client) -> dict[str, str]:
    return login(client)


def user_with(session, email: str, *groups: str) -> str:
    company = session.scalars(select(Company).order_by(Company.id)).first()
    found = [identity.find_group(session, g) for g in groups]
    identity.create_user(session, email, PASSWORD, name=email.split("@")[0], companies=[company],
                         company=company, groups=found)  # fmt: skip
    session.commit()
    return email


def post(client, url, headers, body, status=201):
    response = client.post(url, json=body, headers=headers)
    assert response.status_code == status, response.get_json()
    return response.get_json()


def berlin(**extra):
    return {"kind": "billing", "street1": "Hauptstraße 1", "postal_code": "10115", "city": "Berlin",
            "country": "DE", **extra}  # fmt: skip


# --------------------------------------------------------------------------- create and read


def test_create_contact_normalises_and_nests_addresses(client, admin):
    firm = post(
        client,
        ACCOUNTS,
        admin,
        {"name": "Acme GmbH", "addresses": [berlin()], "tags": "VIP; Partner"},
    )
    response = client.post(CONTACTS, headers=admin, json={
        "first_name": "Jürgen", "last_name": "Müller", "email": " Juergen.Mueller@ACME.example",
        "phone": "030 1234567", "account_id": firm["id"], "addresses": [berlin(kind="shipping")],
    })  # fmt: skip
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert response.headers["Location"].endswith(f"/api/v1/contacts/contacts/{body['id']}")
    assert (body["email"], body["phone"]) == ("juergen.mueller@acme.example", "+49301234567")
    assert body["account"] == {"id": firm["id"], "name": "Acme GmbH"}
    assert body["addresses"][0]["country"] == "DE" and body["addresses"][0]["is_default"] is True
    assert firm["tags"] == "Partner; VIP" and firm["billing_city"] == "Berlin"
    again = client.get(response.headers["Location"], headers=admin)
    assert again.get_json()["name"] == "Jürgen Müller" and again.headers["ETag"] == '"1"'


def test_account_billing_fields_write_the_default_billing_address(client, admin):
    firm = post(client, ACCOUNTS, admin, {"name": "Globex", "billing_city": "Paris", "billing_country": "fra",
                                          "phone": "01 42 68 53 00"})  # fmt: skip
    assert (firm["billing_country"], firm["phone"]) == ("FR", "+33142685300")
    assert [a["city"] for a in firm["addresses"]] == ["Paris"]
    changed = client.patch(
        f"{ACCOUNTS}{firm['id']}",
        headers=admin,
        json={"version": firm["version"], "billing_city": "Lyon"},
    )
    assert changed.status_code == 200, changed.get_json()
    assert [a["city"] for a in changed.get_json()["addresses"]] == ["Lyon"]


def test_a_likely_duplicate_is_a_409_with_candidates_unless_confirmed(client, admin):
    first = post(
        client,
        CONTACTS,
        admin,
        {"first_name": "Anna", "last_name": "Schmidt", "email": "anna@example.com"},
    )
    body = {"first_name": "Annie", "last_name": "S", "email": "ANNA@example.com"}
    refused = client.post(CONTACTS, headers=admin, json=body)
    assert refused.status_code == 409 and refused.mimetype == "application/problem+json"
    problem = refused.get_json()
    [candidate] = problem["candidates"]
    assert (candidate["id"], candidate["reasons"]) == (first["id"], ["email"])
    assert candidate["url"].endswith(f"/contacts/contacts/{first['id']}")
    assert "confirm_duplicate" in problem["hint"]
    assert (
        client.post(CONTACTS + "?confirm_duplicate=1", headers=admin, json=body).status_code == 201
    )
    assert (
        client.post(CONTACTS, headers=admin, json={**body, "confirm_duplicate": True}).status_code
        == 201
    )


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"last_name": "X", "phone": "call me"}, {"phone"}),
        ({"last_name": "X", "addresses": [berlin(country="XX")]}, {"addresses.0.country"}),
        ({"last_name": "X", "language": "xx-YY"}, {"language"}),
        ({"last_name": "X", "account_name": "Nobody Inc"}, {"account_name"}),
        ({"last_name": "X", "account_id": 2_000_000}, {"account_id"}),
        ({"last_name": "X", "owner_id": 2_000_000}, {"owner_id"}),
        ({"first_name": "", "last_name": ""}, {"last_name"}),
        ({"last_name": "X", "unknown": 1}, {"unknown"}),
        ({"last_name": "X" * 101}, {"last_name"}),
        ({"last_name": "X", "addresses": [{"kind": "home"}]}, {"addresses"}),
    ],
)
def test_bad_input_is_a_422_naming_the_fields(client, admin, body, fields):
    response = client.post(CONTACTS, headers=admin, json=body)
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert set(response.get_json()["errors"]) == fields


def test_contact_found_by_account_name(client, admin):
    firm = post(client, ACCOUNTS, admin, {"name": "Initech LLC"})
    person = post(client, CONTACTS, admin, {"last_name": "Lumbergh", "account_name": "initech"})
    assert person["account_id"] == firm["id"] and person["account_name"] == "Initech LLC"


# --------------------------------------------------------------------------- list, search, filters


@pytest.fixture
def people(client, admin):
    acme = post(client, ACCOUNTS, admin, {"name": "Acme GmbH", "is_customer": True})
    globex = post(client, ACCOUNTS, admin, {"name": "Globex", "is_vendor": True})
    rows = [
        {
            "first_name": "Jürgen",
            "last_name": "Müller",
            "account_id": acme["id"],
            "mobile": "+49 151 11111111",
        },
        {
            "first_name": "Anna",
            "last_name": "Schmidt",
            "account_id": globex["id"],
            "email": "anna@globex.example",
        },
        {"first_name": "Bob", "last_name": "Stone", "archived": True},
    ]
    return {
        "acme": acme,
        "globex": globex,
        "people": [post(client, CONTACTS, admin, r) for r in rows],
    }


@pytest.mark.parametrize(
    ("query", "names"),
    [("", {"Jürgen Müller", "Anna Schmidt"}), ("q=Müll", {"Jürgen Müller"}),
        ("q=jurgen muller", {"Jürgen Müller"}), ("q=globex", {"Anna Schmidt"}),
     ("q=anna@", {"Anna Schmidt"}), ("q=15111", {"Jürgen Müller"}), ("archived=true", {"Bob Stone"}),
     ("archived__in=true,false", {"Jürgen Müller", "Anna Schmidt", "Bob Stone"})],
)  # fmt: skip
def test_search_and_filters(client, admin, people, query, names):
    response = client.get(f"{CONTACTS}?{query}", headers=admin)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert {item["name"] for item in body["items"]} == names
    assert (body["total"], body["limit"], body["offset"]) == (len(names), 50, 0)


def test_filter_by_account_owner_and_type(client, admin, people):
    acme_id = people["acme"]["id"]
    assert [
        i["name"]
        for i in client.get(f"{CONTACTS}?account_id={acme_id}", headers=admin).get_json()["items"]
    ] == ["Jürgen Müller"]
    vendors = client.get(f"{ACCOUNTS}?is_vendor=true", headers=admin).get_json()["items"]
    assert [a["name"] for a in vendors] == ["Globex"]
    assert client.get(f"{ACCOUNTS}?owner_id__isnull=true", headers=admin).get_json()["total"] == 2
    bad = client.get(f"{CONTACTS}?colour=red", headers=admin)
    assert bad.status_code == 400 and bad.mimetype == "application/problem+json"


# --------------------------------------------------------------------------- update, delete


def test_update_with_a_stale_version_is_a_409(client, admin, people):
    person = people["people"][0]
    url = f"{CONTACTS}{person['id']}"
    ok = client.patch(url, headers=admin, json={"version": person["version"], "title": "Buyer"})
    assert ok.status_code == 200 and ok.get_json()["title"] == "Buyer"
    stale = client.patch(url, headers=admin, json={"version": person["version"], "title": "CEO"})
    assert stale.status_code == 409


def test_a_referenced_account_is_not_deleted_but_can_be_archived(client, admin, people):
    acme = people["acme"]
    refused = client.delete(f"{ACCOUNTS}{acme['id']}", headers=admin)
    assert refused.status_code == 409 and refused.mimetype == "application/problem+json"
    assert "contact" in refused.get_json()["detail"].lower()
    archived = client.patch(
        f"{ACCOUNTS}{acme['id']}",
        headers=admin,
        json={"version": acme["version"], "archived": True},
    )
    assert archived.status_code == 200
    lone = people["people"][2]
    assert client.delete(f"{CONTACTS}{lone['id']}", headers=admin).status_code == 204
    assert client.get(f"{CONTACTS}{lone['id']}", headers=admin).status_code == 404


# --------------------------------------------------------------------------- actions


def test_merge_from_the_api(client, admin, people, db_session):
    target, source = people["people"][0], people["people"][1]
    response = client.post(
        f"{CONTACTS}{target['id']}/merge", headers=admin, json={"source_id": source["id"]}
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["email"] == "anna@globex.example"  # filled from the source
    assert client.get(f"{CONTACTS}{source['id']}", headers=admin).status_code == 404
    history = client.get(f"{CONTACTS}{target['id']}/history", headers=admin).get_json()["items"]
    assert any(h["action"] == "merge" for h in history)
    assert (
        db_session.scalars(select(AuditLog).where(AuditLog.action == "merge")).one().user_id
        is not None
    )


@pytest.mark.parametrize(
    ("body", "status"), [({"source_id": 2_000_000}, 422), ({}, 422), ({"source_id": "x"}, 422)]
)
def test_merge_with_a_bad_source_is_refused(client, admin, people, body, status):
    target = people["people"][0]
    response = client.post(f"{CONTACTS}{target['id']}/merge", headers=admin, json=body)
    assert response.status_code == status and response.mimetype == "application/problem+json"


def test_merge_into_itself_is_a_409(client, admin, people):
    target = people["people"][0]
    response = client.post(
        f"{CONTACTS}{target['id']}/merge", headers=admin, json={"source_id": target["id"]}
    )
    assert response.status_code == 409


def test_merge_accounts_moves_their_contacts(client, admin, people):
    acme, globex = people["acme"], people["globex"]
    response = client.post(
        f"{ACCOUNTS}{acme['id']}/merge", headers=admin, json={"source_id": globex["id"]}
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["types"] == ["customer", "vendor"]
    anna = client.get(f"{CONTACTS}{people['people'][1]['id']}", headers=admin).get_json()
    assert anna["account"]["id"] == acme["id"]


def test_forget_from_the_api(client, admin, people, db_session):
    person = people["people"][1]
    response = client.post(f"{CONTACTS}{person['id']}/forget", headers=admin)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["email"], body["first_name"], body["is_forgotten"]) == (None, "", True)
    assert body["account"]["id"] == people["globex"]["id"]  # links stay
    assert db_session.get(Contact, person["id"]).forgotten_by_id is not None
    again = client.post(f"{CONTACTS}{person['id']}/forget", headers=admin)
    assert again.status_code == 409


# --------------------------------------------------------------------------- permissions


def test_rights_are_enforced(client, db_session, people):
    assert client.get(CONTACTS).status_code == 401
    clerk = login(client, user_with(db_session, "clerk@example.com", "contacts.user"), PASSWORD)
    stranger = login(client, user_with(db_session, "stranger@example.com"), PASSWORD)
    person = people["people"][0]
    assert client.get(CONTACTS, headers=stranger).status_code == 403
    assert client.get(CONTACTS, headers=clerk).status_code == 200
    assert client.post(CONTACTS, headers=clerk, json={"last_name": "Newman"}).status_code == 201
    for method, url in [
        ("delete", f"{CONTACTS}{person['id']}"),
        ("post", f"{CONTACTS}{person['id']}/forget"),
        ("post", f"{CONTACTS}{person['id']}/merge"),
        ("post", f"{ACCOUNTS}{people['acme']['id']}/merge"),
    ]:
        response = getattr(client, method)(
            url, headers=clerk, json={"source_id": people["people"][1]["id"]}
        )
        assert response.status_code == 403, (method, url)
        assert response.mimetype == "application/problem+json"
    assert (
        client.get(f"{CONTACTS}{person['id']}", headers=clerk).get_json()["is_forgotten"] is False
    )


def test_another_companys_contacts_are_invisible(client, admin, db_session, people):
    other = identity.create_company(db_session, "Elsewhere Ltd")
    db_session.flush()
    hidden = Contact(first_name="Hidden", last_name="Person", company_id=other.id)
    db_session.add(hidden)
    db_session.commit()
    hidden_id = hidden.id
    names = {
        i["name"]
        for i in client.get(f"{CONTACTS}?archived__in=true,false", headers=admin).get_json()[
            "items"
        ]
    }
    assert "Hidden Person" not in names
    assert client.get(f"{CONTACTS}{hidden_id}", headers=admin).status_code == 404
    target = people["people"][0]
    merge = client.post(
        f"{CONTACTS}{target['id']}/merge", headers=admin, json={"source_id": hidden_id}
    )
    assert merge.status_code == 422


def test_tags_have_their_own_resource(client, admin):
    tag = post(client, "/api/v1/contacts/tags/", admin, {"name": "Fair 2025", "color": "#2563eb"})
    person = post(client, CONTACTS, admin, {"last_name": "Tagged", "tags": ["Fair 2025"]})
    assert person["tags"] == "Fair 2025"
    bad = client.post("/api/v1/contacts/tags/", headers=admin, json={"name": "X", "color": "blue"})
    assert bad.status_code == 422 and "color" in bad.get_json()["errors"]
    assert client.delete(f"/api/v1/contacts/tags/{tag['id']}", headers=admin).status_code == 204
    assert client.get(f"{CONTACTS}{person['id']}", headers=admin).get_json()["tags"] == ""


def test_csv_import_through_the_api_reports_duplicates_per_row(client, admin):
    post(
        client,
        CONTACTS,
        admin,
        {"first_name": "Anna", "last_name": "Schmidt", "email": "anna@example.com"},
    )
    csv = "first_name,last_name,email\nBen,Brown,ben@example.com\nAnnie,S,ANNA@example.com\n"
    headers = {**admin, "Content-Type": "text/csv"}
    refused = client.post(f"{CONTACTS}import", data=csv, headers=headers)
    assert refused.status_code == 422, refused.get_json()
    [row] = refused.get_json()["rows"]
    assert row["line"] == 3 and "confirm_duplicate" in row["errors"]
    kept = client.post(f"{CONTACTS}import?skip_errors=true", data=csv, headers=headers)
    assert kept.status_code == 200 and kept.get_json()["created"] == 1
