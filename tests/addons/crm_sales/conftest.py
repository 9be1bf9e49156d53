"""Fixtures of the sales tests: companies, the pipeline, a clock, hooks that are recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from addons.crm_sales import services
from core.models import Company, User
from core.plugins import build_plugin_manager, hookimpl
from tests.conftest import ADMIN_EMAIL

T0 = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def session(db_session):
    return db_session


@pytest.fixture
def company_id(session) -> int:
    return session.scalar(select(Company.id).order_by(Company.id).limit(1))


@pytest.fixture
def other_company_id(session) -> int:
    company = Company(name="Sales Other Company Ltd", currency="USD")
    session.add(company)
    session.flush()
    return company.id


@pytest.fixture
def admin_id(session) -> int:
    return session.scalar(select(User.id).where(User.email == ADMIN_EMAIL))


@pytest.fixture
def stage(session, company_id):
    """The company's stages by name: ``stage["Proposal"]``."""
    return {s.name: s for s in services.stages(session, company_id)}


class Recorder:
    """Records every sales hook call as (hook name, kwargs)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.fail_on: str | None = None

    def _record(self, name: str, **kwargs) -> None:
        self.calls.append((name, kwargs))
        if self.fail_on == name:
            raise RuntimeError(f"{name} refused by the test")

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    @hookimpl
    def crm_sales_lead_converted(self, session, lead, opportunity):
        self._record("crm_sales_lead_converted", lead=lead, opportunity=opportunity)

    @hookimpl
    def crm_sales_opportunity_won(self, session, opportunity):
        self._record("crm_sales_opportunity_won", opportunity=opportunity)

    @hookimpl
    def crm_sales_opportunity_lost(self, session, opportunity):
        self._record("crm_sales_opportunity_lost", opportunity=opportunity)

    @hookimpl
    def crm_sales_opportunity_reopened(self, session, opportunity, previous_status):
        self._record(
            "crm_sales_opportunity_reopened",
            opportunity=opportunity,
            previous_status=previous_status,
        )

    @hookimpl
    def crm_sales_opportunity_stage_changed(self, session, opportunity, from_stage, to_stage):
        self._record(
            "crm_sales_opportunity_stage_changed", from_stage=from_stage, to_stage=to_stage
        )


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def pm(registry, recorder):
    """Every installed addon's hooks (contacts' and ours) plus the recorder."""
    manager = build_plugin_manager(registry, registry.names())
    manager.register(recorder, name="sales-test-recorder")
    return manager


def hours(n: float) -> timedelta:
    return timedelta(hours=n)
