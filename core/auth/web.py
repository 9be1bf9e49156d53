"""Web login, logout and company switch (blueprint ``auth_web``).

The web UI uses the same JWTs as the API, kept in HttpOnly, SameSite=Lax cookies; forms are
CSRF-protected by ``core.auth.csrf`` before these views run.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import (
    session as flask_session,
)
from flask_limiter import Limiter

from core.access import current_user, login_required
from core.auth import csrf, tokens
from core.auth.api import login_tokens
from core.auth.loader import clear_auth_cookies, set_auth_cookies
from core.auth.ratelimit import login_limit, mark_login_failed
from core.config import Settings
from core.identity import IdentityError, LoginPolicy, switch_company

LOGIN_FAILED = "Invalid e-mail or password (or the account is temporarily locked)."


def _session():
    return current_app.extensions["mosaic"].db.session


def safe_next(target: str | None, default: str = "/") -> str:
    """Only local paths: never redirect a user who just logged in to another site."""
    if not target:
        return default
    target = target.strip()
    parts = urlsplit(target)
    if (
        parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//")
        or "\\" in target or any(ord(c) < 32 for c in target)
    ):  # fmt: skip
        return default
    return target


def build_web_blueprint(limiter: Limiter, settings: Settings) -> Blueprint:
    bp = Blueprint("auth_web", __name__)
    policy = LoginPolicy(settings.login_max_failures, settings.login_lock_minutes)

    @bp.route("/login", methods=["GET", "POST"])
    @login_limit(limiter, settings)
    def login() -> Any:
        next_url = safe_next(request.values.get("next"))
        if request.method == "GET":
            if current_user() is not None:
                return redirect(next_url)
            return render_template("core/login.html", next=next_url, email="")
        email = request.form.get("email", "")[:254]
        password = request.form.get("password", "")[:1024]
        issued = login_tokens(email, password, policy)
        if issued is None:
            mark_login_failed()
            flash(LOGIN_FAILED, "error")
            return render_template("core/login.html", next=next_url, email=email), 200
        flask_session.clear()  # new CSRF token and nothing left from before the login
        response = make_response(redirect(next_url))
        set_auth_cookies(response, issued)
        return response

    @bp.route("/logout", methods=["GET", "POST"])
    def logout() -> Any:
        if request.method == "GET":
            if current_user() is None:
                return redirect(url_for("auth_web.login"))
            return render_template("core/logout.html")
        claims = g.get("mosaic_token_claims")
        if claims is not None:
            db = current_app.extensions["mosaic"].db
            db.run_in_transaction(lambda session: tokens.revoke_family(session, claims))
        g.mosaic_logged_out = True
        flask_session.clear()
        csrf.rotate()
        response = make_response(redirect(url_for("auth_web.login")))
        clear_auth_cookies(response)
        return response

    @bp.post("/switch-company")
    @login_required
    def switch() -> Any:
        raw = request.form.get("company_id", "")
        next_url = safe_next(request.form.get("next"), default=url_for("home"))
        if not raw.isdigit():
            flash("Choose a company.", "error")
            return redirect(next_url)
        session = _session()
        try:
            switch_company(session, current_user(), int(raw))
        except IdentityError as exc:
            flash(str(exc), "error")
            return redirect(next_url)
        session.commit()
        return redirect(next_url)

    return bp
