"""The generated REST endpoints of the testkit ``gadgets`` resource, verb by verb, error by error."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Column, ForeignKey, Integer, Table, text

from core.db import Base
from tests.core.resources_support import API, login, make_gadgets

LIMITED_PASSWORD = "Quiet-Harbor-2024"

# --------------------------------------------------------------------------- list


def test_list_pages_with_total_limit_and_offset(client):
    headers = login(client)
    make_gadgets(client, headers, 7, parts=1)
    body = client.get(API + "?limit=3&offset=2&sort=name", headers=headers).get_json()
    assert body["total"] == 7 and body["limit"] == 3 and body["offset"] == 2
    assert [g["name"] for g in body["items"]] == ["Gadget 002", "Gadget 003", "Gadget 004"]
    assert body["items"][0]["parts"] == [
        {"id": body["items"][0]["parts"][0]["id"], "label": "part 2.0"}
    ]
    default = client.get(API, headers=headers).get_json()
    assert default["limit"] == 50 and default["offset"] == 0 and len(default["items"]) == 7
    beyond = client.get(API + "?offset=100", headers=headers).get_json()
    assert beyond["items"] == [] and beyond["total"] == 7


@pytest.mark.parametrize(
    "query",
    ["limit=501", "limit=0", "limit=abc", "offset=-1", "offset=1.5", "limit=99999999999999999999"],
)
def test_bad_paging_is_400(client, query):
    response = client.get(f"{API}?{query}", headers=login(client))
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"


def test_max_limit_is_500(client):
    response = client.get(API + "?limit=500", headers=login(client))
    assert response.status_code == 200 and response.get_json()["limit"] == 500


def test_sort_ascending_descending_and_several_fields(client):
    headers = login(client)
    make_gadgets(client, headers, 3, parts=0)
    client.post(API, json={"name": "Gadget 001", "price": "99"}, headers=headers)

    def names(q):
        return [
            (g["name"], g["price"])
            for g in client.get(API + q, headers=headers).get_json()["items"]
        ]

    assert names("?sort=-price")[0] == ("Gadget 001", "99.00")
    assert names("?sort=name,-price")[:3] == [
        ("Gadget 000", "10.00"),
        ("Gadget 001", "99.00"),
        ("Gadget 001", "11.00"),
    ]


def test_unknown_sort_field_is_400_listing_allowed_ones(client):
    response = client.get(API + "?sort=-secret", headers=login(client))
    assert response.status_code == 400
    body = response.get_json()
    assert body["allowed_sort"] == ["name", "price", "created_at", "id"]
    assert "name, price, created_at, id" in body["detail"]


def test_unknown_filter_is_400_listing_allowed_ones(client):
    response = client.get(API + "?colour=red", headers=login(client))
    assert response.status_code == 400
    body = response.get_json()
    assert "colour" in body["detail"]
    assert {"price__gte", "price__lte", "archived", "name__contains", "created_at__gte"} <= set(
        body["allowed_filters"]
    )
    assert "q" in body["allowed_parameters"]


def test_search_matches_every_word_across_declared_fields(client):
    headers = login(client)
    client.post(API, json={"name": "Blue widget", "notes": "shiny"}, headers=headers)
    client.post(API, json={"name": "Red widget", "parts": [{"label": "Sprocket"}]}, headers=headers)
    client.post(API, json={"name": "100% cotton"}, headers=headers)

    def search(q):
        return sorted(
            g["name"]
            for g in client.get(API, query_string={"q": q}, headers=headers).get_json()["items"]
        )

    assert search("widget") == ["Blue widget", "Red widget"]
    assert search("WIDGET shiny") == ["Blue widget"]
    assert search("sprocket") == ["Red widget"]  # a part's label (relation search)
    assert search("%") == ["100% cotton"]  # LIKE wildcards are literal
    assert search("_") == []


def test_filters_equal_in_range_contains_and_isnull(client):
    headers = login(client)
    make_gadgets(client, headers, 5, parts=0)  # prices 10..14
    client.post(
        API,
        json={"name": "Dollar thing", "price": "3.50", "currency": "USD", "notes": "n"},
        headers=headers,
    )

    def names(**q):
        return sorted(
            g["name"] for g in client.get(API, query_string=q, headers=headers).get_json()["items"]
        )

    assert names(price="11") == ["Gadget 001"]
    assert names(price__gte="12", price__lte="13.00") == ["Gadget 002", "Gadget 003"]
    assert names(currency__in="USD,GBP") == ["Dollar thing"]
    assert names(price__in="10,14") == ["Gadget 000", "Gadget 004"]
    assert names(name__contains="thing") == ["Dollar thing"]
    assert names(notes__isnull="false") == ["Dollar thing"]
    assert len(names(notes__isnull="true")) == 5


def test_date_filters_take_dates_or_timestamps(client):
    headers = login(client)
    make_gadgets(client, headers, 2, parts=0)
    today = client.get(API, headers=headers).get_json()["items"][0]["created_at"][:10]
    assert (
        client.get(API, query_string={"created_at": today}, headers=headers).get_json()["total"]
        == 2
    )
    assert (
        client.get(API, query_string={"created_at__lte": today}, headers=headers).get_json()[
            "total"
        ]
        == 2
    )
    assert (
        client.get(API, query_string={"created_at__gte": "2999-01-01"}, headers=headers).get_json()[
            "total"
        ]
        == 0
    )
    assert (
        client.get(
            API, query_string={"created_at__gte": "2000-01-01T00:00:00Z"}, headers=headers
        ).get_json()["total"]
        == 2
    )


@pytest.mark.parametrize(
    "query",
    ["price=abc", "price__gte=1e999", "archived=maybe", "created_at=yesterday", "price__in=", "currency=%00",
     "notes__isnull=perhaps", "limit=10&limit=20"],
)  # fmt: skip
def test_filter_values_of_the_wrong_type_are_400(client, query):
    response = client.get(f"{API}?{query}", headers=login(client))
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["detail"]


def test_archived_records_are_hidden_unless_asked_for(client):
    headers = login(client)
    make_gadgets(client, headers, 2, parts=0)
    client.post(API, json={"name": "Old", "archived": True}, headers=headers)
    assert client.get(API, headers=headers).get_json()["total"] == 2
    assert [
        g["name"] for g in client.get(API + "?archived=true", headers=headers).get_json()["items"]
    ] == ["Old"]
    assert client.get(API + "?archived__in=true,false", headers=headers).get_json()["total"] == 3


# --------------------------------------------------------------------------- get / create


def test_create_returns_201_location_etag_and_the_stored_record(client):
    headers = login(client)
    response = client.post(
        API, json={"name": "Lamp", "price": "12.5", "parts": [{"label": "bulb"}]}, headers=headers
    )
    assert response.status_code == 201
    body = response.get_json()
    assert response.headers["Location"] == f"{API}{body['id']}"
    assert response.headers["ETag"] == '"1"'
    assert body["price"] == "12.50" and body["currency"] == "EUR" and body["version"] == 1
    assert body["parts"][0]["label"] == "bulb" and body["company_id"] == 1
    again = client.get(response.headers["Location"], headers=headers)
    assert again.status_code == 200 and again.get_json() == body and again.headers["ETag"] == '"1"'


def test_get_of_a_missing_record_is_404(client):
    headers = login(client)
    for path in ("999999", "9223372036854775807", "99999999999999999999999", "-1", "abc"):
        response = client.get(API + path, headers=headers)
        assert response.status_code == 404, path
        assert response.mimetype == "application/problem+json"


def test_validation_errors_are_422_with_per_field_messages(client):
    response = client.post(
        API, json={"price": "-3", "currency": "XXX", "colour": "red"}, headers=login(client)
    )
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    errors = response.get_json()["errors"]
    assert set(errors) == {"name", "price", "currency", "colour"}
    assert errors["name"] == ["Missing data for required field."]
    assert errors["colour"] == ["Unknown field."]


def test_read_only_fields_cannot_be_sent(client):
    response = client.post(
        API, json={"name": "x", "id": 5, "version": 9, "company_id": 2}, headers=login(client)
    )
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"id", "version", "company_id"}


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"name": "x" * 121}, "name", "Length"),
        ({"name": "ok", "price": "1.234"}, "price", "decimal places"),
        ({"name": "ok", "price": "12345678901234567"}, "price", "Too large"),
        ({"name": "ok", "price": 10**40}, "price", "as a string"),
        ({"name": "ok", "price": 12.5}, "price", "as a string"),
        ({"name": "ok", "price": "NaN"}, "price", ""),
        ({"name": "ok", "price": "Infinity"}, "price", ""),
        ({"name": "nul\x00byte"}, "name", "NUL"),
        ({"name": "ok", "notes": "lone \ud800 surrogate"}, "notes", "Unicode"),
        ({"name": ["a"]}, "name", ""),
        ({"name": "ok", "archived": "perhaps"}, "archived", ""),
        ({"name": "ok", "archived": 0}, "archived", "boolean"),  # JSON clients send JSON types
        ({"name": "ok", "parts": [{"id": "3", "label": "x"}]}, "parts", "integer"),
        ({"name": "ok", "parts": [{"label": ""}]}, "parts", ""),
        ({"name": "ok", "parts": [{"label": "y" * 121}]}, "parts", ""),
        ({"name": "ok", "parts": "not a list"}, "parts", ""),
        ({"name": "ok", "parts": [{"id": 10**30, "label": "x"}]}, "parts", ""),
    ],
)
def test_odd_values_are_422_never_500(client, body, field, message):
    raw = json.dumps(body)  # lone surrogates travel as \ud800 escapes, as a client would send them
    response = client.post(API, data=raw, content_type="application/json", headers=login(client))
    assert response.status_code == 422, response.get_data(as_text=True)
    errors = response.get_json()["errors"]
    assert field in errors
    assert message in json.dumps(errors)


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        ("{", "application/json", 400),
        ("", "application/json", 400),
        ("[1, 2]", "application/json", 422),
        ('"text"', "application/json", 422),
        ("null", "application/json", 422),
        ('{"name": NaN}', "application/json", 400),
        ('{"name": 1e999999}', "application/json", 422),
        ('{"name": "x", "price": ' + "9" * 5000 + "}", "application/json", 400),
        ("[" * 100000 + "]" * 100000, "application/json", 400),
        ('{"a":' * 40 + "1" + "}" * 40, "application/json", 400),
        (b'{"name": "\xff\xfe"}', "application/json", 400),
        ("name=x", "application/x-www-form-urlencoded", 415),
        ('{"name": "x"}', "text/plain", 415),
        ('{"name": "x"}', None, 415),
    ],
)
def test_malformed_bodies_are_4xx(client, data, content_type, status):
    kwargs = {"content_type": content_type} if content_type else {}
    response = client.post(API, data=data, headers=login(client), **kwargs)
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/problem+json"


def test_oversized_body_is_413(client, app):
    limit = app.config["MAX_CONTENT_LENGTH"]
    big = json.dumps({"name": "x", "notes": "y" * (limit + 10)})
    response = client.post(API, data=big, content_type="application/json", headers=login(client))
    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"


# --------------------------------------------------------------------------- update


def test_patch_with_version_updates_and_moves_the_version(client):
    headers = login(client)
    gadget = make_gadgets(client, headers, 1, parts=0)[0]
    response = client.patch(
        f"{API}{gadget['id']}", json={"price": "15.5", "version": 1}, headers=headers
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["price"] == "15.50" and body["version"] == 2 and body["name"] == gadget["name"]
    assert response.headers["ETag"] == '"2"'


def test_stale_version_is_409_and_changes_nothing(client):
    headers = login(client)
    gadget = make_gadgets(client, headers, 1, parts=0)[0]
    url = f"{API}{gadget['id']}"
    assert (
        client.patch(url, json={"name": "First", "version": 1}, headers=headers).status_code == 200
    )
    stale = client.patch(url, json={"name": "Second", "version": 1}, headers=headers)
    assert stale.status_code == 409
    body = stale.get_json()
    assert body["current_version"] == 2 and "changed by someone else" in body["detail"]
    assert client.get(url, headers=headers).get_json()["name"] == "First"


def test_if_match_header_carries_the_version(client):
    headers = login(client)
    gadget = make_gadgets(client, headers, 1, parts=0)[0]
    url = f"{API}{gadget['id']}"
    ok = client.patch(url, json={"name": "Via header"}, headers={**headers, "If-Match": '"1"'})
    assert ok.status_code == 200 and ok.get_json()["version"] == 2
    assert (
        client.patch(
            url, json={"name": "Again"}, headers={**headers, "If-Match": '"1"'}
        ).status_code
        == 409
    )
    assert (
        client.patch(
            url, json={"name": "Bad"}, headers={**headers, "If-Match": '"one"'}
        ).status_code
        == 400
    )


def test_patch_with_a_body_that_is_not_an_object_is_422(client):
    headers = login(client)
    gadget = make_gadgets(client, headers, 1, parts=0)[0]
    for body in ("[null, null]", "3", '"x"', "null"):
        response = client.patch(
            f"{API}{gadget['id']}", data=body, content_type="application/json", headers=headers
        )
        assert response.status_code == 422, body


def test_odd_but_valid_filter_values_are_accepted(client):
    headers = login(client)
    for query in ("currency__in=%0D", "price__gte=-2.2250738585072014e-308", "price__lte=1e15",
                  "created_at=0000-01-01T00:00:00Z", "created_at__lte=9999-12-31", "sort=-id,name"):  # fmt: skip
        assert client.get(f"{API}?{query}", headers=headers).status_code == 200, query
    assert client.get(f"{API}?price__lte=-1000000000000001", headers=headers).status_code == 400
    assert client.get(f"{API}?sort=", headers=headers).status_code == 400


def test_patch_without_version_is_428(client):
    headers = login(client)
    gadget = make_gadgets(client, headers, 1, parts=0)[0]
    response = client.patch(f"{API}{gadget['id']}", json={"name": "No version"}, headers=headers)
    assert response.status_code == 428
    assert "version" in response.get_json()["detail"]


@pytest.mark.parametrize("version", ["1", True, -1, 1.5, 10**12, None])
def test_patch_with_a_malformed_version_is_422(client, version):
    headers = login(client)
    gadget = make_gadgets(client, headers, 1, parts=0)[0]
    response = client.patch(
        f"{API}{gadget['id']}", json={"name": "x", "version": version}, headers=headers
    )
    assert response.status_code == 422
    assert "version" in response.get_json()["errors"]


def test_patch_validates_sent_fields_only(client):
    headers = login(client)
    gadget = make_gadgets(client, headers, 1, parts=0)[0]
    url = f"{API}{gadget['id']}"
    bad = client.patch(url, json={"name": "", "version": 1}, headers=headers)
    assert bad.status_code == 422 and set(bad.get_json()["errors"]) == {"name"}
    assert client.patch(url, json={"notes": None, "version": 1}, headers=headers).status_code == 200


def test_patch_lines_update_add_and_remove_and_bump_the_parent_version(client):
    headers = login(client)
    gadget = make_gadgets(client, headers, 1, parts=3)[0]
    keep, change, drop = gadget["parts"]
    url = f"{API}{gadget['id']}"
    body = {
        "version": 1,
        "parts": [
            {"id": keep["id"], "label": keep["label"]},
            {"id": change["id"], "label": "changed"},
            {"label": "new"},
        ],
    }
    response = client.patch(url, json=body, headers=headers)
    assert response.status_code == 200, response.get_json()
    after = response.get_json()
    assert [p["label"] for p in after["parts"]] == [keep["label"], "changed", "new"]
    assert drop["id"] not in [p["id"] for p in after["parts"]]
    assert after["version"] == 2  # only lines changed, yet the gadget's version moved


def test_patch_refuses_a_line_of_another_record(client):
    headers = login(client)
    one, other = make_gadgets(client, headers, 2, parts=1)
    body = {"version": 1, "parts": [{"id": other["parts"][0]["id"], "label": "stolen"}]}
    response = client.patch(f"{API}{one['id']}", json=body, headers=headers)
    assert response.status_code == 422
    assert "parts" in response.get_json()["errors"]
    assert (
        client.get(f"{API}{other['id']}", headers=headers).get_json()["parts"][0]["label"]
        == "part 1.0"
    )


def test_new_lines_must_be_complete_even_in_a_patch(client):
    headers = login(client)
    gadget = make_gadgets(client, headers, 1, parts=0)[0]
    response = client.patch(
        f"{API}{gadget['id']}", json={"version": 1, "parts": [{}]}, headers=headers
    )
    assert response.status_code == 422
    assert response.get_json()["errors"]["parts"]["0"]["label"] == [
        "Missing data for required field."
    ]


# --------------------------------------------------------------------------- delete


def test_delete_is_204_then_404(client):
    headers = login(client)
    gadget = make_gadgets(client, headers, 1)[0]
    url = f"{API}{gadget['id']}"
    response = client.delete(url, headers=headers)
    assert response.status_code == 204 and response.data == b""
    assert client.get(url, headers=headers).status_code == 404
    assert client.delete(url, headers=headers).status_code == 404


def test_delete_of_a_referenced_record_is_409_naming_the_referrers(client, db_session):
    """A table of another addon points at gadgets without ON DELETE: the generator says who."""
    headers = login(client)
    gadget = make_gadgets(client, headers, 1)[0]
    table = Table(
        "testkit_gadget_loan", Base.metadata,
        Column("id", Integer, primary_key=True),
        Column("gadget_id", ForeignKey("testkit_gadget.id"), nullable=False),
    )  # fmt: skip
    try:
        conn = db_session.connection()
        table.create(conn)
        conn.execute(table.insert(), [{"gadget_id": gadget["id"]}, {"gadget_id": gadget["id"]}])
        response = client.delete(f"{API}{gadget['id']}", headers=headers)
        assert response.status_code == 409
        body = response.get_json()
        assert (
            "2" in body["detail"] and "Gadget 000" in body["detail"] and "archive" in body["detail"]
        )
        assert body["references"] == [
            {"resource": "Testkit gadget loan", "table": "testkit_gadget_loan", "count": 2}
        ]
        assert client.get(f"{API}{gadget['id']}", headers=headers).status_code == 200
    finally:
        Base.metadata.remove(table)


def test_delete_refused_by_the_database_is_still_a_409(client, db_session):
    """A reference the models do not know about (raw SQL table) is caught at flush."""
    headers = login(client)
    gadget = make_gadgets(client, headers, 1)[0]
    conn = db_session.connection()
    conn.execute(
        text(
            "CREATE TABLE rogue_ref (id INTEGER PRIMARY KEY, gadget_id INTEGER NOT NULL REFERENCES testkit_gadget(id))"
        )
    )
    conn.execute(text("INSERT INTO rogue_ref (id, gadget_id) VALUES (1, :g)"), {"g": gadget["id"]})
    response = client.delete(f"{API}{gadget['id']}", headers=headers)
    assert response.status_code == 409
    assert "still used" in response.get_json()["detail"]


# --------------------------------------------------------------------------- history and actions


def test_history_lists_create_and_update_with_old_and_new_values(client):
    headers = login(client)
    gadget = make_gadgets(client, headers, 1, parts=0)[0]
    url = f"{API}{gadget['id']}"
    client.patch(url, json={"price": "20", "version": 1}, headers=headers)
    body = client.get(url + "/history", headers=headers).get_json()
    assert body["total"] == 2
    latest, first = body["items"]
    assert latest["action"] == "update" and latest["changes"]["price"] == {
        "old": "10.00",
        "new": "20.00",
    }
    assert first["action"] == "create" and first["user"]["id"] == 1
    assert client.get(f"{API}999999/history", headers=headers).status_code == 404


def test_action_with_payload_runs_the_service_and_returns_the_record(client):
    headers = login(client)
    gadget = make_gadgets(client, headers, 1, parts=0)[0]
    response = client.post(f"{API}{gadget['id']}/polish", json={"times": 3}, headers=headers)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["notes"] == "Polished ×3"
    default = client.post(f"{API}{gadget['id']}/polish", headers=headers)
    assert default.status_code == 200 and default.get_json()["notes"].endswith("Polished ×1")


def test_action_payload_is_validated(client):
    headers = login(client)
    gadget = make_gadgets(client, headers, 1, parts=0)[0]
    response = client.post(f"{API}{gadget['id']}/polish", json={"times": 99}, headers=headers)
    assert response.status_code == 422 and "times" in response.get_json()["errors"]
    assert (
        client.post(
            f"{API}{gadget['id']}/polish",
            data="{",
            content_type="application/json",
            headers=headers,
        ).status_code
        == 400
    )


def test_business_rule_refusal_is_409_with_the_services_message(client):
    headers = login(client)
    gadget = client.post(API, json={"name": "Free", "price": "0"}, headers=headers).get_json()
    response = client.post(f"{API}{gadget['id']}/polish", json={}, headers=headers)
    assert response.status_code == 409
    assert response.get_json()["detail"] == "A gadget without a price cannot be polished."


def test_action_that_does_not_apply_is_409(client):
    headers = login(client)
    gadget = make_gadgets(client, headers, 1, parts=0)[0]
    url = f"{API}{gadget['id']}/archive"
    first = client.post(url, headers=headers)
    assert first.status_code == 200 and first.get_json()["archived"] is True
    assert client.post(url, headers=headers).status_code == 409
    assert client.post(url, json={"unexpected": 1}, headers=headers).status_code == 422
    null = client.post(url, data="null", content_type="application/json", headers=headers)
    assert null.status_code == 422


def test_unknown_action_and_wrong_method(client):
    headers = login(client)
    gadget = make_gadgets(client, headers, 1, parts=0)[0]
    assert client.post(f"{API}{gadget['id']}/explode", headers=headers).status_code == 404
    response = client.put(f"{API}{gadget['id']}", json={}, headers=headers)
    assert response.status_code == 405 and "PATCH" in response.headers["Allow"]


# --------------------------------------------------------------------------- permissions


def test_anonymous_callers_get_401_on_every_generated_route(client):
    for method, path in [("get", API), ("post", API), ("get", API + "1"), ("patch", API + "1"), ("delete", API + "1"),
                         ("get", API + "1/history"), ("post", API + "1/polish"), ("post", API + "import")]:  # fmt: skip
        response = getattr(client, method)(path)
        assert response.status_code == 401, (method, path)
        assert response.mimetype == "application/problem+json"


def test_permissions_are_checked_per_verb_and_action(client, limited_user):
    admin = login(client)
    gadget = make_gadgets(client, admin, 1, parts=0)[0]
    user = login(client, limited_user, LIMITED_PASSWORD)  # group testkit.user: read, create, update
    assert client.get(API, headers=user).status_code == 200
    assert (
        client.patch(
            f"{API}{gadget['id']}", json={"name": "ok", "version": 1}, headers=user
        ).status_code
        == 200
    )
    denied = client.delete(f"{API}{gadget['id']}", headers=user)
    assert denied.status_code == 403 and "testkit.gadget.delete" in denied.get_json()["detail"]
    assert client.post(f"{API}{gadget['id']}/polish", headers=user).status_code == 403
    assert (
        client.post(f"{API}{gadget['id']}/archive", headers=user).status_code == 200
    )  # needs .update


def test_records_of_other_companies_are_invisible(client, db_session):
    """The generator queries through the ORM session, so company scoping applies to it."""
    from core import identity

    admin = login(client)
    mine = make_gadgets(client, admin, 1, parts=0)[0]
    other = identity.create_company(db_session, "Elsewhere Ltd")
    identity.create_user(
        db_session, "elsewhere@example.com", LIMITED_PASSWORD, companies=[other], company=other,
        groups=[identity.find_group(db_session, "testkit.manager")],
    )  # fmt: skip
    db_session.commit()
    theirs = login(client, "elsewhere@example.com", LIMITED_PASSWORD)
    assert client.get(API, headers=theirs).get_json()["total"] == 0
    assert client.get(f"{API}{mine['id']}", headers=theirs).status_code == 404
    assert (
        client.patch(
            f"{API}{mine['id']}", json={"name": "x", "version": 1}, headers=theirs
        ).status_code
        == 404
    )
    assert client.delete(f"{API}{mine['id']}", headers=theirs).status_code == 404
    created = client.post(API, json={"name": "Theirs"}, headers=theirs).get_json()
    assert created["company_id"] == other.id
    assert client.get(f"{API}{created['id']}", headers=admin).status_code == 404


# --------------------------------------------------------------------------- CSV through the API


def test_csv_export_uses_the_same_filters(client):
    headers = login(client)
    make_gadgets(client, headers, 4, parts=0)
    response = client.get(API + "?format=csv&price__gte=12&sort=-price", headers=headers)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    lines = response.get_data(as_text=True).splitlines()
    header = lines[0].split(",")
    assert header[:4] == ["id", "version", "company_id", "created_at"] and "parts" not in header
    name = header.index("name")
    assert [line.split(",")[name] for line in lines[1:]] == ["Gadget 003", "Gadget 002"]


def test_csv_import_through_the_api(client):
    headers = login(client)
    data = "name,price,currency\nOne,1.50,EUR\nTwo,2,USD\n"
    response = client.post(API + "import", data=data, content_type="text/csv", headers=headers)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["created"] == 2
    assert (
        client.get(API + "?currency=USD", headers=headers).get_json()["items"][0]["name"] == "Two"
    )
    bad = client.post(
        API + "import", data="name,price\nThree,abc\n", content_type="text/csv", headers=headers
    )
    assert bad.status_code == 422
    assert bad.get_json()["rows"][0]["line"] == 2
    assert (
        client.post(
            API + "import?dry_run=maybe", data=data, content_type="text/csv", headers=headers
        ).status_code
        == 400
    )
    assert (
        client.post(
            API + "import", data=data, content_type="application/json", headers=headers
        ).status_code
        == 415
    )


@pytest.fixture
def limited_user(db_session) -> str:
    """A user of the default company in group ``testkit.user`` (read, create, update)."""
    from core import identity
    from core.models import Company

    company = db_session.query(Company).order_by(Company.id).first()
    user = identity.create_user(
        db_session, "limited@example.com", LIMITED_PASSWORD, name="Limited",
        companies=[company], company=company, groups=[identity.find_group(db_session, "testkit.user")],
    )  # fmt: skip
    db_session.commit()
    return user.email
