"""Login throttling per client address (flask-limiter).

Storage is in memory by default (one process) and Redis when ``MOSAIC_REDIS_URL`` is set,
so that every worker and host shares the counts. Only *failed* logins count, so a whole
office behind one address is not locked out by its own successful logins. The account
lockout in ``core.identity.authenticate`` protects each account against slow, distributed
guessing; this limit protects the server against one fast guesser.

Behind a reverse proxy, wrap the app in ``werkzeug.middleware.proxy_fix.ProxyFix`` so that
the client address is the real one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, g
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from core.config import Settings

EXTENSION = "mosaic_limiter"


def init_ratelimit(app: Flask, settings: Settings) -> Limiter:
    limiter = Limiter(
        get_remote_address,
        app=app,
        storage_uri=settings.redis_url or "memory://",
        strategy="fixed-window",
        headers_enabled=True,
        key_prefix="mosaic",
        swallow_errors=True,
        in_memory_fallback_enabled=True,
    )
    app.extensions[EXTENSION] = limiter
    return limiter


def mark_login_failed() -> None:
    g.mosaic_login_failed = True


def login_limit(limiter: Limiter, settings: Settings) -> Callable[[Any], Any]:
    """Decorator for login views: ``settings.login_rate_limit`` failed attempts per address."""
    return limiter.limit(
        settings.login_rate_limit,
        methods=["POST"],
        deduct_when=lambda _response: bool(g.get("mosaic_login_failed")),
        error_message="Too many failed logins from your address; wait a while and try again.",
    )


def reset(app: Flask) -> None:
    """Forget every count (tests; an operator after a false alarm)."""
    limiter = app.extensions.get(EXTENSION)
    if limiter is not None:
        limiter.reset()
