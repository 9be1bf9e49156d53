"""The OpenAPI document: valid, complete, and true to what the endpoints answer."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

from tests.core.resources_support import API, login, make_gadgets

DOC_URL = "/api/v1/openapi.json"


@pytest.fixture
def doc(client) -> dict[str, Any]:
    response = client.get(DOC_URL)
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


def test_the_document_is_valid_openapi_3(doc):
    validate(doc)
    assert doc["openapi"].startswith("3.0")
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def _path_of(rule: str) -> str:
    return re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule)


def test_every_api_route_is_described_generated_or_custom(app, doc):
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            if method.lower() not in doc["paths"].get(_path_of(rule.rule), {}):
                missing.append(f"{method} {rule.rule}")
    assert not missing
    assert {"get", "post"} <= set(doc["paths"]["/api/v1/testkit/gadgets/"])
    assert {"get", "patch", "delete"} <= set(doc["paths"]["/api/v1/testkit/gadgets/{record_id}"])
    assert "post" in doc["paths"]["/api/v1/testkit/gadgets/{record_id}/polish"]
    assert "post" in doc["paths"]["/api/v1/auth/login"]  # a custom route of core.auth


def test_protected_operations_declare_auth_and_problem_errors(app, doc):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method == "parameters":
                continue
            assert "default" in op["responses"], (method, path)
            assert op["responses"]["default"]["content"]["application/problem+json"]["schema"] == {
                "$ref": "#/components/schemas/Problem"
            }
            if op["security"]:
                assert "401" in op["responses"], (method, path)
    listing = doc["paths"]["/api/v1/testkit/gadgets/"]["get"]
    assert listing["security"] == [{"bearerAuth": []}]
    assert {"400", "401", "403"} <= set(listing["responses"])
    assert "testkit.gadget.read" in listing["description"]
    assert doc["paths"]["/api/v1/auth/login"]["post"]["security"] == []
    update = doc["paths"]["/api/v1/testkit/gadgets/{record_id}"]["patch"]
    assert {"404", "409", "413", "415", "422", "428"} <= set(update["responses"])


def test_list_parameters_follow_the_declaration(doc):
    params = {p["name"]: p for p in doc["paths"]["/api/v1/testkit/gadgets/"]["get"]["parameters"]}
    assert params["limit"]["schema"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 500,
        "default": 50,
    }
    assert {
        "q",
        "sort",
        "offset",
        "format",
        "price__gte",
        "price__lte",
        "created_at__gte",
        "name__contains",
        "notes__isnull",
    } <= set(params)
    assert "colour" not in params and "id" not in params
    assert re.fullmatch(params["sort"]["schema"]["pattern"], "-price,name")
    assert not re.fullmatch(params["sort"]["schema"]["pattern"], "secret")


def test_schemas_carry_what_the_columns_impose(doc):
    gadget = doc["components"]["schemas"]["Gadget"]["properties"]
    assert gadget["name"]["maxLength"] == 120
    assert gadget["price"]["type"] == "string" and re.fullmatch(gadget["price"]["pattern"], "12.50")
    assert not re.fullmatch(gadget["price"]["pattern"], "1.234")
    assert gadget["notes"]["nullable"] is True and gadget["version"]["readOnly"] is True
    create = doc["components"]["schemas"]["GadgetCreate"]
    assert "id" not in create["properties"] and create["required"] == ["name"]
    assert create["additionalProperties"] is False
    update = doc["components"]["schemas"]["GadgetUpdate"]
    assert (
        update["required"] == ["version"] and update["properties"]["version"]["type"] == "integer"
    )
    assert not re.fullmatch(gadget["price"]["pattern"], "-1")  # Range(min=0): no sign


def test_custom_routes_use_their_api_doc(doc):
    ping = doc["paths"]["/api/v1/testkit/ping"]["get"]
    assert ping["summary"] == "Liveness of the testkit addon"
    assert ping["responses"]["200"]["content"]["application/json"]["schema"]["properties"][
        "pong"
    ] == {"type": "boolean"}
    assert ping["security"] == [{"bearerAuth": []}]


# --------------------------------------------------------------------------- conformance


def _inline(doc: dict[str, Any], schema: Any, depth: int = 0) -> Any:
    if isinstance(schema, dict):
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[1]
            return _inline(doc, copy.deepcopy(doc["components"]["schemas"][name]), depth + 1)
        return {k: _inline(doc, v, depth) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_inline(doc, v, depth) for v in schema]
    return schema


def _operation(doc: dict[str, Any], method: str, url: str) -> dict[str, Any]:
    path = url.split("?", 1)[0]
    for template, item in doc["paths"].items():
        pattern = "^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path) and method in item:
            return item[method]
    raise AssertionError(f"no documented operation for {method.upper()} {path}")


def assert_conforms(doc: dict[str, Any], method: str, url: str, response: Any) -> None:
    """The status is documented, and the body matches the documented schema of that status."""
    op = _operation(doc, method, url)
    documented = op["responses"].get(str(response.status_code)) or op["responses"].get("default")
    assert documented is not None, f"{method} {url}: status {response.status_code} not documented"
    assert response.status_code < 500, f"{method} {url}: {response.status_code}"
    content = documented.get("content")
    if not content or not response.data:
        return
    assert response.mimetype in content, (
        f"{method} {url}: {response.mimetype} not in {list(content)}"
    )
    if response.mimetype.endswith("json"):
        schema = _inline(doc, content[response.mimetype]["schema"])
        OAS30Validator(schema).validate(response.get_json())


def test_answers_match_the_description(client, doc):
    headers = login(client)
    gadget = make_gadgets(client, headers, 2, parts=2)[0]
    one = f"{API}{gadget['id']}"
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("get", API, {}),
        (
            "get",
            API + "?limit=1&offset=1&sort=-price&q=Gadget&price__gte=1&created_at__lte=2999-01-01",
            {},
        ),
        ("get", API + "?format=csv", {}),
        ("get", API + "?colour=red", {}),
        ("get", API + "?limit=0", {}),
        ("get", one, {}),
        ("get", f"{API}999999", {}),
        ("get", one + "/history", {}),
        ("post", API, {"json": {"name": "Conforming", "price": "1.00", "parts": [{"label": "x"}]}}),
        ("post", API, {"json": {"name": ""}}),
        ("post", API, {"data": "{", "content_type": "application/json"}),
        ("post", API, {"data": "x", "content_type": "text/plain"}),
        ("patch", one, {"json": {"name": "Patched", "version": 1}}),
        ("patch", one, {"json": {"name": "Stale", "version": 1}}),
        ("patch", one, {"json": {"name": "No version"}}),
        ("post", one + "/polish", {"json": {"times": 2}}),
        ("post", one + "/polish", {"json": {"times": 0}}),
        ("post", API + "import", {"data": "name\nImported\n", "content_type": "text/csv"}),
        ("post", API + "import", {"data": "name\n\n,\n", "content_type": "text/csv"}),
        ("post", API + "import", {"data": "colour\nred\n", "content_type": "text/csv"}),
        ("delete", one, {}),
        ("delete", one, {}),
        ("get", "/api/v1/testkit/ping", {}),
    ]
    for method, url, kwargs in calls:
        response = getattr(client, method)(url, headers=headers, **kwargs)
        assert_conforms(doc, method, url, response)
    for method, url, kwargs in calls[:3]:
        assert_conforms(doc, method, url, getattr(client, method)(url, **kwargs))  # anonymous: 401


def test_auth_routes_describe_their_bodies_and_answers(client, doc):
    login_op = doc["paths"]["/api/v1/auth/login"]["post"]
    body = _inline(doc, login_op["requestBody"]["content"]["application/json"]["schema"])
    assert set(body["required"]) == {"email", "password"}
    assert login_op["security"] == []  # public: no bearer token needed to log in
    response = client.post(
        "/api/v1/auth/login", json={"email": "admin@example.com", "password": "x" * 12}
    )
    assert response.status_code == 401  # a refusal is a documented problem response
    assert {"401", "422", "429"} <= set(login_op["responses"])
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {login(client)}"})
    assert_conforms(doc, "get", "/api/v1/auth/me", me)
