"""The application factory mounts installed addons and reports health."""

from __future__ import annotations


def test_healthz_reports_database_and_installed_addons(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["database"] == "ok"
    assert "testkit" in body["addons"]


def test_installed_addon_is_mounted_under_its_prefix(app):
    rules = {r.rule for r in app.url_map.iter_rules()}
    assert "/api/v1/testkit/ping" in rules


def test_unknown_api_route_is_problem_json(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["status"] == 404


def test_unknown_page_is_html(client):
    response = client.get("/nothing-here")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
