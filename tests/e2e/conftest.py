"""Browser tests: a real Chromium (Debian's, driven by Playwright) against a live server.

The app runs in a thread (werkzeug ``make_server``) on a free port, on a database file of its
own (or a PostgreSQL database of its own) with core initialised and the chosen addons
installed: ``live_server`` has the testkit addon; ``live_server_for("crm_sales")`` starts
(once per test session and addon set) a server with other addons and gives its URL and
database. ``open_page`` opens a page in a fresh browser context on any of them. Without
``/usr/bin/chromium`` the tests are skipped, except when ``CI`` is set: there a missing
browser is a failure.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from core.app import create_app
from core.bootstrap import initialise
from core.db import Database
from core.lifecycle import Lifecycle
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, make_settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@dataclass(frozen=True)
class LiveServer:
    url: str
    db: Database


@contextlib.contextmanager
def serve(database_factory: Any, registry: Any, instance: Path, addons: tuple[str, ...]):
    """A live server on a new database with ``addons`` (and their dependencies) installed."""
    url = database_factory.new_url()
    db = Database(url)
    initialise(db, admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD)
    Lifecycle(db, registry).install(list(addons))
    app = create_app(make_settings(instance, url), db=db, registry=registry)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", db)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        db.dispose()


@pytest.fixture(scope="session")
def live_server_for(
    database_factory, registry, tmp_path_factory
) -> Iterator[Callable[..., LiveServer]]:
    """``live_server_for(*addons)``: the session's live server with those addons installed,
    started on first use and shared by every test that asks for the same set."""
    with contextlib.ExitStack() as stack:
        servers: dict[tuple[str, ...], LiveServer] = {}

        def start(*addons: str) -> LiveServer:
            key = tuple(sorted(set(addons)))
            if key not in servers:
                instance = tmp_path_factory.mktemp("e2e-" + "-".join(key))
                servers[key] = stack.enter_context(serve(database_factory, registry, instance, key))
            return servers[key]

        yield start


@pytest.fixture(scope="session")
def live_server(live_server_for) -> str:
    return live_server_for("testkit").url


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(
                f"{CHROMIUM} is missing: CI must run the browser tests (apt-get install chromium)"
            )
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@contextlib.contextmanager
def open_page(browser, base_url: str, **context_options: Any):
    """A page in a browser context of its own (closed afterwards) on ``base_url``."""
    context_options.setdefault("viewport", {"width": 1280, "height": 900})
    context = browser.new_context(base_url=base_url, **context_options)
    context.set_default_timeout(15000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def page(browser, live_server):
    with open_page(browser, live_server) as page:
        yield page


def log_in(
    page, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD, next_path: str = "/"
) -> None:
    page.goto(f"/login?next={next_path}")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**{next_path}")
