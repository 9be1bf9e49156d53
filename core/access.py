"""Who is asking, and may they? The one way to protect a route.

``permission_required("contacts.contact.read")`` guards every generated and custom endpoint
and page: anonymous callers get 401 (API) or a redirect to the login page (pages); logged-in
callers without the permission get 403. Administrators hold every permission.

The identity itself (JWT bearer tokens, personal API tokens, session cookies) is resolved by
``core.auth`` before each request and stored on ``flask.g``; this module only reads it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import g, redirect, request, url_for

from core.problems import Problem

F = TypeVar("F", bound=Callable[..., Any])


def current_user() -> Any | None:
    """The authenticated ``core.models.User`` of this request, or ``None``."""
    return getattr(g, "mosaic_user", None)


def user_permissions() -> frozenset[str]:
    return getattr(g, "mosaic_permissions", frozenset())


def is_admin() -> bool:
    return bool(getattr(g, "mosaic_is_admin", False))


def has_permission(name: str) -> bool:
    return current_user() is not None and (is_admin() or name in user_permissions())


def current_company_id() -> int | None:
    return getattr(g, "mosaic_company_id", None)


def active_company_ids() -> frozenset[int]:
    """The companies this request works in (the current one, or those ``X-Mosaic-Company`` names)."""
    return getattr(g, "mosaic_company_ids", frozenset())


def allowed_company_ids() -> frozenset[int]:
    """Every company the user may switch to."""
    return getattr(g, "mosaic_allowed_company_ids", frozenset())


def _is_api_request() -> bool:
    return request.path.startswith("/api/")


def _refuse_anonymous() -> Any:
    if _is_api_request():
        raise Problem(401, "Authentication is required.", title="Unauthorized")
    return redirect(url_for("auth_web.login", next=request.full_path.rstrip("?")))


def login_required(view: F) -> F:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            return _refuse_anonymous()
        return view(*args, **kwargs)

    wrapper.mosaic_permission = None  # type: ignore[attr-defined]
    wrapper.mosaic_protected = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def permission_required(name: str) -> Callable[[F], F]:
    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if current_user() is None:
                return _refuse_anonymous()
            if not has_permission(name):
                raise Problem(403, f"You lack the permission '{name}'.", title="Forbidden")
            return view(*args, **kwargs)

        wrapper.mosaic_permission = name  # type: ignore[attr-defined]
        wrapper.mosaic_protected = True  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate
