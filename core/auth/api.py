"""``/api/v1/auth``: login, refresh (rotating), logout, me, password, personal API tokens.

Every answer is JSON; every error is problem+json. Login failures are one answer for all
causes (unknown e-mail, wrong password, disabled or locked account).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, jsonify, request
from flask_limiter import Limiter

from core.access import current_user, login_required
from core.auth import tokens
from core.auth.loader import establish, public_endpoint
from core.auth.ratelimit import login_limit, mark_login_failed
from core.config import Settings
from core.identity import (
    IdentityError,
    LoginPolicy,
    all_permissions,
    authenticate,
    create_api_token,
    describe_token,
    list_api_tokens,
    purge_expired_revocations,
    revoke_api_token,
    set_password,
)
from core.passwords import WeakPasswordError
from core.problems import Problem
from core.resources.openapi import api_doc

LOGIN_FAILED = "Invalid e-mail or password (or the account is temporarily locked)."


def _db():
    return current_app.extensions["mosaic"].db


def _session():
    return _db().session


def login_tokens(email: str, password: str, policy: LoginPolicy) -> tokens.IssuedTokens | None:
    """Check the credentials and issue tokens, in a transaction of its own.

    Its own transaction (retried on lock conflicts by ``Database.run_in_transaction``) so
    that a failed attempt is counted even though the request is refused.
    """

    def work(session: Any) -> tokens.IssuedTokens | None:
        user = authenticate(session, email, password, policy)
        return tokens.issue_tokens(user) if user is not None else None

    return _db().run_in_transaction(work)


def _json_body(*required: str) -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Problem(400, "The request body must be a JSON object.", title="Bad Request")
    errors = {
        name: ["Missing data for required field."]
        for name in required
        if not isinstance(body.get(name), str) or not body.get(name)
    }
    if errors:
        raise Problem(422, "The request is invalid.", title="Unprocessable Content", errors=errors)
    return body


def user_summary(user: Any) -> dict[str, Any]:
    perms = (
        sorted(all_permissions(_session())) if g.mosaic_is_admin else sorted(g.mosaic_permissions)
    )
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "timezone": user.timezone,
        "is_admin": bool(g.mosaic_is_admin),
        "company_id": g.mosaic_company_id,
        "company_ids": sorted(g.mosaic_company_ids),
        "companies": [{"id": cid, "name": name} for cid, name in g.mosaic_companies],
        "permissions": perms,
    }


# JSON schemas of the auth routes, for the OpenAPI document (``core.resources.api_doc``).
_STR = {"type": "string"}
_DT = {"type": "string", "format": "date-time", "nullable": True}
TOKEN_PAIR = {
    "type": "object",
    "properties": {
        "access_token": _STR, "refresh_token": _STR, "token_type": _STR,
        "expires_in": {"type": "integer"}, "refresh_expires_in": {"type": "integer"},
    },
    "required": ["access_token", "refresh_token", "token_type", "expires_in"],
}  # fmt: skip
LOGIN_BODY = {
    "type": "object",
    "properties": {"email": _STR, "password": {"type": "string", "format": "password"}},
    "required": ["email", "password"],
}
REFRESH_BODY = {
    "type": "object",
    "properties": {"refresh_token": _STR},
    "required": ["refresh_token"],
}
LOGOUT_BODY = {"type": "object", "properties": {"refresh_token": _STR}}
PASSWORD_BODY = {
    "type": "object",
    "properties": {"current_password": _STR, "new_password": _STR},
    "required": ["current_password", "new_password"],
}
API_TOKEN = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"}, "name": _STR, "prefix": _STR, "created_at": _DT,
        "last_used_at": _DT, "revoked": {"type": "boolean"},
    },
}  # fmt: skip
API_TOKEN_CREATED = {
    "type": "object",
    "properties": {**API_TOKEN["properties"], "token": _STR},
}
TOKEN_BODY = {"type": "object", "properties": {"name": _STR}, "required": ["name"]}
ME = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"}, "email": _STR, "name": _STR, "timezone": _STR,
        "is_admin": {"type": "boolean"}, "company_id": {"type": "integer", "nullable": True},
        "company_ids": {"type": "array", "items": {"type": "integer"}},
        "companies": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "integer"}, "name": _STR}}},
        "permissions": {"type": "array", "items": _STR},
    },
}  # fmt: skip


def build_api_blueprint(limiter: Limiter, settings: Settings) -> Blueprint:
    bp = Blueprint("auth_api", __name__, url_prefix="/api/v1/auth")
    policy = LoginPolicy(settings.login_max_failures, settings.login_lock_minutes)

    @bp.post("/login")
    @api_doc(summary="Log in: an access and a refresh token", body=LOGIN_BODY, response=TOKEN_PAIR,
             errors=(401, 422, 429), tags=["auth"])  # fmt: skip
    @public_endpoint
    @login_limit(limiter, settings)
    def login() -> Any:
        body = _json_body("email", "password")
        issued = login_tokens(body["email"], body["password"], policy)
        if issued is None:
            mark_login_failed()
            raise Problem(401, LOGIN_FAILED, title="Unauthorized")
        return jsonify(issued.as_dict())

    @bp.post("/refresh")
    @api_doc(summary="Rotate a refresh token (the used one stops working)", body=REFRESH_BODY,
             response=TOKEN_PAIR, errors=(401, 422), tags=["auth"])  # fmt: skip
    @public_endpoint
    def refresh() -> Any:
        body = _json_body("refresh_token")
        token = body["refresh_token"]
        # committed even when refused: a replay revokes the whole family
        rotation = _db().run_in_transaction(lambda session: tokens.rotate(session, token))
        if rotation.issued is None:
            current_app.logger.info("refresh refused: %s", rotation.reason)
            raise Problem(
                401, "The refresh token is invalid, expired or revoked.", title="Unauthorized"
            )
        return jsonify(rotation.issued.as_dict())

    @bp.post("/logout")
    @api_doc(
        summary="Revoke this login", body=LOGOUT_BODY, status=204, errors=(401,), tags=["auth"]
    )
    @public_endpoint
    def logout() -> Any:
        """Revoke the login (every token of its family); works with the access or refresh token."""
        claims = g.mosaic_token_claims
        body = request.get_json(silent=True)
        given = body.get("refresh_token") if isinstance(body, dict) else None

        def work(session: Any) -> bool:
            found = claims
            if isinstance(given, str) and given:
                try:
                    _user, refresh_claims = tokens.verify(session, given, tokens.REFRESH)
                except tokens.TokenError:
                    refresh_claims = None
                if refresh_claims is not None and (
                    found is None or refresh_claims["sub"] == found["sub"]
                ):
                    tokens.revoke_family(session, refresh_claims)
                    found = found or refresh_claims
            if found is None:
                return False
            tokens.revoke_family(session, found)
            purge_expired_revocations(session)
            return True

        if not _db().run_in_transaction(work) and g.mosaic_auth_method != "api-token":
            raise Problem(401, "Authentication is required.", title="Unauthorized")
        return "", 204

    @bp.get("/me")
    @api_doc(summary="Who am I: user, companies, permissions", response=ME, tags=["auth"])
    @login_required
    def me() -> Any:
        return jsonify(user_summary(current_user()))

    @bp.post("/password")
    @api_doc(summary="Change one's password (revokes every token)", body=PASSWORD_BODY,
             response=TOKEN_PAIR, errors=(422,), tags=["auth"])  # fmt: skip
    @login_required
    def change_password() -> Any:
        """Change one's own password: every outstanding token is revoked, a new pair returned."""
        body = _json_body("current_password", "new_password")
        session = _session()
        user = current_user()
        from core.passwords import verify_password

        if not verify_password(user.password_hash, body["current_password"]):
            raise Problem(422, "The request is invalid.", title="Unprocessable Content",
                          errors={"current_password": ["Wrong password."]})  # fmt: skip
        try:
            set_password(session, user, body["new_password"])
        except WeakPasswordError as exc:
            raise Problem(422, "The request is invalid.", title="Unprocessable Content",
                          errors={"new_password": [f"The password {exc}."]}) from None  # fmt: skip
        issued = tokens.issue_tokens(user)
        session.commit()
        return jsonify(issued.as_dict())

    @bp.get("/tokens")
    @api_doc(summary="My personal API tokens", tags=["auth"], response={
        "type": "object",
        "properties": {"items": {"type": "array", "items": API_TOKEN}, "total": {"type": "integer"}},
    })  # fmt: skip
    @login_required
    def tokens_list() -> Any:
        items = [describe_token(t) for t in list_api_tokens(_session(), current_user())]
        return jsonify({"items": items, "total": len(items)})

    @bp.post("/tokens")
    @api_doc(summary="Create a personal API token (shown once)", body=TOKEN_BODY,
             response=API_TOKEN_CREATED, status=201, errors=(403, 422), tags=["auth"])  # fmt: skip
    @login_required
    def tokens_create() -> Any:
        if g.mosaic_auth_method == "api-token":
            raise Problem(
                403, "A personal API token cannot create other tokens; log in.", title="Forbidden"
            )
        body = _json_body("name")
        session = _session()
        try:
            token, plain = create_api_token(session, current_user(), body["name"])
        except IdentityError as exc:
            raise Problem(
                422, str(exc), title="Unprocessable Content", errors={"name": [str(exc)]}
            ) from None
        session.commit()
        result = describe_token(token) | {"token": plain}
        return jsonify(result), 201

    @bp.delete("/tokens/<int:token_id>")
    @api_doc(summary="Revoke a personal API token", status=204, errors=(404,), tags=["auth"])
    @login_required
    def tokens_revoke(token_id: int) -> Any:
        session = _session()
        try:
            revoke_api_token(session, current_user(), token_id)
        except IdentityError:
            raise Problem(404, "No such token.", title="Not Found") from None
        session.commit()
        return "", 204

    return bp


__all__ = ["build_api_blueprint", "establish"]
