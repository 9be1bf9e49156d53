"""Contacts and accounts lists: filters by tag, country and type, and search by phone number.

Everything goes through the REST list and the list page, the doors users use.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import insert

from addons.contacts.api import contacts
from addons.contacts.models import Contact, Tag, contact_tag
from core import identity
from core.resources.query import parse_list_params, run_list
from core.tenancy import unscoped
from tests.addons.contacts.test_api import ACCOUNTS, CONTACTS, berlin, login, post
from tests.addons.contacts.test_pages import web_login
from tests.core.resources_support import count_statements


@pytest.fixture
def admin(client) -> dict[str, str]:
    return login(client)


def paris(**extra: Any) -> dict[str, Any]:
    return {"kind": "billing", "street1": "1 rue de Rivoli", "postal_code": "75001",
            "city": "Paris", "country": "FR", **extra}  # fmt: skip


@pytest.fixture
def book(client, admin, admin_id) -> dict[str, Any]:
    """Accounts of every type in two countries, and their people."""
    acme = post(client, ACCOUNTS, admin, {"name": "Acme GmbH", "is_customer": True,
                                          "tags": "VIP; Partner", "addresses": [berlin()]})  # fmt: skip
    globex = post(client, ACCOUNTS, admin, {"name": "Globex SA", "is_vendor": True,
                                            "addresses": [paris()]})  # fmt: skip
    initech = post(client, ACCOUNTS, admin, {"name": "Initech", "is_customer": True,
                                             "is_vendor": True, "tags": "Prospect"})  # fmt: skip
    people = {
        "mueller": {"first_name": "Jürgen", "last_name": "Müller", "account_id": acme["id"],
                    "tags": "VIP", "addresses": [berlin()], "phone": "030 1234567",
                    "owner_id": admin_id},
        "dubois": {"first_name": "Claire", "last_name": "Dubois", "account_id": globex["id"],
                   "addresses": [paris(kind="shipping")], "mobile": "06 12 34 56 78"},
        "lumbergh": {"first_name": "Bill", "last_name": "Lumbergh", "account_id": initech["id"],
                     "tags": "Prospect; VIP", "mobile": "0170 0104729"},
        "solo": {"first_name": "Sam", "last_name": "Solo", "addresses": [berlin(kind="other")]},
    }  # fmt: skip
    return {
        "admin_id": admin_id,
        "acme": acme,
        "globex": globex,
        "initech": initech,
        **{key: post(client, CONTACTS, admin, body) for key, body in people.items()},
    }


def names(client, headers, url: str) -> list[str]:
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["total"] == len(body["items"])
    return sorted(item["name"] for item in body["items"])


# --------------------------------------------------------------------------- filters: REST


def test_accounts_filter_by_tag_country_type_and_archive(client, admin, book):
    assert names(client, admin, ACCOUNTS + "?tags.name=VIP") == ["Acme GmbH"]
    assert names(client, admin, ACCOUNTS + "?tags.name__in=Partner,Prospect") == [
        "Acme GmbH", "Initech"
    ]  # fmt: skip
    assert names(client, admin, ACCOUNTS + "?tags.name__contains=pros") == ["Initech"]
    assert names(client, admin, ACCOUNTS + "?addresses.country=FR") == ["Globex SA"]
    assert names(client, admin, ACCOUNTS + "?addresses.country__in=DE,FR") == [
        "Acme GmbH", "Globex SA"
    ]  # fmt: skip
    assert names(client, admin, ACCOUNTS + "?is_customer=true") == ["Acme GmbH", "Initech"]
    assert names(client, admin, ACCOUNTS + "?is_vendor=true&is_customer=false") == ["Globex SA"]
    assert names(client, admin, ACCOUNTS + "?is_customer=true&tags.name=Prospect") == ["Initech"]
    acme = book["acme"]
    archived = client.patch(
        f"{ACCOUNTS}{acme['id']}",
        headers=admin,
        json={"archived": True, "version": acme["version"]},
    )
    assert archived.status_code == 200, archived.get_json()
    assert names(client, admin, ACCOUNTS + "?tags.name=VIP") == []
    assert names(client, admin, ACCOUNTS + "?tags.name=VIP&archived=true") == ["Acme GmbH"]


def test_contacts_filter_by_their_accounts_type_tag_and_country(client, admin, book):
    url = CONTACTS + "?"
    assert names(client, admin, url + "account.is_customer=true") == [
        "Bill Lumbergh",
        "Jürgen Müller",
    ]
    assert names(client, admin, url + "account.is_vendor=true") == [
        "Bill Lumbergh",
        "Claire Dubois",
    ]
    both = "account.is_customer=true&account.is_vendor=false"
    assert names(client, admin, url + both) == ["Jürgen Müller"]  # the same account must be both
    assert names(client, admin, url + "account.is_customer=false") == ["Claire Dubois"]
    assert names(client, admin, url + "tags.name=VIP") == ["Bill Lumbergh", "Jürgen Müller"]
    assert names(client, admin, url + "tags.name=Partner") == []  # the account's tag, not theirs
    assert names(client, admin, url + "addresses.country=DE") == ["Jürgen Müller", "Sam Solo"]
    assert names(client, admin, url + "addresses.country__in=FR") == ["Claire Dubois"]
    assert names(client, admin, url + "addresses.country=DE&tags.name=VIP") == ["Jürgen Müller"]
    owned = "owner_id={}&account.is_customer=true".format(book["admin_id"])
    assert names(client, admin, url + owned) == ["Jürgen Müller"]


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("account.is_customer=maybe", "account.is_customer", "true or false"),
        ("account.name=Acme", "account.name", "Unknown filter"),
        ("addresses.country__isnull=true", "addresses.country__isnull", "Unknown filter"),
        ("tags.name__in=" + ",".join(["x"] * 101), "tags.name__in", "1 to 100"),
    ],
)
def test_bad_related_filters_are_problems_not_crashes(client, admin, query, field, message):
    response = client.get(CONTACTS + "?" + query, headers=admin)
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert message in response.get_json()["detail"] and field in response.get_json()["errors"]


def test_the_openapi_document_describes_the_new_filters(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    for path, expected in [
        (CONTACTS, {"tags.name__contains", "addresses.country__in", "account.is_customer"}),
        (ACCOUNTS, {"tags.name", "addresses.country", "is_vendor"}),
    ]:
        params = {p["name"]: p for p in doc["paths"][path]["get"]["parameters"]}
        assert expected <= set(params), sorted(params)
    contact_params = {p["name"]: p for p in doc["paths"][CONTACTS]["get"]["parameters"]}
    assert contact_params["account.is_vendor"]["schema"] == {"type": "boolean"}
    assert contact_params["addresses.country"]["schema"]["type"] == "string"


def test_related_filters_add_no_statement(client, admin, book, db):
    with count_statements(db.engine) as plain:
        assert client.get(CONTACTS + "?limit=2&q=0301234567", headers=admin).status_code == 200
    with count_statements(db.engine) as filtered:
        response = client.get(
            CONTACTS + "?limit=1&tags.name=VIP&addresses.country=DE&account.is_customer=true"
            "&q=0301234567",  # a search: both count in the page statement
            headers=admin,
        )
        assert [i["last_name"] for i in response.get_json()["items"]] == ["Müller"]
    assert len(plain) == len(filtered)


def test_a_tag_of_another_company_reveals_nothing(client, admin, book, db_session):
    """A link forced (by the system) to another company's tag does not make the filter match."""
    other = identity.create_company(db_session, "Elsewhere Ltd")
    db_session.flush()
    with unscoped():
        secret = Tag(name="Secret", company_id=other.id)
        elsewhere = Contact(first_name="Eve", last_name="Elsewhere", company_id=other.id)
        db_session.add_all([secret, elsewhere])
        db_session.flush()
        db_session.execute(
            insert(contact_tag),
            [
                {"contact_id": book["solo"]["id"], "tag_id": secret.id},
                {"contact_id": elsewhere.id, "tag_id": secret.id},
            ],
        )
        db_session.commit()
    for query in ("tags.name=Secret", "tags.name__contains=ecre", "tags.name__in=Secret,Nope"):
        body = client.get(CONTACTS + "?" + query, headers=admin).get_json()
        assert body["total"] == 0 and body["items"] == [], query
    assert names(client, admin, CONTACTS + "?q=Elsewhere") == []
    with unscoped():  # the links are real: only company scoping keeps them out of the answers
        params = parse_list_params(contacts, {"tags.name": "Secret"})
        found = sorted(c.last_name for c in run_list(db_session, contacts, params).items)
    assert found == ["Elsewhere", "Solo"]


# --------------------------------------------------------------------------- filters: the page


def test_the_list_page_offers_and_applies_the_filters(client, book):
    web_login(client)
    page = client.get("/contacts/contacts/?account.is_customer=true&addresses.country=DE")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    for control in ('name="tags.name__contains"', 'name="addresses.country"',
                    'name="account.is_customer"', 'name="account.is_vendor"'):  # fmt: skip
        assert control in text, control
    table = text[text.index("<tbody>") :]  # the country select names "Solomon Islands"
    assert '<option value="DE" selected>' in text and "Müller" in table
    assert "Lumbergh" not in table and "Dubois" not in table and "Solo" not in table
    accounts = client.get("/contacts/accounts/?tags.name__contains=vip").get_data(as_text=True)
    assert "Acme GmbH" in accounts and "Initech" not in accounts and "Globex" not in accounts
    bad = client.get("/contacts/contacts/?account.is_customer=maybe")
    assert bad.status_code == 400 and "account.is_customer" in bad.get_data(as_text=True)


# --------------------------------------------------------------------------- search by phone


@pytest.fixture
def phones(client, admin) -> dict[str, Any]:
    """Numbers stored in E.164 (a country was known) and one stored as typed (none was)."""
    return {
        "anna": post(client, CONTACTS, admin, {"first_name": "Anna", "last_name": "Berg",
                                               "addresses": [berlin()], "mobile": "0170 0104729"}),
        "ben": post(client, CONTACTS, admin, {"first_name": "Ben", "last_name": "Hall",
                                              "phone": "+1 (212) 555-0100"}),
        "carl": post(client, CONTACTS, admin, {"first_name": "Carl", "last_name": "Nomad",
                                               "phone": "0171 2345678"}),
        "firm": post(client, ACCOUNTS, admin, {"name": "Phone Firm", "phone": "030 9876543",
                                               "addresses": [berlin()]}),
    }  # fmt: skip


def test_phones_are_stored_as_the_search_expects(phones):
    assert phones["anna"]["mobile"] == "+491700104729"
    assert phones["ben"]["phone"] == "+12125550100"
    assert phones["carl"]["phone"] == "01712345678"  # no country known: kept as typed
    assert phones["firm"]["phone"] == "+49309876543"


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("0170 0104729", ["Anna Berg"]),
        ("+49 170 0104729", ["Anna Berg"]),
        ("0049 170 0104729", ["Anna Berg"]),
        ("+49 (0)170 0104729", ["Anna Berg"]),
        ("+49 170 01", ["Anna Berg"]),  # typed in part: a prefix of the number
        ("170/010-4729", ["Anna Berg"]),
        ("01700104729", ["Anna Berg"]),
        ("anna 0170 0104729", ["Anna Berg"]),
        ("ben 0170 0104729", []),  # every part of q must still match
        ("+33 170 0104729", []),  # another country's number
        ("(212) 555-0100", ["Ben Hall"]),
        ("+1 212 555 0100", ["Ben Hall"]),
        ("0171 2345678", ["Carl Nomad"]),
        ("+49 171 2345678", ["Carl Nomad"]),  # stored without a country: national digits
        ("+44 171 2345678", ["Carl Nomad"]),  # ... which cannot tell the countries apart
        ("Berg", ["Anna Berg"]),
        ("+491700104729", ["Anna Berg"]),  # the stored form, as before
    ],
)
def test_contacts_are_found_by_phone_as_people_type_it(client, admin, phones, q, expected):
    assert names(client, admin, CONTACTS + "?" + _q(q)) == expected


def test_a_short_number_is_not_read_as_a_phone(client, admin, phones):
    # "0170" is four digits: searched as a word only, which no stored number contains
    assert names(client, admin, CONTACTS + "?" + _q("0170")) == []
    assert names(client, admin, CONTACTS + "?" + _q("1700")) == ["Anna Berg"]


def test_accounts_are_found_by_phone_too(client, admin, phones):
    assert names(client, admin, ACCOUNTS + "?" + _q("030 9876543")) == ["Phone Firm"]
    assert names(client, admin, ACCOUNTS + "?" + _q("+49 30 9876543")) == ["Phone Firm"]
    assert names(client, admin, ACCOUNTS + "?" + _q("030 9876544")) == []


def test_the_list_page_finds_by_phone(client, phones):
    web_login(client)
    text = client.get("/contacts/contacts/?" + _q("0170 0104729")).get_data(as_text=True)
    assert "Berg" in text and "Nomad" not in text and "Hall" not in text


def _q(text: str) -> str:
    from urllib.parse import urlencode

    return urlencode({"q": text})
