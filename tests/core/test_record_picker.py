"""Record pickers (``FormField(widget="record", target=...)``) through the Flask test client.

The convert action of a lead (crm_sales) picks an account and a contact, the merge actions of
contacts pick the duplicate: typed as a number or part of a name, resolved by the server with
the target resource's own search, permission and company scoping before the handler runs.
The JSON lookup behind the script's suggestions, the declaration checks, and the REST API's
OpenAPI description (unchanged: still integer ids) are tested here too.
"""

from __future__ import annotations

import importlib
import re

import pytest
from flask import Blueprint, Flask
from marshmallow import Schema, fields
from sqlalchemy import select

from addons.contacts import services as contact_services
from addons.contacts.models import Account, Contact
from addons.crm_sales import services as sales_services
from addons.crm_sales.models import Lead, Opportunity
from core import identity
from core.models import Company
from core.resources import Action, FormField, Resource, ResourceError, register_resource
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

PASSWORD = "Sturdy-Pass-2024"


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


def web_login(client, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> None:
    token = csrf(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token}
    )
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:300]


@pytest.fixture
def world(db_session):
    """Accounts and contacts in the first company, one of each in another, and a lead."""
    company_id = db_session.scalar(select(Company.id).order_by(Company.id))
    other = identity.create_company(db_session, "Picker Other Co")

    def account(name: str, company: int = company_id, **extra) -> int:
        data = {"name": name, **extra}
        return contact_services.create_account(
            db_session, data, company_id=company, confirm_duplicate=True
        ).id

    ids = {
        "company": company_id,
        "other_company": other.id,
        "zebra": account("Zebrafish Instruments"),
        "alpha": account("Pickertwin Alpha"),
        "beta": account("Pickertwin Beta"),
        "exact": account("Quokka Labs"),
        "exact_longer": account("Quokka Labs Europe"),
        "same_1": account("Samename Works"),
        "same_2": account("Samename Works"),
        "hidden": account("Vellichor Hidden Ltd", other.id),
    }
    ids["grace"] = contact_services.create_contact(
        db_session,
        {"first_name": "Grace", "last_name": "Pickerhopper", "account_id": ids["zebra"]},
        company_id=company_id,
    ).id
    ids["lead"] = sales_services.create_lead(
        db_session,
        {"title": "Picker lead", "contact_name": "Ada Lovelace", "company_name": "Analytical"},
        company_id=company_id,
    ).id
    db_session.commit()
    db_session.expunge_all()
    return ids


def convert_page(client, lead_id: int) -> str:
    response = client.get(f"/sales/leads/{lead_id}/convert")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def convert(client, lead_id: int, **fields_: str):
    token = csrf(convert_page(client, lead_id))
    return client.post(
        f"/sales/leads/{lead_id}/convert", data={"csrf_token": token, "currency": "", **fields_}
    )


def opportunity_of(db_session, lead_id: int) -> Opportunity | None:
    db_session.expire_all()
    return db_session.scalar(select(Opportunity).where(Opportunity.source_lead_id == lead_id))


def lead_status(db_session, lead_id: int) -> str:
    db_session.expire_all()
    return db_session.get(Lead, lead_id).status


def field_error(html: str, field_id: str) -> str:
    match = re.search(rf'id="{field_id}-error">([^<]*)<', html)
    assert match, f"no error for {field_id}"
    return match.group(1)


# --------------------------------------------------------------------------- resolution


def test_the_convert_form_shows_a_picker_not_a_number_box(client, world):
    web_login(client)
    html = convert_page(client, world["lead"])
    account_input = re.search(r'<input type="text" id="f-account_id"[^>]*>', html).group(0)
    assert 'data-lookup="/contacts/accounts/lookup"' in account_input
    assert 'name="account_id__id"' in html
    assert 'data-lookup="/contacts/contacts/lookup"' in html
    assert "/static/picker.js" in html


def test_a_number_that_exists_is_that_record(client, world, db_session):
    web_login(client)
    response = convert(client, world["lead"], account_id=str(world["zebra"]))
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    assert opportunity_of(db_session, world["lead"]).account_id == world["zebra"]


def test_part_of_a_name_matching_one_record_is_that_record(client, world, db_session):
    web_login(client)
    response = convert(client, world["lead"], account_id="zebrafish", contact_id="pickerhopper")
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    opp = opportunity_of(db_session, world["lead"])
    assert (opp.account_id, opp.contact_id) == (world["zebra"], world["grace"])


def test_an_exact_name_wins_over_longer_names_containing_it(client, world, db_session):
    web_login(client)
    assert convert(client, world["lead"], account_id="quokka labs").status_code == 302
    assert opportunity_of(db_session, world["lead"]).account_id == world["exact"]


def test_several_matches_show_the_form_again_with_choices_and_change_nothing(
    client, world, db_session
):
    web_login(client)
    response = convert(client, world["lead"], account_id="Pickertwin")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "2 accounts match “Pickertwin”" in field_error(html, "f-account_id")
    for key in ("alpha", "beta"):
        assert f'name="account_id__pick" value="{world[key]}"' in html
        assert f'href="/contacts/accounts/{world[key]}"' in html
    assert "Pickertwin Alpha" in html and "Pickertwin Beta" in html
    assert 'value="Pickertwin"' in html  # what was typed stays
    assert lead_status(db_session, world["lead"]) != "converted"
    assert opportunity_of(db_session, world["lead"]) is None

    # picking one of the choices converts with it
    picked = client.post(
        f"/sales/leads/{world['lead']}/convert",
        data={"csrf_token": csrf(html), "account_id": "Pickertwin",
              "account_id__pick": str(world["beta"])},
    )  # fmt: skip
    assert picked.status_code == 302, picked.get_data(as_text=True)[:2000]
    assert opportunity_of(db_session, world["lead"]).account_id == world["beta"]


def test_two_records_with_the_same_name_are_told_apart_by_the_kept_id(client, world, db_session):
    web_login(client)
    ambiguous = convert(client, world["lead"], account_id="Samename Works")
    assert ambiguous.status_code == 422  # both are exact: no guess
    response = convert(
        client, world["lead"], account_id="Samename Works", account_id__id=str(world["same_2"])
    )
    assert response.status_code == 302
    assert opportunity_of(db_session, world["lead"]).account_id == world["same_2"]


def test_a_kept_id_is_ignored_once_the_text_was_changed(client, world, db_session):
    web_login(client)
    response = convert(
        client, world["lead"], account_id="Zebrafish", account_id__id=str(world["alpha"])
    )
    assert response.status_code == 302
    assert opportunity_of(db_session, world["lead"]).account_id == world["zebra"]


def test_nothing_found_is_a_field_error(client, world, db_session):
    web_login(client)
    for typed in ("no such firm xyz", "987654321", "#987654321"):
        response = convert(client, world["lead"], account_id=typed)
        html = response.get_data(as_text=True)
        assert response.status_code == 422
        assert "No account has this number or matches" in field_error(html, "f-account_id")
    assert lead_status(db_session, world["lead"]) != "converted"


def test_another_companys_record_is_not_found_by_number_or_name(client, world, db_session):
    web_login(client)
    for typed in (str(world["hidden"]), "Vellichor"):
        response = convert(client, world["lead"], account_id=typed)
        assert response.status_code == 422
        assert "No account" in field_error(response.get_data(as_text=True), "f-account_id")
    assert opportunity_of(db_session, world["lead"]) is None


def test_a_user_who_may_not_read_accounts_finds_none(client, world, db_session):
    sales = identity.find_group(db_session, "crm_sales.user")
    company = db_session.get(Company, world["company"])
    identity.create_user(db_session, "seller@example.com", PASSWORD, name="Seller",
                         companies=[company], company=company, groups=[sales])  # fmt: skip
    db_session.commit()
    web_login(client, "seller@example.com", PASSWORD)
    response = convert(client, world["lead"], account_id=str(world["zebra"]))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "contacts.account.read" in field_error(html, "f-account_id")
    assert "Zebrafish" not in html
    assert 'data-lookup="/contacts/accounts/lookup"' not in html  # no script lookups either
    assert opportunity_of(db_session, world["lead"]) is None
    assert client.get("/contacts/accounts/lookup?q=zebra").status_code == 403


def test_the_form_shown_again_names_the_chosen_record_not_its_number(client, world, db_session):
    web_login(client)
    # the account resolves; the currency is refused by the schema afterwards
    response = convert(client, world["lead"], account_id=str(world["zebra"]), currency="EURO")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    account_input = re.search(r'<input type="text" id="f-account_id"[^>]*>', html).group(0)
    assert 'value="Zebrafish Instruments"' in account_input
    assert f'name="account_id__id" value="{world["zebra"]}"' in html
    # sent back as shown, it is still that account
    again = client.post(
        f"/sales/leads/{world['lead']}/convert",
        data={"csrf_token": csrf(html), "account_id": "Zebrafish Instruments",
              "account_id__id": str(world["zebra"]), "currency": "EUR"},
    )  # fmt: skip
    assert again.status_code == 302
    assert opportunity_of(db_session, world["lead"]).account_id == world["zebra"]


def test_an_empty_picker_leaves_the_choice_to_the_service(client, world, db_session):
    web_login(client)
    assert convert(client, world["lead"], account_id="  ").status_code == 302
    assert opportunity_of(db_session, world["lead"]).account.name == "Analytical"


def test_bad_text_is_a_field_error_not_a_500(client, world):
    web_login(client)
    for typed in ("x" * 300, "bad\x00text", "%_%", "#" + "9" * 30):
        response = convert(client, world["lead"], account_id=typed)
        assert response.status_code == 422, typed
        assert field_error(response.get_data(as_text=True), "f-account_id"), typed


# --------------------------------------------------------------------------- merge actions


def test_merging_a_duplicate_contact_picked_by_name(client, world, db_session):
    web_login(client)
    twin = contact_services.create_contact(
        db_session, {"first_name": "G.", "last_name": "Pickerhopper"},
        company_id=world["company"], confirm_duplicate=True,
    ).id  # fmt: skip
    db_session.commit()
    page = client.get(f"/contacts/contacts/{world['grace']}/merge").get_data(as_text=True)
    assert 'data-lookup="/contacts/contacts/lookup"' in page
    ambiguous = client.post(
        f"/contacts/contacts/{world['grace']}/merge",
        data={"csrf_token": csrf(page), "source_id": "Pickerhopper"},
    )
    assert ambiguous.status_code == 422
    assert db_session.get(Contact, twin) is not None
    merged = client.post(
        f"/contacts/contacts/{world['grace']}/merge",
        data={"csrf_token": csrf(page), "source_id": "G. Pickerhopper"},
    )
    assert merged.status_code == 302, merged.get_data(as_text=True)[:2000]
    db_session.expire_all()
    assert db_session.get(Contact, twin) is None


def test_merging_a_duplicate_account_picked_by_name(client, world, db_session):
    web_login(client)
    page = client.get(f"/contacts/accounts/{world['alpha']}/merge").get_data(as_text=True)
    assert 'data-lookup="/contacts/accounts/lookup"' in page
    merged = client.post(
        f"/contacts/accounts/{world['alpha']}/merge",
        data={"csrf_token": csrf(page), "source_id": "Pickertwin Beta"},
    )
    assert merged.status_code == 302, merged.get_data(as_text=True)[:2000]
    db_session.expire_all()
    assert db_session.get(Account, world["beta"]) is None
    hidden = client.post(
        f"/contacts/accounts/{world['alpha']}/merge",
        data={"csrf_token": csrf(page), "source_id": str(world["hidden"])},
    )
    assert hidden.status_code == 422
    assert db_session.get(Account, world["hidden"]) is not None


# --------------------------------------------------------------------------- the lookup


def test_the_lookup_needs_a_login(client, world):
    response = client.get("/contacts/accounts/lookup?q=zebra")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_lookup_finds_by_name_and_by_number(client, world):
    web_login(client)
    found = client.get("/contacts/accounts/lookup?q=pickertwin")
    assert found.status_code == 200 and found.mimetype == "application/json"
    items = found.get_json()["items"]
    assert {(i["id"], i["title"]) for i in items} == {
        (world["alpha"], "Pickertwin Alpha"),
        (world["beta"], "Pickertwin Beta"),
    }
    by_number = client.get(f"/contacts/accounts/lookup?q=%23{world['zebra']}").get_json()
    assert by_number["items"][0] == {"id": world["zebra"], "title": "Zebrafish Instruments"}
    assert client.get("/contacts/accounts/lookup?q=%20").get_json() == {"items": []}
    assert client.get("/contacts/accounts/lookup").get_json() == {"items": []}


def test_the_lookup_stays_in_the_users_company(client, world):
    web_login(client)
    assert client.get("/contacts/accounts/lookup?q=vellichor").get_json() == {"items": []}
    by_number = client.get(f"/contacts/accounts/lookup?q={world['hidden']}").get_json()
    assert all(i["id"] != world["hidden"] for i in by_number["items"])


def test_the_lookup_answers_at_most_ten(client, world, db_session):
    for n in range(12):
        contact_services.create_account(
            db_session, {"name": f"Manyfold {n:02d}"}, company_id=world["company"],
            confirm_duplicate=True,
        )  # fmt: skip
    db_session.commit()
    web_login(client)
    assert len(client.get("/contacts/accounts/lookup?q=manyfold").get_json()["items"]) == 10


def test_the_lookup_refuses_bad_input_with_problem_json(client, world):
    web_login(client)
    for q in ("x" * 201, "bad%00text"):
        response = client.get(f"/contacts/accounts/lookup?q={q}")
        assert response.status_code == 400, q
        assert response.mimetype == "application/problem+json"
        assert response.get_json()["detail"]
    for q in ("%25", "_", "9" * 30, "%23" + "9" * 19, "'; drop table x; --"):
        assert client.get(f"/contacts/accounts/lookup?q={q}").status_code == 200, q


def test_the_lookup_needs_the_read_permission(client, world, db_session):
    clerk = identity.find_group(db_session, "crm_sales.user")
    company = db_session.get(Company, world["company"])
    identity.create_user(db_session, "clerk2@example.com", PASSWORD, name="Clerk",
                         companies=[company], company=company, groups=[clerk])  # fmt: skip
    db_session.commit()
    web_login(client, "clerk2@example.com", PASSWORD)
    response = client.get(
        "/contacts/accounts/lookup?q=zebra", headers={"Accept": "application/json"}
    )
    assert response.status_code == 403
    assert response.mimetype == "application/problem+json"


# --------------------------------------------------------------------------- the REST API


def test_the_rest_api_and_its_description_stay_id_based(app, client, world, db_session):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert not [path for path in doc["paths"] if "lookup" in path]
    schemas = doc["components"]["schemas"]
    convert_schema = next(s for name, s in schemas.items() if name.startswith("Convert"))
    for name in ("account_id", "contact_id"):
        assert convert_schema["properties"][name]["type"] in ("integer", ["integer", "null"])
    merge = next(s for name, s in schemas.items() if name.startswith("Merge"))
    assert merge["properties"]["source_id"]["type"] == "integer"
    # a name is not an id in the API
    token = client.post(
        "/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    ).get_json()["access_token"]
    response = client.post(
        f"/api/v1/sales/leads/{world['lead']}/convert",
        json={"account_id": "Zebrafish"}, headers={"Authorization": f"Bearer {token}"},
    )  # fmt: skip
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"


# --------------------------------------------------------------------------- declaration checks


def _testkit():
    models = importlib.import_module("testkit.models")
    schemas = importlib.import_module("testkit.schemas")
    return models.Gadget, schemas.GadgetSchema


class PickSchema(Schema):
    gadget_id = fields.Integer(allow_none=True)
    label = fields.String()


def _resource(name: str = "pickers", target: str = "testkit.pickers", search=("name",), **kw):
    gadget, schema = _testkit()
    field = FormField("gadget_id", "Gadget", widget="record", target=target)
    return Resource(
        name=name, model=gadget, schema=schema, permission="testkit.gadget", search=search,
        actions=[Action("link", lambda session, record, **data: record, schema=PickSchema,
                        form=[field])],
        **kw,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"widget": "record"}, "needs target='<addon>.<resource>'"),
        ({"widget": "record", "target": "accounts"}, "needs target='<addon>.<resource>'"),
        ({"widget": "record", "target": "Contacts.Accounts"}, "needs target"),
        ({"widget": "select", "target": "contacts.accounts"}, "only for widget='record'"),
        ({"target": "contacts.accounts"}, "only for widget='record'"),
        (
            {"widget": "record", "target": "contacts.accounts", "choices": [(1, "x")]},
            "drop 'choices'",
        ),
    ],
)
def test_a_wrong_picker_declaration_fails_at_once(kwargs, message):
    with pytest.raises(ResourceError, match=re.escape(message)) as caught:
        FormField("account_id", **kwargs)
    assert "account_id" in str(caught.value)


def test_a_picker_on_a_field_that_is_not_an_integer_id_is_refused():
    gadget, schema = _testkit()
    with pytest.raises(ResourceError, match=r"'label' has widget 'record'.*String"):
        Resource(
            name="pickers", model=gadget, schema=schema, permission="testkit.gadget",
            actions=[Action("link", lambda s, r, **d: r, schema=PickSchema,
                            form=[FormField("label", widget="record", target="testkit.gadgets")])],
        )  # fmt: skip


def _mount(*resources: Resource) -> Flask:
    app = Flask("picker-test")
    bp = Blueprint("testkit", __name__)
    for resource in resources:
        register_resource(None, bp, resource)
    app.register_blueprint(bp)
    return app


def test_an_unknown_target_fails_when_the_app_is_built():
    with pytest.raises(ResourceError) as caught:
        _mount(_resource(target="contacts.acounts"))
    text = str(caught.value)
    assert "resource 'pickers': action 'link' field 'gadget_id': target 'contacts.acounts'" in text
    assert "known: testkit.pickers" in text


def test_a_target_without_search_fails_when_the_app_is_built():
    plain = _resource(name="plain", target="testkit.plain", search=())
    with pytest.raises(ResourceError, match=re.escape("'testkit.plain' declares no search fields")):
        _mount(plain)


def test_a_target_in_the_same_addon_is_accepted_in_any_order():
    first = _resource(name="first", target="testkit.second")
    second = _resource(name="second", target="testkit.first")
    app = _mount(first, second)
    assert {r.rule for r in app.url_map.iter_rules()} >= {"/first/lookup", "/second/lookup"}
