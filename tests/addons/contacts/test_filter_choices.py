"""Code-like filters of contacts and accounts: country, language and size, as people type them.

Countries are stored as ``DE``; the filters take ``de``, `` De `` and ``DEU`` alike, refuse
what is no country with a 400 naming the parameter, list the codes in OpenAPI and are a
``<select>`` on the list pages. Through the REST list, the list page and the OpenAPI
document: the doors users use.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from addons.contacts.models import ACCOUNT_SIZES, Contact
from core import identity
from core.tenancy import unscoped
from tests.addons.contacts.test_api import ACCOUNTS, CONTACTS, berlin, post
from tests.addons.contacts.test_filters import admin, book, names, paris  # noqa: F401 - fixtures
from tests.addons.contacts.test_pages import web_login
from tests.core.test_openapi import assert_conforms


def _problem(client, headers, url: str, param: str) -> dict[str, Any]:
    response = client.get(url, headers=headers)
    assert response.status_code == 400, response.get_json()
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert list(body["errors"]) == [param], body
    assert f"Invalid value for '{param}'" in body["detail"]
    return body


# --------------------------------------------------------------------------- REST


@pytest.mark.parametrize("typed", ["DE", "de", "De", " de ", "%20DE", "deu", "DEU"])
def test_accounts_filter_by_country_however_typed(client, admin, book, typed):  # noqa: F811
    assert names(client, admin, f"{ACCOUNTS}?addresses.country={typed}") == ["Acme GmbH"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("addresses.country=de", ["Jürgen Müller", "Sam Solo"]),
        ("addresses.country= fr", ["Claire Dubois"]),
        ("addresses.country__in=de,fr", ["Claire Dubois", "Jürgen Müller", "Sam Solo"]),
        ("addresses.country__in= fr , FRA", ["Claire Dubois"]),
        ("addresses.country=us", []),  # a country, just nobody there
        ("addresses.country=de&tags.name=VIP", ["Jürgen Müller"]),
    ],
)
def test_contacts_filter_by_country_and_lists_of_them(client, admin, book, query, expected):  # noqa: F811
    assert names(client, admin, f"{CONTACTS}?{query}") == expected


@pytest.mark.parametrize(
    ("query", "param", "message"),
    [
        ("addresses.country=xx", "addresses.country", "'xx' is not an ISO 3166-1 country code"),
        ("addresses.country__in=de,zz", "addresses.country__in", "'zz' is not an ISO 3166-1"),
        ("addresses.country=Germany", "addresses.country", "'Germany' is not an ISO 3166-1"),
        ("addresses.country=", "addresses.country", "give a value."),
        ("size=huge", "size", "'huge' is not one of 1-10, 11-50, 51-250, 251-1000, 1001+."),
        ("size__in=1-10,10-100", "size__in", "'10-100' is not one of 1-10, 11-50"),
    ],
)
def test_an_unknown_code_is_a_400_naming_the_parameter(client, admin, query, param, message):  # noqa: F811
    body = _problem(client, admin, f"{ACCOUNTS}?{query}", param)
    assert message in body["errors"][param][0], body


def test_a_refused_size_lists_the_allowed_values(client, admin):  # noqa: F811
    body = _problem(client, admin, f"{ACCOUNTS}?size=huge", "size")
    assert body["allowed_values"] == list(ACCOUNT_SIZES)


def test_accounts_filter_by_size(client, admin):  # noqa: F811
    post(client, ACCOUNTS, admin, {"name": "Small Ltd", "size": "1-10"})
    post(client, ACCOUNTS, admin, {"name": "Mid GmbH", "size": "51-250"})
    assert names(client, admin, ACCOUNTS + "?" + urlencode({"size": " 1-10 "})) == ["Small Ltd"]
    both = urlencode({"size__in": "51-250,1-10"})
    assert names(client, admin, f"{ACCOUNTS}?{both}") == ["Mid GmbH", "Small Ltd"]


@pytest.fixture
def speakers(client, admin) -> dict[str, Any]:  # noqa: F811
    return {
        "anna": post(client, CONTACTS, admin, {"first_name": "Anna", "last_name": "Keller",
                                               "language": "de-CH"}),
        "ben": post(client, CONTACTS, admin, {"first_name": "Ben", "last_name": "Roux",
                                              "language": "fr"}),
        "carl": post(client, CONTACTS, admin, {"first_name": "Carl", "last_name": "Nolang"}),
    }  # fmt: skip


def test_contacts_filter_by_language_however_typed(client, admin, speakers):  # noqa: F811
    assert speakers["anna"]["language"] == "de-CH"  # the stored form the filter must reach
    for typed in ("de-CH", "DE-ch", " de_ch "):
        query = urlencode({"language": typed})
        assert names(client, admin, f"{CONTACTS}?{query}") == ["Anna Keller"], typed
    assert names(client, admin, f"{CONTACTS}?language__in=FR,de-ch") == ["Anna Keller", "Ben Roux"]
    body = _problem(client, admin, f"{CONTACTS}?language=xx", "language")
    assert "'xx' is not a language code" in body["errors"]["language"][0]


def test_a_language_finds_its_regional_forms_but_a_region_only_itself(client, admin, speakers):  # noqa: F811
    post(client, CONTACTS, admin, {"first_name": "Dora", "last_name": "Lang", "language": "de"})
    post(client, CONTACTS, admin, {"first_name": "Emil", "last_name": "Graz", "language": "de-AT"})
    post(client, CONTACTS, admin, {"first_name": "Ida", "last_name": "Pick", "language": "id"})
    everyone_german = ["Anna Keller", "Dora Lang", "Emil Graz"]
    assert sorted(names(client, admin, f"{CONTACTS}?language=DE")) == sorted(everyone_german)
    assert names(client, admin, f"{CONTACTS}?language=de-at") == ["Emil Graz"]
    both = names(client, admin, f"{CONTACTS}?language__in=de,fr")
    assert sorted(both) == sorted([*everyone_german, "Ben Roux"])
    # a wildcard cannot widen the match: the value must be a language code first
    body = _problem(client, admin, f"{CONTACTS}?language=d%25", "language")
    assert "is not a language code" in body["errors"]["language"][0]


# --------------------------------------------------------------------------- OpenAPI


@pytest.fixture
def doc(client) -> dict[str, Any]:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def _params(doc: dict[str, Any], path: str) -> dict[str, Any]:
    return {p["name"]: p for p in doc["paths"][path]["get"]["parameters"]}


def test_openapi_lists_the_codes_of_the_closed_filters(doc):
    accounts, contacts = _params(doc, ACCOUNTS), _params(doc, CONTACTS)
    for params in (accounts, contacts):
        country = params["addresses.country"]
        assert country["schema"]["type"] == "string"
        assert {"DE", "FR", "US"} <= set(country["schema"]["enum"])
        assert len(country["schema"]["enum"]) == 249
        assert "any case" in country["description"]
        pattern = re.compile(params["addresses.country__in"]["schema"]["pattern"])
        assert pattern.match("DE,FR") and not pattern.match("DE,XX")
    assert accounts["size"]["schema"]["enum"] == list(ACCOUNT_SIZES)
    assert "Only the values listed are accepted" in accounts["size"]["description"]
    # languages are open (any BCP 47 tag): described, not enumerated
    assert "enum" not in contacts["language"]["schema"]
    assert "de-CH" in contacts["language"]["description"]


def test_answers_to_the_new_filters_conform_to_the_document(client, admin, book, doc):  # noqa: F811
    for url in (f"{ACCOUNTS}?addresses.country=de", f"{ACCOUNTS}?addresses.country=xx",
                f"{ACCOUNTS}?size=huge", f"{CONTACTS}?language=de-ch"):  # fmt: skip
        assert_conforms(doc, "get", url, client.get(url, headers=admin))


# --------------------------------------------------------------------------- the list pages


def _select(html: str, name: str) -> list[tuple[str, str, bool]]:
    """The options of the filter bar's select ``name``: (value, text, selected)."""
    match = re.search(rf'<select id="flt-{re.escape(name)}" name="{re.escape(name)}">(.*?)</select>',
                      html, re.S)  # fmt: skip
    assert match, f"no select {name}"
    return [
        (value, text, bool(selected))
        for value, selected, text in re.findall(
            r'<option value="([^"]*)"( selected)?>([^<]*)</option>', match.group(1)
        )
    ]


def _rows(html: str) -> str:
    return html[html.index("<tbody>") : html.index("</tbody>")]


def test_the_country_filter_is_a_select_of_countries(client, book):  # noqa: F811
    web_login(client)
    html = client.get("/contacts/accounts/").get_data(as_text=True)
    options = _select(html, "addresses.country")
    assert options[0] == ("", "Any", False) and len(options) == 250
    assert ("DE", "Germany (DE)", False) in options
    assert 'name="addresses.country" value=' not in html  # no free-text box any more
    assert [text for _v, text, _s in _select(html, "size")] == ["Any", *ACCOUNT_SIZES]


def test_filtering_through_the_select_works(client, book):  # noqa: F811
    web_login(client)
    html = client.get("/contacts/accounts/").get_data(as_text=True)
    germany = next(
        v for v, text, _s in _select(html, "addresses.country") if text == "Germany (DE)"
    )
    page = client.get("/contacts/accounts/?" + urlencode({"addresses.country": germany, "q": ""}))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Acme GmbH" in _rows(html) and "Globex" not in _rows(html)
    assert [v for v, _t, selected in _select(html, "addresses.country") if selected] == ["DE"]
    # a hand-typed URL in lower case selects the same option and finds the same rows
    typed = client.get("/contacts/contacts/?addresses.country=fr").get_data(as_text=True)
    assert [v for v, _t, selected in _select(typed, "addresses.country") if selected] == ["FR"]
    assert "Dubois" in _rows(typed) and "Müller" not in _rows(typed)


def test_an_unknown_country_on_the_page_is_a_400_with_the_message(client, book):  # noqa: F811
    web_login(client)
    page = client.get("/contacts/contacts/?addresses.country=xx")
    html = page.get_data(as_text=True)
    assert page.status_code == 400
    assert "Invalid value for &#39;addresses.country&#39;" in html
    assert "not an ISO 3166-1 country code" in html
    assert not any(selected for _v, _t, selected in _select(html, "addresses.country"))


def test_the_language_select_offers_the_languages_of_the_company(client, speakers, db_session):
    other = identity.create_company(db_session, "Elsewhere Ltd")
    db_session.flush()
    with unscoped():
        db_session.add(
            Contact(first_name="Jun", last_name="Sato", language="ja", company_id=other.id)
        )
        db_session.commit()
        assert "ja" in db_session.scalars(select(Contact.language)).all()
    web_login(client)
    html = client.get("/contacts/contacts/").get_data(as_text=True)
    assert _select(html, "language") == [
        ("", "Any", False),
        ("fr", "French (fr)", False),
        ("de-CH", "German (Switzerland) (de-CH)", False),
    ]
    html = client.get("/contacts/contacts/?language=DE-ch").get_data(as_text=True)
    assert [v for v, _t, selected in _select(html, "language") if selected] == ["de-CH"]
    assert "Keller" in _rows(html) and "Roux" not in _rows(html) and "Nolang" not in _rows(html)
    # a language nobody speaks (any more) stays shown while it is filtered on
    html = client.get("/contacts/contacts/?language=it").get_data(as_text=True)
    assert ("it", "it", True) in _select(html, "language")
    assert "Nothing matches" in _rows(html)


def test_the_address_of_a_new_account_is_found_by_the_select(client, admin):  # noqa: F811
    post(client, ACCOUNTS, admin, {"name": "Berlin Bau", "addresses": [berlin()]})
    post(client, ACCOUNTS, admin, {"name": "Paris Pain", "addresses": [paris()]})
    web_login(client)
    html = client.get("/contacts/accounts/?addresses.country=DE").get_data(as_text=True)
    assert "Berlin Bau" in _rows(html) and "Paris Pain" not in _rows(html)


def test_the_owner_filter_is_a_select_of_users(client, book):  # noqa: F811
    web_login(client)
    html = client.get("/contacts/contacts/").get_data(as_text=True)
    owners = _select(html, "owner_id")
    admin_option = next(o for o in owners if o[0] == str(book["admin_id"]))
    assert owners[0] == ("", "Any", False) and not admin_option[2]
    html = client.get(f"/contacts/contacts/?owner_id={admin_option[0]}").get_data(as_text=True)
    assert [v for v, _t, selected in _select(html, "owner_id") if selected] == [admin_option[0]]
    assert "Müller" in _rows(html) and "Dubois" not in _rows(html)
    bad = client.get("/contacts/contacts/?owner_id=someone")
    assert bad.status_code == 400 and "expected a whole number" in bad.get_data(as_text=True)
