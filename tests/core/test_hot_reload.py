"""A running app picks up installs and uninstalls made elsewhere, without a restart."""

from __future__ import annotations

from core.app import create_app
from core.lifecycle import Lifecycle
from tests.conftest import make_settings
from tests.core.lifecycle_helpers import lifecycle_registry


def test_worker_rebuilds_its_app_when_the_registry_version_moves(empty_database, tmp_path):
    registry = lifecycle_registry()
    settings = make_settings(tmp_path, empty_database.url, hot_reload=True)
    app = create_app(settings, db=empty_database, registry=registry)
    client = app.test_client()
    assert client.get("/api/v1/shelf/version").status_code == 404

    # Another process (here: another Lifecycle on its own connections) installs shelf.
    Lifecycle(empty_database, registry).install(["shelf"])
    response = client.get("/api/v1/shelf/version")
    assert response.status_code == 200 and response.get_json() == {"version": 1}
    assert "shelf" in client.get("/healthz").get_json()["addons"]

    Lifecycle(empty_database, registry).uninstall(["shelf"])
    assert client.get("/api/v1/shelf/version").status_code == 404


def test_without_hot_reload_the_app_keeps_its_routes(empty_database, tmp_path):
    registry = lifecycle_registry()
    app = create_app(
        make_settings(tmp_path, empty_database.url), db=empty_database, registry=registry
    )
    Lifecycle(empty_database, registry).install(["shelf"])
    assert app.test_client().get("/api/v1/shelf/version").status_code == 404
