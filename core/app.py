"""The application factory.

``create_app()`` reads the settings, opens the database, discovers addons and builds a Flask
app with core's routes and every *installed* addon mounted under its prefix:
``/api/v1/<prefix>`` for its REST API and ``/<prefix>`` for its pages.

Hot reload: the CLI may install, upgrade or uninstall an addon while workers run. Every
lifecycle operation bumps ``core_registry_state.version``; ``ReloadingApp`` compares it with
the version the current app was built for (at most every ``reload_check_seconds``) and builds
a fresh app when it moved. Requests already running finish on the old app. Production:
``gunicorn "core.app:create_app()"``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pluggy
from flask import Blueprint, Flask, jsonify, render_template
from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError

from core import __version__
from core.config import Settings
from core.db import Database
from core.jobs import configure_wakeup
from core.lifecycle import Lifecycle
from core.models import AddonState, RegistryState
from core.plugins import build_plugin_manager, call_own
from core.problems import register_error_handlers
from core.registry import Addon, Registry


@dataclass
class MosaicState:
    """What a built app knows about its deployment: ``app.extensions["mosaic"]``."""

    settings: Settings
    db: Database
    registry: Registry
    pm: pluggy.PluginManager
    installed: dict[str, Addon] = field(default_factory=dict)
    registry_version: int = 0

    def prefix_of(self, name: str) -> str:
        return self.settings.prefix_overrides.get(name, self.registry.get(name).manifest.prefix)


def _read_installed(db: Database) -> tuple[list[str], int]:
    """Installed addon names and the registry version; empty when the DB is not initialised."""
    try:
        with db.engine.connect() as conn:
            version = conn.scalar(select(RegistryState.version).where(RegistryState.id == 1))
            names = list(conn.scalars(select(AddonState.name)))
            return names, version or 0
    except SQLAlchemyError:
        return [], -1


def build_app(settings: Settings, db: Database, registry: Registry) -> Flask:
    names, version = _read_installed(db)
    names = [n for n in names if n in registry.addons]
    pm = build_plugin_manager(registry, names)
    state = MosaicState(settings, db, registry, pm, registry_version=version)

    app = Flask("core", instance_path=str(settings.instance_path))
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        TESTING=settings.testing,
        JSON_SORT_KEYS=False,
    )
    app.extensions["mosaic"] = state

    @app.teardown_appcontext
    def _remove_session(_exc: BaseException | None) -> None:
        db.session.remove()

    from core.web import html_error, init_web

    register_error_handlers(app, html_error)
    init_web(app)
    from core.auth import init_auth

    init_auth(app)
    _register_core_routes(app)
    from core.resources import init_resources

    init_resources(app)

    for name in registry.order(names):
        addon = registry.get(name)
        prefix = state.prefix_of(name)
        api = Blueprint(f"{name}_api", addon.module_name, url_prefix=f"/api/v1/{prefix}")
        web = Blueprint(
            name, addon.module_name, url_prefix=f"/{prefix}",
            template_folder=str(addon.templates_dir) if addon.templates_dir.is_dir() else None,
        )  # fmt: skip
        call_own(pm, name, "mosaic_register_routes", api=api, web=web)
        app.register_blueprint(api)
        app.register_blueprint(web)
        state.installed[name] = addon

    pm.hook.mosaic_app_created(app=app)
    return app


def _register_core_routes(app: Flask) -> None:
    @app.get("/healthz")
    def healthz() -> Any:
        state: MosaicState = app.extensions["mosaic"]
        try:
            with state.db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            database = "ok"
        except SQLAlchemyError as exc:
            database = f"unreachable: {type(exc).__name__}"
        names, version = _read_installed(state.db)
        body = {
            "status": "ok" if database == "ok" and version >= 0 else "degraded",
            "version": __version__,
            "database": database if version >= 0 or database != "ok" else "not initialised",
            "addons": sorted(names),
            "registry_version": version,
        }
        return jsonify(body), 200 if body["status"] == "ok" else 503

    @app.get("/")
    def home() -> Any:
        return render_template("core/home.html")


class ReloadingApp:
    """WSGI middleware that swaps in a rebuilt app when the installed addons changed."""

    def __init__(
        self,
        outer: Flask,
        settings: Settings,
        db: Database,
        registry: Registry,
        check_seconds: float = 0.0,
    ) -> None:
        self.outer = outer
        self.original = outer.wsgi_app
        self.settings, self.db, self.registry = settings, db, registry
        self.current: Flask = outer
        self.check_seconds = check_seconds
        self._next_check = 0.0
        self._lock = threading.Lock()

    def _built_version(self) -> int:
        return self.current.extensions["mosaic"].registry_version

    def _latest_version(self) -> int:
        try:
            with self.db.engine.connect() as conn:
                return conn.scalar(select(RegistryState.version).where(RegistryState.id == 1)) or 0
        except SQLAlchemyError:
            return self._built_version()

    def __call__(self, environ: dict, start_response: Any) -> Any:
        now = time.monotonic()
        if now >= self._next_check:
            self._next_check = now + self.check_seconds
            latest = self._latest_version()
            if latest != self._built_version():
                with self._lock:
                    if latest != self._built_version():
                        self.current = build_app(self.settings, self.db, self.registry)
                        self.outer.extensions["mosaic"] = self.current.extensions["mosaic"]
        if self.current is self.outer:
            return self.original(environ, start_response)
        return self.current.wsgi_app(environ, start_response)


def create_app(
    settings: Settings | None = None,
    *,
    db: Database | None = None,
    registry: Registry | None = None,
) -> Flask:
    settings = settings or Settings.from_env()
    db = db or Database(settings.database_url)
    registry = registry or Registry.discover(settings.addons_paths)
    app = build_app(settings, db, registry)
    configure_wakeup(settings.redis_url)
    if settings.hot_reload:
        app.wsgi_app = ReloadingApp(app, settings, db, registry)  # type: ignore[method-assign]
    return app


def lifecycle_for(app: Flask) -> Lifecycle:
    state: MosaicState = app.extensions["mosaic"]
    return Lifecycle(state.db, state.registry)
