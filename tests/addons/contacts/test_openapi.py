"""The contacts part of the OpenAPI document: custom fields are typed, answers match it."""

from __future__ import annotations

from typing import Any

import pytest
from openapi_spec_validator import validate

from tests.addons.contacts.test_api import ACCOUNTS, CONTACTS, login
from tests.core.test_openapi import assert_conforms


@pytest.fixture
def doc(client) -> dict[str, Any]:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def _tags(doc: dict[str, Any], component: str) -> dict[str, Any]:
    return doc["components"]["schemas"][component]["properties"]["tags"]


def test_tags_are_described_as_text_out_and_text_or_list_in(doc):
    validate(doc)
    for component in ("Contact", "ContactList", "Account", "AccountList"):
        tags = _tags(doc, component)
        assert tags["type"] == "string", component
        assert tags["description"], component
    assert _tags(doc, "Contact")["description"] == "tag names; unknown ones are created"
    for component in ("ContactCreate", "ContactUpdate", "AccountCreate", "AccountUpdate"):
        tags = _tags(doc, component)
        assert "type" not in tags, component
        assert [v["type"] for v in tags["oneOf"]] == ["string", "array"], component
        assert tags["oneOf"][1]["items"] == {"type": "string", "maxLength": 60}


def test_both_documented_inputs_work_and_the_answers_conform(client, doc):
    headers = login(client)
    as_text = client.post(ACCOUNTS, headers=headers, json={"name": "Typed Ltd", "tags": "VIP; B2B"})
    assert_conforms(doc, "post", ACCOUNTS, as_text)
    assert as_text.status_code == 201 and as_text.get_json()["tags"] == "B2B; VIP"
    as_list = client.post(
        CONTACTS, headers=headers, json={"last_name": "Typed", "tags": ["VIP", "Newsletter"]}
    )
    assert_conforms(doc, "post", CONTACTS, as_list)
    assert as_list.status_code == 201
    contact_id = as_list.get_json()["id"]
    for url in (f"{CONTACTS}{contact_id}", CONTACTS, ACCOUNTS):
        assert_conforms(doc, "get", url, client.get(url, headers=headers))


def test_the_search_parameter_says_phone_numbers_match_however_typed(client):
    document = client.get("/api/v1/openapi.json").get_json()
    params = document["paths"]["/api/v1/contacts/contacts/"]["get"]["parameters"]
    q = next(p for p in params if p["name"] == "q")
    assert q["description"].startswith("Every word must match one of: first_name, last_name")
    assert "'0170 0104729'" in q["description"]
