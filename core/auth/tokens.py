"""JWT access and refresh tokens (flask-jwt-extended does the encoding and the signature).

Claims: ``sub`` (user id as text), ``type`` (``access``/``refresh``), ``jti`` (unique id),
``fam`` (the login's family: every token rotated from one login shares it), ``iat`` (with
sub-second precision, so that a password change revokes the tokens issued a moment before
it but not the ones issued a moment after), ``exp`` and ``iss``.

A token is accepted only if all of these hold: HS256 signature with Mosaic's key (``none``
and every other algorithm are refused), not expired, issuer ``mosaic``, the expected type,
the user exists and is active, it was issued after the user's ``tokens_valid_after``, and
neither its ``jti`` nor its family is in ``core_revoked_token``. Revocations live in the
database, so they hold across workers and hosts.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from flask import Flask, current_app
from flask_jwt_extended import JWTManager, create_access_token, create_refresh_token, decode_token
from flask_jwt_extended.exceptions import JWTExtendedException
from sqlalchemy.orm import Session

from core.config import Settings
from core.identity import any_revoked, family_key, revoke_jti
from core.models import User

ACCESS = "access"
REFRESH = "refresh"
ISSUER = "mosaic"
ALGORITHM = "HS256"


class TokenError(Exception):
    """A token was refused; ``reason`` is for logs, clients always get the same answer."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    access_expires_in: int
    refresh_expires_in: int
    family: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": "Bearer",
            "expires_in": self.access_expires_in,
            "refresh_expires_in": self.refresh_expires_in,
        }


def derive_signing_key(secret_key: str) -> str:
    """A key for JWTs only, derived from the instance secret (the session cookie uses another)."""
    return hmac.new(secret_key.encode(), b"mosaic-jwt-signing-key-v1", hashlib.sha256).hexdigest()


def init_tokens(app: Flask, settings: Settings) -> None:
    app.config.update(
        JWT_SECRET_KEY=derive_signing_key(settings.secret_key),
        JWT_ALGORITHM=ALGORITHM,
        JWT_DECODE_ALGORITHMS=[ALGORITHM],
        JWT_ACCESS_TOKEN_EXPIRES=timedelta(minutes=settings.access_token_minutes),
        JWT_REFRESH_TOKEN_EXPIRES=timedelta(days=settings.refresh_token_days),
        JWT_ENCODE_ISSUER=ISSUER,
        JWT_DECODE_ISSUER=ISSUER,
        JWT_TOKEN_LOCATION=["headers"],
        JWT_DECODE_LEEWAY=0,
        JWT_COOKIE_CSRF_PROTECT=False,  # core.auth.csrf protects cookie requests
    )
    JWTManager(app)


def signing_key(app: Flask | None = None) -> str:
    return (app or current_app).config["JWT_SECRET_KEY"]


def _lifetimes() -> tuple[timedelta, timedelta]:
    return current_app.config["JWT_ACCESS_TOKEN_EXPIRES"], current_app.config[
        "JWT_REFRESH_TOKEN_EXPIRES"
    ]


def _now() -> datetime:
    return datetime.now(UTC)


def issue_access_token(user: User, family: str) -> str:
    return create_access_token(
        identity=str(user.id),
        additional_claims={"fam": family, "iat": _now().timestamp()},
    )


def issue_tokens(user: User, *, family: str | None = None) -> IssuedTokens:
    """A new access + refresh pair; ``family`` continues a login (rotation), else starts one."""
    family = family or uuid.uuid4().hex
    access_life, refresh_life = _lifetimes()
    refresh = create_refresh_token(
        identity=str(user.id),
        additional_claims={"fam": family, "iat": _now().timestamp()},
    )
    return IssuedTokens(
        issue_access_token(user, family),
        refresh,
        int(access_life.total_seconds()),
        int(refresh_life.total_seconds()),
        family,
    )


def decode(encoded: str, expected_type: str) -> dict[str, Any]:
    """Check signature, algorithm, expiry, issuer and type; no database access."""
    if not encoded or len(encoded) > 4096:
        raise TokenError("missing or oversized token")
    try:
        claims = decode_token(encoded)
    except (jwt.PyJWTError, JWTExtendedException) as exc:
        raise TokenError(f"{type(exc).__name__}: {exc}") from exc
    except (ValueError, TypeError, KeyError, UnicodeError) as exc:
        raise TokenError(f"malformed token: {type(exc).__name__}") from exc
    if claims.get("type") != expected_type:
        raise TokenError(f"expected a {expected_type} token")
    for name in ("sub", "jti", "fam", "iat", "exp"):
        if claims.get(name) in (None, ""):
            raise TokenError(f"claim {name!r} missing")
    if not str(claims["sub"]).isdigit() or not isinstance(claims["iat"], int | float):
        raise TokenError("malformed claims")
    return claims


def verify(session: Session, encoded: str, expected_type: str) -> tuple[User, dict[str, Any]]:
    """The user a token speaks for, after every check in the module docstring."""
    claims = decode(encoded, expected_type)
    user = session.get(User, int(claims["sub"]))
    if user is None or not user.active:
        raise TokenError("unknown or disabled user")
    if user.tokens_valid_after is not None and claims["iat"] <= user.tokens_valid_after.timestamp():
        raise TokenError("issued before the user's tokens were revoked")
    if any_revoked(session, [str(claims["jti"]), family_key(str(claims["fam"]))]):
        raise TokenError("revoked")
    return user, claims


def expires_at(claims: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(int(claims["exp"]), UTC)


def revoke_family(session: Session, claims: dict[str, Any]) -> None:
    """Revoke every token of the login ``claims`` belongs to (logout, replayed refresh)."""
    _, refresh_life = _lifetimes()
    revoke_jti(session, family_key(str(claims["fam"])), int(claims["sub"]), _now() + refresh_life)


@dataclass(frozen=True)
class Rotation:
    """The outcome of presenting a refresh token: new tokens, or why not (for logs)."""

    issued: IssuedTokens | None
    reason: str = ""


def rotate(session: Session, encoded_refresh: str) -> Rotation:
    """Use a refresh token once: it is revoked and a new pair of the same family issued.

    A refresh token that was already used is a sign of theft (the thief or the owner is
    replaying it): the whole family is revoked, so both lose the session. Failures are
    returned, not raised, so that the caller commits that revocation.
    """
    try:
        user, claims = verify(session, encoded_refresh, REFRESH)
    except TokenError as exc:
        if exc.reason == "revoked":
            with contextlib.suppress(TokenError):
                revoke_family(session, decode(encoded_refresh, REFRESH))
        return Rotation(None, exc.reason)
    if not revoke_jti(session, str(claims["jti"]), user.id, expires_at(claims)):
        revoke_family(session, claims)
        return Rotation(None, "refresh token replayed")
    return Rotation(issue_tokens(user, family=str(claims["fam"])))
