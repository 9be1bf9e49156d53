"""JWT access/refresh tokens and personal API tokens: what must be refused is refused."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from core import identity
from core.auth import tokens
from core.models import RevokedToken, User
from tests.core.identity_world import PASSWORD, bearer, build_world, login, mint, settle


@pytest.fixture
def world(db_session):
    return build_world(db_session)


def _claims(user_id: int, **over) -> dict:
    now = datetime.now(UTC)
    claims = {
        "sub": str(user_id), "type": "access", "jti": str(uuid.uuid4()), "fam": uuid.uuid4().hex,
        "iat": now.timestamp(), "nbf": now, "exp": now + timedelta(minutes=5), "iss": "mosaic",
        "fresh": False,
    }  # fmt: skip
    claims.update(over)
    return claims


def _me(client, token: str):
    return client.get("/api/v1/auth/me", headers=bearer(token))


def test_login_gives_tokens_that_open_me(client, world):
    body = login(client, "alice@example.com")
    assert body["token_type"] == "Bearer" and body["expires_in"] == 15 * 60
    me = _me(client, body["access_token"])
    assert me.status_code == 200
    data = me.get_json()
    assert data["email"] == "alice@example.com"
    assert data["company_id"] == world.company_a
    assert [c["id"] for c in data["companies"]] == [world.company_a]
    assert "testkit.gadget.read" in data["permissions"]
    assert "testkit.gadget.delete" not in data["permissions"]
    assert "password" not in str(data).lower()
    assert me.headers["Cache-Control"] == "no-store"


def test_admin_holds_every_permission(client, world):
    body = login(client, "admin@example.com", "Correct-Horse-42")
    data = _me(client, body["access_token"]).get_json()
    assert data["is_admin"] is True
    assert {"testkit.gadget.polish", "testkit.gadget.delete"} <= set(data["permissions"])


def test_anonymous_me_is_401_problem_with_challenge(client, world):
    response = client.get("/api/v1/auth/me")
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer", "Bearer ", "Basic YWRtaW46YWRtaW4=", "Bearer not.a.jwt", "Bearer a.b",
        "Bearer ....", "Bearer " + "x" * 5000, "Bearer mos_", "Bearer mos_guessed-token",
        "Bearer eyJhbGciOiJIUzI1NiJ9.e30.", "Token abc", "Bearer \u00e9\u00e8",
    ],
)  # fmt: skip
def test_garbage_authorization_is_401_never_500(client, world, header):
    response = client.get("/api/v1/auth/me", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"


def test_tampered_payload_is_refused(client, world):
    access = login(client, "alice@example.com")["access_token"]
    header, payload, signature = access.split(".")
    claims = jwt.decode(access, options={"verify_signature": False})
    claims["sub"] = str(world.users["carol"])
    forged_payload = jwt.encode(claims, "whatever-" * 5, algorithm="HS256").split(".")[1]
    assert _me(client, f"{header}.{forged_payload}.{signature}").status_code == 401
    # flipping one character of the signature
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    assert _me(client, f"{header}.{payload}.{flipped}").status_code == 401
    assert _me(client, access).status_code == 200


def test_alg_none_is_refused(client, world):
    token = jwt.encode(_claims(world.users["carol"]), key=None, algorithm="none")
    assert _me(client, token).status_code == 401
    # and with an empty signature appended to a HS256 header
    header = jwt.utils.base64url_encode(b'{"alg":"none","typ":"JWT"}').decode()
    payload = token.split(".")[1]
    assert _me(client, f"{header}.{payload}.").status_code == 401


def test_wrong_key_and_other_algorithms_are_refused(app, client, world):
    claims = _claims(world.users["alice"])
    assert (
        _me(client, jwt.encode(claims, "not-the-key-" + "y" * 40, algorithm="HS256")).status_code
        == 401
    )
    key = tokens.signing_key(app)
    assert _me(client, jwt.encode(claims, key, algorithm="HS512")).status_code == 401
    # the instance secret itself is not the JWT key (keys are separated)
    assert (
        _me(client, jwt.encode(claims, app.config["SECRET_KEY"], algorithm="HS256")).status_code
        == 401
    )
    # the real key works: the crafted claims are otherwise valid
    assert _me(client, jwt.encode(claims, key, algorithm="HS256")).status_code == 200


def test_expired_token_is_refused(app, client, world):
    past = datetime.now(UTC) - timedelta(hours=1)
    claims = _claims(
        world.users["alice"], iat=past.timestamp(), nbf=past, exp=past + timedelta(minutes=5)
    )
    assert (
        _me(client, jwt.encode(claims, tokens.signing_key(app), algorithm="HS256")).status_code
        == 401
    )


def test_wrong_issuer_missing_claims_and_bad_subject_are_refused(app, client, world):
    key = tokens.signing_key(app)
    uid = world.users["alice"]
    assert (
        _me(
            client, jwt.encode(_claims(uid, iss="someone-else"), key, algorithm="HS256")
        ).status_code
        == 401
    )
    for missing in ("fam", "jti", "exp", "sub"):
        claims = _claims(uid)
        del claims[missing]
        assert _me(client, jwt.encode(claims, key, algorithm="HS256")).status_code == 401, missing
    assert (
        _me(client, jwt.encode(_claims(uid, sub="1 OR 1=1"), key, algorithm="HS256")).status_code
        == 401
    )
    assert _me(client, jwt.encode(_claims(999999), key, algorithm="HS256")).status_code == 401


def test_refresh_token_is_not_an_access_token_and_vice_versa(client, world):
    body = login(client, "alice@example.com")
    assert _me(client, body["refresh_token"]).status_code == 401
    response = client.post("/api/v1/auth/refresh", json={"refresh_token": body["access_token"]})
    assert response.status_code == 401


def test_refresh_rotates_and_replay_kills_the_family(client, world):
    first = login(client, "alice@example.com")
    second = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    rotated = second.get_json()
    assert rotated["refresh_token"] != first["refresh_token"]
    assert _me(client, rotated["access_token"]).status_code == 200
    # the used refresh token stops working ...
    replay = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401
    assert replay.mimetype == "application/problem+json"
    # ... and since a replay means theft, the whole login is revoked, new tokens included
    assert _me(client, rotated["access_token"]).status_code == 401
    again = client.post("/api/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]})
    assert again.status_code == 401
    # other logins of the same user are untouched
    assert _me(client, login(client, "alice@example.com")["access_token"]).status_code == 200


@pytest.mark.parametrize(
    "body", [None, [], {"refresh_token": 5}, {"refresh_token": ""}, {}, "text"]
)
def test_refresh_with_bad_body_is_a_problem_not_500(client, world, body):
    response = client.post("/api/v1/auth/refresh", json=body)
    assert response.status_code in (400, 422)
    assert response.mimetype == "application/problem+json"


def test_logout_revokes_access_and_refresh(client, world, db_session):
    body = login(client, "alice@example.com")
    response = client.post("/api/v1/auth/logout", headers=bearer(body["access_token"]))
    assert response.status_code == 204
    assert _me(client, body["access_token"]).status_code == 401
    assert (
        client.post(
            "/api/v1/auth/refresh", json={"refresh_token": body["refresh_token"]}
        ).status_code
        == 401
    )
    assert db_session.query(RevokedToken).count() >= 1


def test_logout_with_only_the_refresh_token(client, world):
    body = login(client, "alice@example.com")
    response = client.post("/api/v1/auth/logout", json={"refresh_token": body["refresh_token"]})
    assert response.status_code == 204
    assert _me(client, body["access_token"]).status_code == 401


def test_anonymous_logout_is_401(client, world):
    assert client.post("/api/v1/auth/logout").status_code == 401
    assert client.post("/api/v1/auth/logout", json={"refresh_token": "nope"}).status_code == 401


def test_password_change_revokes_everything_outstanding(app, client, world, db_session):
    old = login(client, "alice@example.com")
    api_token_plain = _create_api_token(client, old["access_token"])
    user = db_session.get(User, world.users["alice"])
    identity.set_password(db_session, user, "Another-Secret-99")
    settle(db_session)
    assert _me(client, old["access_token"]).status_code == 401
    assert (
        client.post(
            "/api/v1/auth/refresh", json={"refresh_token": old["refresh_token"]}
        ).status_code
        == 401
    )
    assert _me(client, api_token_plain).status_code == 401
    assert (
        client.post(
            "/api/v1/auth/login", json={"email": "alice@example.com", "password": PASSWORD}
        ).status_code
        == 401
    )
    new = login(client, "alice@example.com", "Another-Secret-99")
    assert _me(client, new["access_token"]).status_code == 200


def test_change_own_password_through_the_api(client, world):
    old = login(client, "alice@example.com")
    headers = bearer(old["access_token"])
    wrong = client.post("/api/v1/auth/password", headers=headers,
                        json={"current_password": "nope-nope-1", "new_password": "Another-Secret-99"})  # fmt: skip
    assert wrong.status_code == 422 and "current_password" in wrong.get_json()["errors"]
    weak = client.post("/api/v1/auth/password", headers=headers,
                       json={"current_password": PASSWORD, "new_password": "short"})  # fmt: skip
    assert weak.status_code == 422 and "new_password" in weak.get_json()["errors"]
    ok = client.post("/api/v1/auth/password", headers=headers,
                     json={"current_password": PASSWORD, "new_password": "Another-Secret-99"})  # fmt: skip
    assert ok.status_code == 200
    assert _me(client, old["access_token"]).status_code == 401
    assert _me(client, ok.get_json()["access_token"]).status_code == 200


def test_disabled_user_loses_every_token(client, world, db_session):
    body = login(client, "alice@example.com")
    api_token_plain = _create_api_token(client, body["access_token"])
    identity.disable_user(db_session, db_session.get(User, world.users["alice"]))
    settle(db_session)
    assert _me(client, body["access_token"]).status_code == 401
    assert _me(client, api_token_plain).status_code == 401
    assert (
        client.post(
            "/api/v1/auth/refresh", json={"refresh_token": body["refresh_token"]}
        ).status_code
        == 401
    )
    refused = client.post(
        "/api/v1/auth/login", json={"email": "alice@example.com", "password": PASSWORD}
    )
    assert refused.status_code == 401


def test_revocation_is_in_the_database_so_another_worker_sees_it(
    app, settings, db, registry, client, world
):
    """A second app (another worker) refuses a token the first one revoked."""
    from core.app import create_app

    other = create_app(settings, db=db, registry=registry).test_client()
    body = login(client, "alice@example.com")
    assert other.get("/api/v1/auth/me", headers=bearer(body["access_token"])).status_code == 200
    assert (
        client.post("/api/v1/auth/logout", headers=bearer(body["access_token"])).status_code == 204
    )
    assert other.get("/api/v1/auth/me", headers=bearer(body["access_token"])).status_code == 401


def test_token_lifetimes_follow_settings(app, world, db_session):
    issued = mint(app, db_session, world.users["alice"])
    with app.app_context():
        access = tokens.decode(issued.access_token, tokens.ACCESS)
        refresh = tokens.decode(issued.refresh_token, tokens.REFRESH)
    assert abs(access["exp"] - access["iat"] - 15 * 60) <= 1
    assert abs(refresh["exp"] - refresh["iat"] - 14 * 24 * 3600) <= 1


# --------------------------------------------------------------------------- personal tokens


def _create_api_token(client, access: str, name: str = "integration") -> str:
    response = client.post("/api/v1/auth/tokens", headers=bearer(access), json={"name": name})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["token"]


def test_personal_api_tokens_are_shown_once_stored_hashed_and_revocable(client, world, db_session):
    access = login(client, "alice@example.com")["access_token"]
    plain = _create_api_token(client, access)
    assert plain.startswith("mos_") and len(plain) > 40
    listed = client.get("/api/v1/auth/tokens", headers=bearer(access)).get_json()["items"]
    assert len(listed) == 1 and "token" not in listed[0] and plain.startswith(listed[0]["prefix"])
    from core.models import ApiToken

    stored = db_session.query(ApiToken).one()
    assert plain not in (stored.token_hash, stored.prefix)
    me = _me(client, plain)
    assert me.status_code == 200 and me.get_json()["email"] == "alice@example.com"
    # a personal token cannot mint more tokens
    assert (
        client.post("/api/v1/auth/tokens", headers=bearer(plain), json={"name": "x"}).status_code
        == 403
    )
    # another user cannot revoke it
    bob = login(client, "bob@example.com")["access_token"]
    assert (
        client.delete(f"/api/v1/auth/tokens/{listed[0]['id']}", headers=bearer(bob)).status_code
        == 404
    )
    assert _me(client, plain).status_code == 200
    assert (
        client.delete(f"/api/v1/auth/tokens/{listed[0]['id']}", headers=bearer(access)).status_code
        == 204
    )
    assert _me(client, plain).status_code == 401
    # a near miss of a valid token is refused
    assert _me(client, plain[:-1] + ("a" if plain[-1] != "a" else "b")).status_code == 401


def test_personal_token_records_last_use(client, world, db_session):
    from core.models import ApiToken

    plain = _create_api_token(client, login(client, "alice@example.com")["access_token"])
    assert _me(client, plain).status_code == 200
    db_session.expire_all()
    assert db_session.query(ApiToken).one().last_used_at is not None


def test_token_issued_just_after_a_password_change_is_valid(app, world, db_session):
    user = db_session.get(User, world.users["alice"])
    identity.set_password(db_session, user, "Another-Secret-99")
    settle(db_session)
    time.sleep(0.001)  # not a timing assertion: only makes the instants distinct on coarse clocks
    issued = mint(app, db_session, world.users["alice"])
    with app.test_request_context():
        user, _claims = tokens.verify(
            app.extensions["mosaic"].db.session, issued.access_token, tokens.ACCESS
        )
        assert user.id == world.users["alice"]
