"""Who is calling: resolved once per request, before any view runs.

Sources, in this order:

1. ``Authorization: Bearer <JWT access token>``;
2. ``Authorization: Bearer mos_...`` (a personal API token, found by its hash);
3. the ``mosaic_access`` cookie the web login sets (renewed from the ``mosaic_refresh``
   cookie when it has expired).

An ``Authorization`` header that is present but not valid is refused at once with 401
(except on views marked :func:`public_endpoint`, which handle credentials themselves); bad
cookies just leave the caller anonymous, so pages redirect to the login form.

The result lands on ``flask.g`` where ``core.access`` and ``core.tenancy`` read it:
``mosaic_user``, ``mosaic_user_id``, ``mosaic_permissions`` (frozenset), ``mosaic_is_admin``,
``mosaic_company_id`` (current company: new records get it), ``mosaic_company_ids`` (the
companies this request works in: what the ORM lets it see), ``mosaic_allowed_company_ids``
(every company the user may switch to), ``mosaic_companies`` (``(id, name)`` of those, for
the switcher), ``mosaic_auth_method`` (``bearer``, ``api-token``, ``cookie`` or ``None``) and
``mosaic_token_claims``.

Companies of a request: the ``X-Mosaic-Company`` header when given (one id, or several
comma-separated; each must be allowed, else 403; the first is the current one), otherwise
the user's saved current company alone (switched with ``POST /switch-company``). Like a
company switcher, this decides what the caller sees: a user of two companies works in one at
a time unless the request names both.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from flask import Response, current_app, g, request
from sqlalchemy import update
from sqlalchemy.orm import Session

from core.auth import tokens
from core.db import utcnow
from core.identity import allowed_companies, load_permissions, user_for_api_token
from core.models import ApiToken, User
from core.problems import Problem

ACCESS_COOKIE = "mosaic_access"
REFRESH_COOKIE = "mosaic_refresh"
COMPANY_HEADER = "X-Mosaic-Company"
API_TOKEN_TOUCH_EVERY = timedelta(minutes=5)

F = TypeVar("F", bound=Callable[..., Any])


def public_endpoint(view: F) -> F:
    """Mark a view that handles credentials itself (login, refresh, logout).

    An invalid ``Authorization`` header then does not stop the request before the view.
    It does not make the view public by itself: protect it or not as usual.
    """
    view.mosaic_public = True  # type: ignore[attr-defined]
    return view


def _reset_g() -> None:
    g.mosaic_user = None
    g.mosaic_user_id = None
    g.mosaic_permissions = frozenset()
    g.mosaic_is_admin = False
    g.mosaic_company_id = None
    g.mosaic_company_ids = frozenset()
    g.mosaic_allowed_company_ids = frozenset()
    g.mosaic_companies = []
    g.mosaic_auth_method = None
    g.mosaic_token_claims = None


def _session() -> Session:
    return current_app.extensions["mosaic"].db.session


def _is_public() -> bool:
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, "mosaic_public", False))


def _refuse(detail: str) -> Problem:
    return Problem(401, detail, title="Unauthorized")


def load_identity() -> None:
    """``before_request``: fill ``flask.g`` with the caller's identity."""
    _reset_g()
    if request.endpoint == "static":
        return
    session = _session()()  # the request's Session itself, not the scoped proxy
    try:
        _load(session)
    finally:
        # End the identity reads' transaction: the view starts its own, so a SQLite reader
        # never has to upgrade a stale snapshot to write, and writes done in a separate
        # unit of work (login, refresh, logout) never nest inside it.
        if session.in_transaction():
            session.commit()


def _load(session: Session) -> None:
    header = request.headers.get("Authorization")
    if header is not None:
        found = _from_authorization(session, header)
        if found is None:
            if _is_public():
                return
            raise _refuse("The credentials sent are invalid, expired or revoked.")
        user, claims, method = found
    else:
        user, claims = _from_cookies(session)
        method = "cookie"
        if user is None:
            return
    establish(session, user, claims, method)


def establish(session: Session, user: User, claims: dict[str, Any] | None, method: str) -> None:
    """Put ``user`` on ``g`` with permissions and companies (also used right after login)."""
    permissions, is_admin = load_permissions(session, user.id)
    companies = allowed_companies(session, user.id)
    allowed = frozenset(cid for cid, _ in companies)
    requested = request.headers.get(COMPANY_HEADER)
    if requested is not None:
        active = _parse_company_header(requested)
        if not set(active) <= allowed:
            raise Problem(403, "You may not work in that company.", title="Forbidden")
        current = active[0]
    else:
        current = user.company_id if user.company_id in allowed else min(allowed, default=None)
        active = (current,) if current is not None else ()
    g.mosaic_user = user
    g.mosaic_user_id = user.id
    g.mosaic_permissions = permissions
    g.mosaic_is_admin = is_admin
    g.mosaic_company_ids = frozenset(active)
    g.mosaic_allowed_company_ids = allowed
    g.mosaic_company_id = current
    g.mosaic_companies = companies
    g.mosaic_auth_method = method
    g.mosaic_token_claims = claims


def _parse_company_header(raw: str) -> tuple[int, ...]:
    parts = [p.strip() for p in raw.split(",")]
    if not parts or len(parts) > 100 or not all(p.isdigit() and len(p) <= 18 for p in parts):
        raise Problem(
            400, f"{COMPANY_HEADER} must be a company id (or several, comma-separated).",
            title="Bad Request",
        )  # fmt: skip
    return tuple(dict.fromkeys(int(p) for p in parts))


def _from_authorization(session: Session, header: str) -> tuple[User, dict | None, str] | None:
    scheme, _, credential = header.strip().partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        return None
    if credential.startswith("mos_"):
        user_id = _api_token_user_id(credential)
        user = session.get(User, user_id) if user_id is not None else None
        if user is None:
            return None
        return user, None, "api-token"
    try:
        user, claims = tokens.verify(session, credential, tokens.ACCESS)
    except tokens.TokenError as exc:
        current_app.logger.info("bearer token refused: %s", exc.reason)
        return None
    return user, claims, "bearer"


def _api_token_user_id(plain: str) -> int | None:
    """Look the token up and note when it was last used, in a short transaction of its own.

    Its own transaction, so the note is kept even when the request changes nothing; at most
    every few minutes, so a busy integration does not write on every call.
    """
    db = current_app.extensions["mosaic"].db
    with db.unit_of_work() as uow:
        found = user_for_api_token(uow, plain)
        if found is None:
            return None
        user, token = found
        now = utcnow()
        if token.last_used_at is None or now - token.last_used_at >= API_TOKEN_TOUCH_EVERY:
            uow.execute(update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now))
        return user.id


def _from_cookies(session: Session) -> tuple[User | None, dict | None]:
    access = request.cookies.get(ACCESS_COOKIE)
    refresh = request.cookies.get(REFRESH_COOKIE)
    if access:
        try:
            return tokens.verify(session, access, tokens.ACCESS)
        except tokens.TokenError:
            pass
    if refresh:
        try:
            user, claims = tokens.verify(session, refresh, tokens.REFRESH)
        except tokens.TokenError:
            pass
        else:
            # The web session renews its access token without rotating the refresh token:
            # browsers send parallel requests with the same cookies, and rotation would make
            # all but the first look like a replay. Logout still revokes the whole family.
            new_access = tokens.issue_access_token(user, str(claims["fam"]))
            g.mosaic_new_access_cookie = new_access
            return user, tokens.decode(new_access, tokens.ACCESS)
    if access or refresh:
        g.mosaic_clear_auth_cookies = True
    return None, None


def set_auth_cookies(response: Response, issued: tokens.IssuedTokens) -> None:
    secure = request.is_secure
    response.set_cookie(ACCESS_COOKIE, issued.access_token, max_age=issued.access_expires_in,
                        httponly=True, samesite="Lax", secure=secure, path="/")  # fmt: skip
    response.set_cookie(REFRESH_COOKIE, issued.refresh_token, max_age=issued.refresh_expires_in,
                        httponly=True, samesite="Lax", secure=secure, path="/")  # fmt: skip


def clear_auth_cookies(response: Response) -> None:
    for name in (ACCESS_COOKIE, REFRESH_COOKIE):
        response.delete_cookie(
            name, path="/", httponly=True, samesite="Lax", secure=request.is_secure
        )


def finish_response(response: Response) -> Response:
    """``after_request``: cookie renewals, 401 challenges, security headers."""
    new_access = g.get("mosaic_new_access_cookie")
    if new_access and not g.get("mosaic_logged_out"):
        life = int(current_app.config["JWT_ACCESS_TOKEN_EXPIRES"].total_seconds())
        response.set_cookie(ACCESS_COOKIE, new_access, max_age=life, httponly=True,
                            samesite="Lax", secure=request.is_secure, path="/")  # fmt: skip
    if g.get("mosaic_clear_auth_cookies"):
        clear_auth_cookies(response)
    if response.status_code == 401 and "WWW-Authenticate" not in response.headers:
        response.headers["WWW-Authenticate"] = 'Bearer realm="mosaic"'
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault(
        "Content-Security-Policy",
        "frame-ancestors 'none'; object-src 'none'; base-uri 'self'; form-action 'self'",
    )
    if g.get("mosaic_user_id") is not None or request.path.startswith("/api/v1/auth/"):
        headers.setdefault("Cache-Control", "no-store")
        response.vary.add("Cookie")
        response.vary.add("Authorization")
    return response
