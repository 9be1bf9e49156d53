"""Two companies, a few users and gadgets: the ground the identity, tenancy and audit tests attack.

Built inside the per-test transaction (``db_session``) and committed to its savepoint, then
the session is emptied so that requests load everything afresh, as in production.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from decimal import Decimal

from core import identity
from core.auth import tokens
from core.models import Company, User
from core.passwords import hash_password

PASSWORD = "Sturdy-Pass-2024"


def models():
    """``(Gadget, Part)`` of the testkit addon, imported under the name the registry gives it."""
    import importlib

    module = importlib.import_module("testkit.models")
    return module.Gadget, module.Part


@dataclass
class World:
    company_a: int
    company_b: int
    users: dict[str, int] = field(default_factory=dict)
    gadgets: dict[str, int] = field(default_factory=dict)
    parts: dict[str, int] = field(default_factory=dict)


@functools.cache
def _password_hash() -> str:
    # argon2 is slow on purpose; hash the shared test password once per run
    return hash_password(PASSWORD)


def build_world(session) -> World:
    a = identity.create_company(session, "Alpha Co")
    b = identity.create_company(session, "Beta Co")
    user_group = identity.find_group(session, "testkit.user")
    manager = identity.find_group(session, "testkit.manager")
    people = {
        "alice": ([a], [user_group]),
        "bob": ([b], [user_group]),
        "carol": ([a, b], [manager]),
        "dave": ([a], []),
    }
    world = World(a.id, b.id)
    for name, (companies, groups) in people.items():
        user = identity.create_user(
            session,
            f"{name}@example.com",
            None,
            name=name.title(),
            companies=companies,
            groups=groups,
        )
        user.password_hash = _password_hash()
        world.users[name] = user.id
    Gadget, Part = models()
    ga = Gadget(name="Alpha gadget", price=Decimal("10.00"), company_id=a.id)
    gb = Gadget(name="Beta gadget", price=Decimal("20.00"), company_id=b.id)
    session.add_all([ga, gb])
    session.flush()
    pa = Part(label="alpha part", gadget_id=ga.id, company_id=a.id)
    pb = Part(label="beta part", gadget_id=gb.id, company_id=b.id)
    session.add_all([pa, pb])
    session.flush()
    world.gadgets = {"a": ga.id, "b": gb.id}
    world.parts = {"a": pa.id, "b": pb.id}
    settle(session)
    return world


def settle(session) -> None:
    """Commit to the test's savepoint and forget every object (requests must load their own)."""
    session.commit()
    session.expunge_all()


def login(client, email: str, password: str = PASSWORD) -> dict:
    response = client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def bearer(token: str, company: int | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if company is not None:
        headers["X-Mosaic-Company"] = str(company)
    return headers


def headers_for(client, name: str, company: int | None = None) -> dict[str, str]:
    return bearer(login(client, f"{name}@example.com")["access_token"], company)


def mint(app, session, user_id: int) -> tokens.IssuedTokens:
    """Tokens issued directly (for tests that must not spend login attempts)."""
    with app.app_context():
        return tokens.issue_tokens(session.get(User, user_id))


def company_name(session, company_id: int) -> str:
    return session.get(Company, company_id).name
