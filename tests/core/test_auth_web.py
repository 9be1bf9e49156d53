"""The web login: cookies, CSRF, redirects, company switch, escaping of names."""

from __future__ import annotations

import re

import pytest

from core import identity
from core.auth import ACCESS_COOKIE, REFRESH_COOKIE
from core.models import Company, User
from tests.core.identity_world import PASSWORD, build_world, login, settle


@pytest.fixture
def world(db_session):
    return build_world(db_session)


def _csrf(client, path="/login") -> str:
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def _web_login(client, email="alice@example.com", password=PASSWORD, next_url=None):
    data = {"email": email, "password": password, "csrf_token": _csrf(client)}
    if next_url is not None:
        data["next"] = next_url
    return client.post("/login", data=data)


def _cookie(client, name):
    return client.get_cookie(name)


def test_login_page_renders_a_form_with_csrf(client, world):
    response = client.get("/login")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'name="csrf_token"' in html and 'type="password"' in html
    assert response.headers["X-Frame-Options"] == "DENY"


def test_web_login_sets_httponly_samesite_cookies_and_redirects(client, world):
    response = _web_login(client, next_url="/testkit/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/testkit/"
    set_cookies = response.headers.getlist("Set-Cookie")
    for name in (ACCESS_COOKIE, REFRESH_COOKIE):
        header = next(c for c in set_cookies if c.startswith(name + "="))
        assert "HttpOnly" in header and "SameSite=Lax" in header and "Path=/" in header
    home = client.get("/").get_data(as_text=True)
    assert "Alice" in home and "Log out" in home


def test_failed_web_login_shows_one_message_for_every_cause(client, world):
    unknown = _web_login(client, email="nobody@example.com").get_data(as_text=True)
    wrong = _web_login(client, password="Wrong-Password-1").get_data(as_text=True)
    message = "Invalid e-mail or password"
    assert message in unknown and message in wrong
    assert _cookie(client, ACCESS_COOKIE) is None


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)",
     "http:/evil.example", " //evil.example", "\t/\t/evil.example"],
)  # fmt: skip
def test_login_never_redirects_to_another_site(client, world, target):
    response = _web_login(client, next_url=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_login_without_csrf_token_is_refused(client, world):
    client.get("/login")
    response = client.post("/login", data={"email": "alice@example.com", "password": PASSWORD})
    assert response.status_code == 403
    assert _cookie(client, ACCESS_COOKIE) is None


def test_forged_post_with_valid_cookies_is_refused(client, world):
    """A page on another site makes the logged-in browser post: no token, so refused."""
    _web_login(client)
    assert _cookie(client, ACCESS_COOKIE) is not None
    forged = client.post("/switch-company", data={"company_id": str(world.company_a)})
    assert forged.status_code == 403
    wrong = client.post("/logout", data={"csrf_token": "guessed"})
    assert wrong.status_code == 403
    assert client.get("/api/v1/auth/me").status_code == 200  # still logged in
    # cookie-authenticated API writes need the header too
    api = client.post("/api/v1/auth/tokens", json={"name": "x"})
    assert api.status_code == 403 and api.mimetype == "application/problem+json"
    token = _csrf(client, "/")
    ok = client.post("/api/v1/auth/tokens", json={"name": "x"}, headers={"X-CSRF-Token": token})
    assert ok.status_code == 201


def test_csrf_token_of_another_session_is_refused(app, client, world):
    other = app.test_client()
    foreign = _csrf(other)
    _web_login(client)
    response = client.post("/logout", data={"csrf_token": foreign})
    assert response.status_code == 403


def test_cookie_session_is_read_by_the_api_and_logout_ends_it(client, world):
    _web_login(client)
    assert client.get("/api/v1/auth/me").get_json()["email"] == "alice@example.com"
    token = _csrf(client, "/")
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    assert _cookie(client, ACCESS_COOKIE) is None
    assert client.get("/api/v1/auth/me").status_code == 401


def test_stolen_cookie_is_worthless_after_logout(app, client, world):
    _web_login(client)
    stolen_access = _cookie(client, ACCESS_COOKIE).value
    stolen_refresh = _cookie(client, REFRESH_COOKIE).value
    client.post("/logout", data={"csrf_token": _csrf(client, "/")})
    thief = app.test_client()
    thief.set_cookie(ACCESS_COOKIE, stolen_access)
    thief.set_cookie(REFRESH_COOKIE, stolen_refresh)
    assert thief.get("/api/v1/auth/me").status_code == 401


def test_expired_access_cookie_is_renewed_from_the_refresh_cookie(app, client, world):
    _web_login(client)
    refresh = _cookie(client, REFRESH_COOKIE).value
    browser = app.test_client()
    browser.set_cookie(REFRESH_COOKIE, refresh)  # the access cookie has expired and is gone
    response = browser.get("/api/v1/auth/me")
    assert response.status_code == 200
    renewed = [
        c for c in response.headers.getlist("Set-Cookie") if c.startswith(ACCESS_COOKIE + "=")
    ]
    assert renewed and "HttpOnly" in renewed[0]


def test_garbage_cookies_leave_the_caller_anonymous(app, client, world):
    browser = app.test_client()
    browser.set_cookie(ACCESS_COOKIE, "garbage")
    browser.set_cookie(REFRESH_COOKIE, "more.garbage.here")
    response = browser.get("/api/v1/auth/me")
    assert response.status_code == 401
    cleared = [
        c for c in response.headers.getlist("Set-Cookie") if c.startswith(ACCESS_COOKIE + "=")
    ]
    assert cleared and ("Max-Age=0" in cleared[0] or "01 Jan 1970" in cleared[0])
    assert browser.get_cookie(ACCESS_COOKIE) is None


def test_switch_company_changes_the_current_company(client, world, db_session):
    _web_login(client, email="carol@example.com")
    assert client.get("/api/v1/auth/me").get_json()["company_id"] == world.company_a
    token = _csrf(client, "/")
    page = client.get("/").get_data(as_text=True)
    assert "Alpha Co" in page and "Beta Co" in page
    response = client.post(
        "/switch-company", data={"company_id": str(world.company_b), "csrf_token": token}
    )
    assert response.status_code == 302
    me = client.get("/api/v1/auth/me").get_json()
    assert me["company_id"] == world.company_b and me["company_ids"] == [world.company_b]


def test_switch_to_a_company_not_allowed_is_refused(client, world, db_session):
    _web_login(client)  # alice: company A only
    token = _csrf(client, "/")
    other = db_session.scalar(
        __import__("sqlalchemy").select(Company.id).where(Company.name == "My Company")
    )
    for target in (world.company_b, other, 999999, "x", ""):
        client.post("/switch-company", data={"company_id": str(target), "csrf_token": token})
        assert client.get("/api/v1/auth/me").get_json()["company_id"] == world.company_a


def test_logout_page_get_does_not_log_out(client, world):
    _web_login(client)
    assert client.get("/logout").status_code == 200
    assert client.get("/api/v1/auth/me").status_code == 200


def test_names_with_script_are_escaped_on_pages(client, world, db_session):
    alice = db_session.get(User, world.users["carol"])
    alice.name = "<script>alert('name')</script>"
    db_session.get(Company, world.company_b).name = '"><img src=x onerror=alert(1)>'
    settle(db_session)
    _web_login(client, email="carol@example.com")
    html = client.get("/").get_data(as_text=True)
    assert "<script>alert(" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(" in html
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in html or "&quot;&gt;&lt;img" in html


def test_xss_in_next_parameter_is_escaped(client, world):
    html = client.get('/login?next=/"><script>alert(1)</script>').get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html


def test_logged_in_user_visiting_login_is_sent_on(client, world):
    _web_login(client)
    response = client.get("/login?next=/testkit/")
    assert response.status_code == 302 and response.headers["Location"] == "/testkit/"


def test_api_login_does_not_set_cookies(client, world):
    response = client.post(
        "/api/v1/auth/login", json={"email": "alice@example.com", "password": PASSWORD}
    )
    assert response.status_code == 200
    assert not any(c.startswith("mosaic_") for c in response.headers.getlist("Set-Cookie"))
    login(client, "bob@example.com")
    assert identity is not None


def test_menu_shows_only_what_the_user_may_open(client, world):
    _web_login(client, email="dave@example.com")  # no group
    assert "Gadgets" not in client.get("/").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": _csrf(client, "/")})
    _web_login(client, email="alice@example.com")
    assert "Gadgets" in client.get("/").get_data(as_text=True)


def test_page_without_permission_is_403_and_anonymous_is_sent_to_login(client, world):
    anonymous = client.get("/testkit/gadgets/")
    assert anonymous.status_code == 302
    assert anonymous.headers["Location"].startswith("/login?next=")
    _web_login(client, email="dave@example.com")
    assert client.get("/testkit/gadgets/").status_code == 403


def test_script_in_record_names_is_escaped_on_generated_pages(client, world, db_session):
    from core.tenancy import unscoped
    from tests.core.identity_world import models

    Gadget, _ = models()
    with unscoped():
        db_session.get(Gadget, world.gadgets["a"]).name = "<script>alert('gadget')</script>"
        settle(db_session)
    _web_login(client)
    for path in ("/testkit/gadgets/", f"/testkit/gadgets/{world.gadgets['a']}"):
        html = client.get(path).get_data(as_text=True)
        assert "<script>alert('gadget')" not in html, path
        assert "&lt;script&gt;" in html, path


def test_history_times_follow_the_user_timezone(app, world, db_session):
    from datetime import UTC, datetime

    from flask import g, render_template_string

    user = db_session.get(User, world.users["alice"])
    user.timezone = "Asia/Tokyo"
    with app.test_request_context():
        g.mosaic_user = user
        text = render_template_string(
            "{{ local_time(t) }}", t=datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
        )
    assert text == "2024-01-01 21:00"
