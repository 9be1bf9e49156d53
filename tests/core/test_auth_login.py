"""Logging in: one answer for every failure, account lockout, throttling per address."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from core import identity
from core.db import utcnow
from core.models import User
from core.passwords import WeakPasswordError
from tests.core.identity_world import PASSWORD, build_world, settle


@pytest.fixture
def world(db_session):
    return build_world(db_session)


def _login(client, email, password, addr="10.0.0.1"):
    return client.post(
        "/api/v1/auth/login", json={"email": email, "password": password},
        environ_base={"REMOTE_ADDR": addr},
    )  # fmt: skip


def _answer(response):
    body = response.get_json()
    return response.status_code, body["title"], body["detail"], sorted(body)


def test_unknown_user_and_wrong_password_get_the_same_answer(client, world, db_session):
    unknown = _login(client, "nobody@example.com", PASSWORD)
    wrong = _login(client, "alice@example.com", "Wrong-Password-1")
    identity.disable_user(db_session, db_session.get(User, world.users["dave"]))
    settle(db_session)
    disabled = _login(client, "dave@example.com", PASSWORD)
    assert _answer(unknown) == _answer(wrong) == _answer(disabled)
    assert unknown.status_code == 401
    assert unknown.mimetype == wrong.mimetype == "application/problem+json"
    assert set(unknown.headers.keys()) == set(wrong.headers.keys())


def test_email_is_case_and_space_insensitive(client, world):
    assert _login(client, "  ALICE@Example.com ", PASSWORD).status_code == 200


@pytest.mark.parametrize(
    "body",
    [None, "x", [], {}, {"email": "a@b.c"}, {"password": "x"}, {"email": 1, "password": 2},
     {"email": "a" * 10000 + "@x.io", "password": "p"}, {"email": "alice@example.com", "password": "p" * 100000}],
)  # fmt: skip
def test_malformed_login_is_a_problem_never_500(client, world, body):
    response = client.post("/api/v1/auth/login", json=body)
    assert response.status_code in (400, 401, 413, 422)
    assert response.mimetype == "application/problem+json"


def test_repeated_failures_lock_the_account_even_for_the_right_password(
    app, client, world, db_session
):
    settings = app.extensions["mosaic"].settings
    for i in range(settings.login_max_failures):
        # a new address each time: this is the account lockout, not the address throttle
        assert (
            _login(client, "alice@example.com", "Wrong-Password-1", addr=f"10.1.0.{i}").status_code
            == 401
        )
    locked = _login(client, "alice@example.com", PASSWORD, addr="10.2.0.1")
    assert locked.status_code == 401
    assert _answer(locked) == _answer(
        _login(client, "nobody@example.com", PASSWORD, addr="10.2.0.2")
    )
    user = db_session.get(User, world.users["alice"])
    assert user.locked_until is not None and user.locked_until > utcnow()
    # other accounts are not affected
    assert _login(client, "bob@example.com", PASSWORD, addr="10.2.0.3").status_code == 200
    # when the lock has run out (moved into the past, not waited for) the right password works
    db_session.execute(
        update(User).where(User.id == user.id).values(locked_until=utcnow() - timedelta(seconds=1))
    )
    settle(db_session)
    assert _login(client, "alice@example.com", PASSWORD, addr="10.2.0.4").status_code == 200
    db_session.expire_all()
    refreshed = db_session.get(User, world.users["alice"])
    assert refreshed.failed_logins == 0 and refreshed.locked_until is None


def test_a_success_resets_the_failure_count(client, world, db_session):
    for i in range(3):
        _login(client, "alice@example.com", "Wrong-Password-1", addr=f"10.3.0.{i}")
    assert _login(client, "alice@example.com", PASSWORD, addr="10.3.1.1").status_code == 200
    db_session.expire_all()
    assert db_session.get(User, world.users["alice"]).failed_logins == 0


def test_failed_logins_are_rate_limited_per_address(app, client, world):
    limit = int(app.extensions["mosaic"].settings.login_rate_limit.split()[0])
    statuses = [
        _login(client, f"user{i}@example.com", "Wrong-Password-1").status_code for i in range(limit)
    ]
    assert statuses == [401] * limit
    blocked = _login(client, "alice@example.com", PASSWORD)
    assert blocked.status_code == 429
    assert blocked.mimetype == "application/problem+json"
    assert "Retry-After" in blocked.headers
    # another address is not throttled
    assert _login(client, "alice@example.com", PASSWORD, addr="10.9.9.9").status_code == 200
    # the web login form shares the same limit for the same address
    page = client.post("/login", data={"email": "x@example.com", "password": "y"},
                       environ_base={"REMOTE_ADDR": "10.0.0.1"})  # fmt: skip
    assert page.status_code in (403, 429)


def test_successful_logins_do_not_count_against_the_limit(app, client, world):
    limit = int(app.extensions["mosaic"].settings.login_rate_limit.split()[0])
    for _ in range(limit + 2):
        assert _login(client, "alice@example.com", PASSWORD).status_code == 200


def test_password_strength_is_enforced(db_session, world):
    user = db_session.get(User, world.users["alice"])
    for weak in ("short1!", "aaaaaaaaaaaa", "alllowercase", "alice-Password-1"):
        with pytest.raises(WeakPasswordError):
            identity.set_password(db_session, user, weak)
    with pytest.raises(WeakPasswordError):
        identity.create_user(db_session, "eve@example.com", "password")


def test_password_is_stored_as_argon2_hash_only(db_session, world):
    user = identity.create_user(db_session, "eve@example.com", "Eve-Strong-Pass-1")
    assert user.password_hash.startswith("$argon2id$")
    assert "Eve-Strong-Pass-1" not in user.password_hash
