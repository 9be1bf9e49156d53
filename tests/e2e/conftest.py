"""Browser tests: a real Chromium (Debian's, driven by Playwright) against a live server.

The app runs in a thread (werkzeug ``make_server``) on a free port, on a database file of its
own (or a PostgreSQL database of its own) with core initialised and the testkit addon
installed. Without ``/usr/bin/chromium`` the tests are skipped, except when ``CI`` is set:
there a missing browser is a failure.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

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


@pytest.fixture(scope="session")
def live_server(database_factory, registry, tmp_path_factory) -> Iterator[str]:
    url = database_factory.new_url()
    settings = make_settings(tmp_path_factory.mktemp("e2e-instance"), url)
    db = Database(url)
    initialise(db, admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD)
    Lifecycle(db, registry).install(["testkit"])
    app = create_app(settings, db=db, registry=registry)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        db.dispose()


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


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def log_in(
    page, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD, next_path: str = "/"
) -> None:
    page.goto(f"/login?next={next_path}")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**{next_path}")
