"""Walk every registered route and knock on each door without (enough) credentials.

Generic on purpose: it reads ``app.url_map``, so every route an addon or core adds later is
covered without touching this file. The only API routes that may answer an anonymous caller
are listed in ``PUBLIC_API``; the only pages, in ``PUBLIC_PAGES``.
"""

from __future__ import annotations

import re
import uuid

import pytest

from tests.core.identity_world import build_world, headers_for

PUBLIC_API = {
    ("/api/v1/auth/login", "POST"),
    ("/api/v1/auth/refresh", "POST"),
    ("/api/v1/openapi.json", "GET"),
}
PUBLIC_PAGES = {"/", "/login", "/logout", "/healthz", "/static/<path:filename>"}
SKIPPED_METHODS = {"HEAD", "OPTIONS"}
PLACEHOLDER = re.compile(r"<(?:(?P<conv>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>")


def _sample(match: re.Match) -> str:
    conv = match.group("conv") or "string"
    return {"int": "1", "float": "1.0", "uuid": str(uuid.uuid4()), "path": "x/y"}.get(conv, "x")


def _routes(app, *, api: bool):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/") != api:
            continue
        for method in sorted(rule.methods - SKIPPED_METHODS):
            yield rule, method, PLACEHOLDER.sub(_sample, rule.rule)


def _call(client, method, url, **kwargs):
    return client.open(
        url, method=method, json={} if method not in ("GET", "DELETE") else None, **kwargs
    )


def test_the_walk_sees_the_routes_it_must_cover(app):
    rules = {r.rule for r in app.url_map.iter_rules()}
    assert {"/api/v1/auth/me", "/api/v1/auth/logout", "/api/v1/auth/tokens"} <= rules
    assert any(r.startswith("/api/v1/testkit/") for r in rules)


def test_no_api_route_answers_an_anonymous_caller_with_data(app, client, db_session):
    leaks = []
    for rule, method, url in _routes(app, api=True):
        if (rule.rule, method) in PUBLIC_API:
            continue
        response = _call(client, method, url)
        if response.status_code != 401 or response.mimetype != "application/problem+json":
            leaks.append(
                f"{method} {rule.rule} -> {response.status_code} {response.get_data(as_text=True)[:80]}"
            )
    assert not leaks, "API routes answering anonymous callers:\n" + "\n".join(leaks)


def test_no_page_answers_an_anonymous_caller_with_data(app, client, db_session):
    leaks = []
    for rule, method, url in _routes(app, api=False):
        if rule.rule in PUBLIC_PAGES:
            continue
        response = _call(client, method, url)
        if method == "GET":
            ok = response.status_code == 302 and "/login" in response.headers.get("Location", "")
        else:
            # unsafe anonymous requests stop at the CSRF check or the login redirect
            ok = response.status_code in (302, 403) and (
                response.status_code == 403 or "/login" in response.headers.get("Location", "")
            )
        if not ok:
            leaks.append(f"{method} {rule.rule} -> {response.status_code}")
    assert not leaks, "pages answering anonymous callers:\n" + "\n".join(leaks)


@pytest.mark.parametrize("header", ["Bearer forged.token.value", "Bearer mos_forged"])
def test_no_api_route_accepts_forged_credentials(app, client, db_session, header):
    leaks = []
    for rule, method, url in _routes(app, api=True):
        if (rule.rule, method) in PUBLIC_API:
            continue
        response = _call(client, method, url, headers={"Authorization": header})
        if response.status_code != 401:
            leaks.append(f"{method} {rule.rule} -> {response.status_code}")
    assert not leaks, "\n".join(leaks)


def test_every_permission_guarded_route_refuses_a_user_without_it(app, client, db_session):
    """``dave`` is logged in but belongs to no group: every guarded route must say 403."""
    build_world(db_session)
    headers = headers_for(client, "dave")
    checked, wrong = 0, []
    for rule, method, url in _routes(app, api=True):
        view = app.view_functions[rule.endpoint]
        if getattr(view, "mosaic_permission", None) is None:
            continue
        checked += 1
        response = _call(client, method, url, headers=headers)
        if response.status_code != 403:
            wrong.append(f"{method} {rule.rule} -> {response.status_code}")
    assert not wrong, "guarded routes open to a user without the permission:\n" + "\n".join(wrong)
    assert checked > 0  # the testkit gadgets resource at least


def test_api_routes_declare_their_protection(app):
    """Every non-public API view is wrapped by ``core.access`` (a decorator or a resource option)."""
    unguarded = sorted(
        f"{method} {rule.rule}"
        for rule, method, _url in _routes(app, api=True)
        if (rule.rule, method) not in PUBLIC_API
        and not getattr(app.view_functions[rule.endpoint], "mosaic_protected", False)
        and not getattr(app.view_functions[rule.endpoint], "mosaic_public", False)
    )
    assert not unguarded, "API views without permission_required/login_required:\n" + "\n".join(
        unguarded
    )
