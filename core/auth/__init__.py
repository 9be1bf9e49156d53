"""Identity and safety for the web app: who is calling, with which rights, in which company.

``init_auth(app)`` (called by ``core.app.build_app``) wires it all:

* JWT settings and flask-jwt-extended (``core.auth.tokens``);
* the identity loader, first ``before_request`` (``core.auth.loader``), then CSRF
  (``core.auth.csrf``), and the ``after_request`` that renews cookies and adds security
  headers;
* login throttling (``core.auth.ratelimit``);
* blueprints ``auth_api`` (``/api/v1/auth/...``) and ``auth_web`` (``/login``, ``/logout``,
  ``/switch-company``);
* company scoping and the audit trail on every ORM session (``core.tenancy``, ``core.audit``);
* Jinja globals: ``csrf_token()``, ``csrf_field()``, ``current_user()``, ``has_permission(name)``,
  ``current_company()``, ``user_companies()``, ``local_time(dt)``;
* ``app.extensions["mosaic_permission_check"] = has_permission`` for the menu.

Routes are protected with ``core.access.permission_required`` / ``login_required``.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, g

from core.access import current_user, has_permission
from core.auth import csrf, tokens
from core.auth.loader import (
    ACCESS_COOKIE,
    COMPANY_HEADER,
    REFRESH_COOKIE,
    finish_response,
    load_identity,
    public_endpoint,
)
from core.problems import Problem

__all__ = [
    "ACCESS_COOKIE",
    "COMPANY_HEADER",
    "REFRESH_COOKIE",
    "init_auth",
    "public_endpoint",
]


def current_company() -> dict[str, Any] | None:
    """``{"id", "name"}`` of the current company, for templates."""
    current = g.get("mosaic_company_id")
    for cid, name in g.get("mosaic_companies", []):
        if cid == current:
            return {"id": cid, "name": name}
    return None


def local_time(value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An aware datetime in the current user's timezone (UTC for anonymous or unknown zones)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if value is None:
        return ""
    user = current_user()
    try:
        zone = ZoneInfo(getattr(user, "timezone", None) or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return value.astimezone(zone).strftime(fmt)


def user_companies() -> list[dict[str, Any]]:
    return [{"id": cid, "name": name} for cid, name in g.get("mosaic_companies", [])]


def init_auth(app: Flask) -> None:
    from core.audit import init_audit
    from core.auth.api import build_api_blueprint
    from core.auth.ratelimit import init_ratelimit
    from core.auth.web import build_web_blueprint
    from core.tenancy import (
        CompanyAccessError,
        CompanyRequiredError,
        InvisibleReferenceError,
        init_tenancy,
    )

    state = app.extensions["mosaic"]
    settings = state.settings
    init_tenancy(state.db)
    init_audit()
    app.config.update(
        SESSION_COOKIE_NAME="mosaic_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    tokens.init_tokens(app, settings)
    # identity first, so that everything after it (CSRF, limits, views) knows the caller
    app.before_request_funcs.setdefault(None, []).insert(0, load_identity)
    app.before_request(csrf.protect)
    app.after_request(finish_response)
    limiter = init_ratelimit(app, settings)
    app.register_blueprint(build_api_blueprint(limiter, settings))
    app.register_blueprint(build_web_blueprint(limiter, settings))

    app.jinja_env.globals.update(
        csrf_token=csrf.csrf_token,
        csrf_field=csrf.csrf_field,
        current_user=current_user,
        has_permission=has_permission,
        current_company=current_company,
        user_companies=user_companies,
        local_time=local_time,
    )
    app.extensions["mosaic_permission_check"] = has_permission

    def _tenancy_error(status: int, exc: Exception, errors: dict | None = None) -> Any:
        return app.handle_user_exception(Problem(status, str(exc), errors=errors))

    @app.errorhandler(CompanyAccessError)
    def _company_access(exc: CompanyAccessError) -> Any:
        return _tenancy_error(403, exc)

    @app.errorhandler(CompanyRequiredError)
    def _company_required(exc: CompanyRequiredError) -> Any:
        return _tenancy_error(422, exc, {"company_id": [str(exc)]})

    @app.errorhandler(InvisibleReferenceError)
    def _invisible(exc: InvisibleReferenceError) -> Any:
        return _tenancy_error(422, exc, {exc.field: ["No such record."]})
