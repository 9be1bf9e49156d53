"""Helpers shared by the resource tests: logging in, making gadgets, counting SQL statements."""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from sqlalchemy import event

from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

API = "/api/v1/testkit/gadgets/"
WEB = "/testkit/gadgets/"


def models() -> tuple[Any, Any]:
    """``(Gadget, Part)`` of the testkit addon, as the registry imported it."""
    module = importlib.import_module("testkit.models")
    return module.Gadget, module.Part


def login(client, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> dict[str, str]:
    """Bearer headers of a real login through the API."""
    response = client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}


def web_login(client, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> None:
    """Log the test client in through the login form (session cookies, CSRF token)."""
    page = client.get("/login")
    token = csrf_from(page.get_data(as_text=True))
    response = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token}
    )
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]


def csrf_from(html: str) -> str:
    marker = 'name="csrf_token" value="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def make_gadgets(
    client, headers: dict[str, str], count: int, parts: int = 2, **extra: Any
) -> list[dict]:
    created = []
    for i in range(count):
        body = {
            "name": f"Gadget {i:03d}",
            "price": str(Decimal(10 + i)),
            "parts": [{"label": f"part {i}.{j}"} for j in range(parts)],
            **extra,
        }
        response = client.post(API, json=body, headers=headers)
        assert response.status_code == 201, response.get_json()
        created.append(response.get_json())
    return created


@contextlib.contextmanager
def count_statements(engine) -> Iterator[list[str]]:
    """Every SQL statement sent to ``engine`` inside the block (savepoint bookkeeping left out)."""
    statements: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)
