"""Fixtures of the contacts tests: the default company, a second one, the admin, hooks."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.models import Company, User
from core.plugins import build_plugin_manager
from tests.conftest import ADMIN_EMAIL


@pytest.fixture
def session(db_session):
    return db_session


@pytest.fixture
def company_id(session) -> int:
    return session.scalar(select(Company.id).order_by(Company.id).limit(1))


@pytest.fixture
def other_company_id(session) -> int:
    company = Company(name="Other Company Ltd")
    session.add(company)
    session.flush()
    return company.id


@pytest.fixture
def admin_id(session) -> int:
    return session.scalar(select(User.id).where(User.email == ADMIN_EMAIL))


@pytest.fixture
def pm(registry):
    """A plugin manager with every addon's hooks (contacts' hookspecs included)."""
    return build_plugin_manager(registry, registry.names())
