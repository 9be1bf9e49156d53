"""Filters on a related record's column (``parts.label``, ``gadget.price``) and the search hook.

The testkit ``gadgets`` resource declares ``"parts.label": "text"`` (a collection: EXISTS via
``any``); a ``parts`` resource declared here filters on its gadget (many-to-one: ``has``).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from marshmallow import Schema, fields

from core.models import User
from core.resources import Resource, ResourceError, SearchTerm
from core.resources.query import QueryError, parse_list_params, run_list
from core.tenancy import as_user, company_scope, unscoped
from tests.core.identity_world import build_world, headers_for, settle
from tests.core.resources_support import (
    API,
    WEB,
    count_statements,
    login,
    make_gadgets,
    models,
    web_login,
)
from tests.core.test_openapi import DOC_URL, assert_conforms


def _gadget(client, headers, name: str, *labels: str, price: str = "10") -> int:
    body = {"name": name, "price": price, "parts": [{"label": label} for label in labels]}
    response = client.post(API, json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def _names(client, headers, query: str) -> list[str]:
    response = client.get(API + "?" + query, headers=headers)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["total"] == len(body["items"])
    return sorted(item["name"] for item in body["items"])


class _PartOut(Schema):
    id = fields.Integer(dump_only=True)
    label = fields.String()


def _parts_resource(**extra: Any) -> Resource:
    _gadget_cls, part_cls = models()
    return Resource(
        name="parts", model=part_cls, schema=_PartOut, permission="testkit.gadget",
        filters={"gadget.name": "text", "gadget.price": "range", "gadget.archived": "eq"},
        sort=["label", "id"], **extra,
    )  # fmt: skip


# --------------------------------------------------------------------------- REST, collections


def test_a_collection_filter_keeps_records_with_a_matching_related_row(client):
    headers = login(client)
    _gadget(client, headers, "Lamp", "bolt", "shade")
    _gadget(client, headers, "Desk", "bolt", "bolt", "leg")  # two matching parts: listed once
    _gadget(client, headers, "Chair", "leg")
    _gadget(client, headers, "Bare")
    assert _names(client, headers, "parts.label=bolt") == ["Desk", "Lamp"]
    assert _names(client, headers, "parts.label=Bolt") == []  # eq is exact, like own columns
    assert _names(client, headers, "parts.label__contains=HAD") == ["Lamp"]
    assert _names(client, headers, "parts.label__in=shade,leg") == ["Chair", "Desk", "Lamp"]
    assert _names(client, headers, "parts.label=leg&name__contains=ch") == ["Chair"]
    assert _names(client, headers, "parts.label=nothing") == []


def test_filters_on_one_relation_must_hold_for_the_same_related_row(client):
    headers = login(client)
    _gadget(client, headers, "Split", "steel bolt", "nut")
    _gadget(client, headers, "Together", "steel nut")
    # a part containing "steel" that is also "nut"/"steel nut": only Together has one
    query = "parts.label__contains=steel&parts.label__in=nut,steel+nut"
    assert _names(client, headers, query) == ["Together"]


def test_related_filters_reach_the_csv_export_and_archived_rule(client):
    headers = login(client)
    keep = _gadget(client, headers, "Kept", "bolt")
    gone = _gadget(client, headers, "Gone", "bolt")
    version = client.get(f"{API}{gone}", headers=headers).get_json()["version"]
    patched = client.patch(
        f"{API}{gone}", json={"archived": True, "version": version}, headers=headers
    )
    assert patched.status_code == 200
    assert _names(client, headers, "parts.label=bolt") == ["Kept"]
    assert _names(client, headers, "parts.label=bolt&archived=true") == ["Gone"]
    export = client.get(API + "?format=csv&parts.label=bolt", headers=headers)
    assert export.status_code == 200
    text = export.get_data(as_text=True)
    assert "Kept" in text and "Gone" not in text and keep


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("parts.label__isnull=true", "Unknown filter 'parts.label__isnull'"),
        ("parts.colour=red", "Unknown filter 'parts.colour'"),
        ("parts=1", "Unknown filter 'parts'"),
        ("parts.label__in=", "1 to 100"),
        ("parts.label=" + "x" * 201, "at most 200"),
    ],
)
def test_bad_related_filters_are_400_naming_the_parameter(client, query, message):
    response = client.get(API + "?" + query, headers=login(client))
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert message in response.get_json()["detail"]


def test_related_filters_cost_no_extra_statement(client, db, db_session):
    headers = login(client)
    make_gadgets(client, headers, 12, parts=3)
    with count_statements(db.engine) as plain:  # a search, as below: it counts in its page
        assert client.get(API + "?limit=5&q=Gadget", headers=headers).status_code == 200
    with count_statements(db.engine) as related:
        response = client.get(
            API + "?limit=1&parts.label__contains=part&parts.label__in=part+1.2,part+3.0"
            "&q=Gadget&sort=-price",
            headers=headers,
        )
        assert response.get_json()["total"] == 2
    assert len(plain) == len(related)


# --------------------------------------------------------------------------- many-to-one (has)


def _fill(db_session) -> None:
    gadget_cls, part_cls = models()
    db_session.add_all([
        gadget_cls(name="Cheap", price=Decimal("5"), company_id=1,
                   parts=[part_cls(label="c1", company_id=1), part_cls(label="c2", company_id=1)]),
        gadget_cls(name="Dear", price=Decimal("500"), company_id=1,
                   parts=[part_cls(label="d1", company_id=1)]),
        gadget_cls(name="Old", price=Decimal("50"), archived=True, company_id=1,
                   parts=[part_cls(label="o1", company_id=1)]),
    ])  # fmt: skip
    settle(db_session)


def _labels(db_session, resource: Resource, args: Any) -> list[str]:
    result = run_list(db_session, resource, parse_list_params(resource, args))
    assert result.total == len(result.items)
    return sorted(p.label for p in result.items)


def test_a_many_to_one_filter_reads_the_related_record(db_session):
    _fill(db_session)
    parts = _parts_resource()
    assert _labels(db_session, parts, {"gadget.name": "Cheap"}) == ["c1", "c2"]
    assert _labels(db_session, parts, {"gadget.price__gte": "50"}) == ["d1", "o1"]
    assert _labels(db_session, parts, {"gadget.price__lte": "50.00"}) == ["c1", "c2", "o1"]
    # a related "archived" is an ordinary filter: parts have no archive of their own
    assert _labels(db_session, parts, {"gadget.archived": "true"}) == ["o1"]
    both = {"gadget.name__contains": "e", "gadget.price__gte": "100"}
    assert _labels(db_session, parts, both) == ["d1"]


def test_related_values_are_coerced_by_the_related_column_type(db_session):
    parts = _parts_resource()
    params = parse_list_params(parts, {"gadget.price__gte": "12.5", "gadget.archived": "false"})
    assert ("gadget.price", "gte", Decimal("12.5")) in params.filters
    assert ("gadget.archived", "", False) in params.filters
    for args, message in [
        ({"gadget.price__gte": "cheap"}, "expected a number"),
        ({"gadget.archived": "maybe"}, "expected true or false"),
        ({"gadget.name__gte": "a"}, "Unknown filter 'gadget.name__gte'"),
    ]:
        with pytest.raises(QueryError) as caught:
            parse_list_params(parts, args)
        assert message in caught.value.message


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"parts.colour": "eq"}, "filters field 'parts.colour': 'colour' is not a column of Part"),
        (
            {"owner.name": "eq"},
            "filters field 'owner.name': 'owner' is not a relationship of Gadget",
        ),
        ({"name.x": "eq"}, "'name' is not a relationship of Gadget"),
        ({"parts.gadget": "eq"}, "'gadget' is not a column of Part"),
        ({"parts.gadget.name": "eq"}, "filters field 'parts.gadget.name': at most one relation"),
        ({"parts.label": "fuzzy"}, "filter 'parts.label' has kind 'fuzzy'"),
    ],
)
def test_a_wrong_related_filter_fails_when_declared(app, filters, message):
    gadget_cls, _part = models()
    with pytest.raises(ResourceError) as caught:
        Resource(
            name="things", model=gadget_cls, schema=_PartOut, permission="testkit.gadget",
            filters=filters,
        )  # fmt: skip
    assert str(caught.value).startswith("resource 'things'")
    assert message in str(caught.value)


def test_a_secret_column_cannot_be_filtered_even_through_a_relation(app):
    from core.models import Group

    with pytest.raises(ResourceError) as caught:
        Resource(
            name="groups", model=Group, schema=_PartOut, permission="core.group",
            filters={"users.password_hash": "text"},
        )  # fmt: skip
    assert "resource 'groups': filters field 'users.password_hash' is a secret column" in str(
        caught.value
    )
    Resource(
        name="groups", model=Group, schema=_PartOut, permission="core.group",
        filters={"users.email": "text"},
    )  # fmt: skip


# --------------------------------------------------------------------------- companies


def test_a_related_row_of_another_company_matches_nothing(client, db_session):
    """A part of company B hung (by the system) on company A's gadget reveals nothing to A."""
    world = build_world(db_session)
    _gadget_cls, part_cls = models()
    with unscoped():
        db_session.add(
            part_cls(label="secret part", gadget_id=world.gadgets["a"], company_id=world.company_b)
        )
        settle(db_session)
    query = "?parts.label=secret+part"
    alice = headers_for(client, "alice")  # company A only
    body = client.get(API + query, headers=alice).get_json()
    assert body["total"] == 0 and body["items"] == []
    assert client.get(API + "?parts.label=alpha+part", headers=alice).get_json()["total"] == 1
    carol_b = headers_for(client, "carol", world.company_b)  # sees the part, not the gadget
    assert client.get(API + query, headers=carol_b).get_json()["total"] == 0
    carol_both = headers_for(client, "carol")
    carol_both["X-Mosaic-Company"] = f"{world.company_a},{world.company_b}"
    listed = client.get(API + query, headers=carol_both).get_json()
    assert [i["id"] for i in listed["items"]] == [world.gadgets["a"]]


def test_a_many_to_one_of_another_company_matches_nothing(db_session):
    world = build_world(db_session)
    _gadget_cls, part_cls = models()
    with unscoped():
        db_session.add(
            part_cls(label="stray", gadget_id=world.gadgets["b"], company_id=world.company_a)
        )
        settle(db_session)
    parts = _parts_resource()
    alice = db_session.get(User, world.users["alice"])
    with as_user(db_session, alice):
        assert _labels(db_session, parts, {"gadget.name": "Beta gadget"}) == []
        assert _labels(db_session, parts, {"gadget.name": "Alpha gadget"}) == ["alpha part"]
    with company_scope([world.company_a, world.company_b]):
        assert _labels(db_session, parts, {"gadget.name": "Beta gadget"}) == ["beta part", "stray"]


# --------------------------------------------------------------------------- OpenAPI and pages


def test_the_openapi_document_describes_related_filters(client):
    doc = client.get(DOC_URL).get_json()
    listing = doc["paths"][API]["get"]
    params = {p["name"]: p for p in listing["parameters"]}
    assert {"parts.label", "parts.label__in", "parts.label__contains"} <= set(params)
    assert "parts.label__isnull" not in params and "parts.label__gte" not in params
    assert params["parts.label"]["schema"]["type"] == "string"
    assert "at least one of their parts" in params["parts.label"]["description"]
    headers = login(client)
    _gadget(client, headers, "Described", "bolt")
    for url in (
        API + "?parts.label=bolt",
        API + "?parts.label__in=bolt,nut&parts.label__contains=bo",
        API + "?parts.colour=red",
        API + "?parts.label__in=",
    ):
        assert_conforms(doc, "get", url, client.get(url, headers=headers))


def test_the_list_page_offers_and_applies_the_related_filter(client):
    headers = login(client)
    _gadget(client, headers, "With bolt", "bolt")
    _gadget(client, headers, "Without", "nut")
    web_login(client)
    page = client.get(WEB + "?parts.label__contains=bol")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'name="parts.label__contains"' in text and 'value="bol"' in text
    assert "With bolt" in text and "Without" not in text and "Showing 1–1 of 1" in text


# --------------------------------------------------------------------------- search_terms hook


def _by_number(q: str) -> list[SearchTerm]:
    """``#12`` means the record with id 12 (what a user copies from a page title)."""
    gadget_cls, _part = models()
    return [
        SearchTerm(m.group(0), gadget_cls.id == int(m.group(1))) for m in re.finditer(r"#(\d+)", q)
    ]


def _numbered(search_terms: Any = _by_number) -> Resource:
    gadget_cls, _part = models()
    return Resource(
        name="numbered", model=gadget_cls, schema=_PartOut, permission="testkit.gadget",
        search=["name", "notes"], search_terms=search_terms, sort=["name"],
    )  # fmt: skip


def _found(db_session, resource: Resource, q: str) -> list[str]:
    result = run_list(db_session, resource, parse_list_params(resource, {"q": q}))
    return sorted(g.name for g in result.items)


def test_a_search_term_matches_by_its_own_condition_or_by_its_words(db_session):
    gadget_cls, _part = models()
    lamp = gadget_cls(name="Lamp", company_id=1)
    db_session.add(lamp)
    db_session.flush()
    number = f"#{lamp.id}"
    db_session.add(gadget_cls(name="Desk", notes=f"see {number} in the catalogue", company_id=1))
    settle(db_session)
    plain = Resource(
        name="plain", model=gadget_cls, schema=_PartOut, permission="testkit.gadget",
        search=["name", "notes"],
    )  # fmt: skip
    numbered = _numbered()
    assert _found(db_session, plain, number) == ["Desk"]  # the words alone
    assert _found(db_session, numbered, number) == ["Desk", "Lamp"]  # the hook's condition too
    # the rest of q is still searched word by word, and every part must match
    assert _found(db_session, numbered, f"{number} lam") == ["Lamp"]
    assert _found(db_session, numbered, f"catalogue {number}") == ["Desk"]
    assert _found(db_session, numbered, f"{number} chair") == []
    assert _found(db_session, numbered, "#999999999") == []


def test_search_terms_need_search_fields(app):
    gadget_cls, _part = models()
    with pytest.raises(ResourceError) as caught:
        Resource(
            name="numbered", model=gadget_cls, schema=_PartOut, permission="testkit.gadget",
            search_terms=_by_number,
        )  # fmt: skip
    assert "resource 'numbered': search_terms needs search fields" in str(caught.value)


def test_a_term_the_text_does_not_contain_is_ignored(db_session):
    gadget_cls, _part = models()
    db_session.add(gadget_cls(name="Lamp", company_id=1))
    settle(db_session)

    def confused(q: str) -> list[SearchTerm]:
        return [SearchTerm("not in q", gadget_cls.id == -1), SearchTerm("", gadget_cls.id == -1)]

    resource = _numbered(confused)
    assert _found(db_session, resource, "lamp") == ["Lamp"]
