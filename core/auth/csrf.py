"""Cross-site request forgery protection for forms and cookie-authenticated requests.

A synchronizer token lives in Flask's signed session cookie. Every unsafe request (POST,
PUT, PATCH, DELETE) to a page, and every unsafe API request authenticated by the session
cookie, must send it back: as the form field ``csrf_token`` (use ``{{ csrf_field() }}`` in
every form) or as the ``X-CSRF-Token`` header (scripts read it from the
``data-csrf-token`` attribute of the user menu). Requests authenticated by an
``Authorization: Bearer`` header are exempt: a browser never adds that header on its own.
Anonymous API requests are exempt too: they carry no ambient authority to abuse.
"""

from __future__ import annotations

import hmac
import secrets

from flask import g, request, session
from markupsafe import Markup, escape

from core.problems import Problem

FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
SESSION_KEY = "_csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def csrf_token() -> str:
    """The token of this browser session (created on first use)."""
    token = session.get(SESSION_KEY)
    if not token:
        token = secrets.token_urlsafe(32)
        session[SESSION_KEY] = token
    return token


def csrf_field() -> Markup:
    """A hidden input carrying the token: put ``{{ csrf_field() }}`` in every form."""
    return Markup(f'<input type="hidden" name="{FIELD}" value="{escape(csrf_token())}">')


def rotate() -> None:
    """A new token (after login and logout), so a token seen before is worthless."""
    session.pop(SESSION_KEY, None)


def needs_check() -> bool:
    if request.method in SAFE_METHODS:
        return False
    method = g.get("mosaic_auth_method")
    if method in ("bearer", "api-token"):
        return False
    return method == "cookie" or not request.path.startswith("/api/")


def protect() -> None:
    """``before_request``: refuse an unsafe request whose token is missing or wrong."""
    if not needs_check():
        return
    sent = request.headers.get(HEADER) or request.form.get(FIELD) or ""
    expected = session.get(SESSION_KEY) or ""
    if not sent or not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise Problem(
            403,
            "The request could not be verified (missing or wrong CSRF token). "
            "Reload the page and try again.",
            title="Forbidden",
        )
