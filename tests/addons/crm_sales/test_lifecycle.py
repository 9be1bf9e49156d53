"""Install with demo, upgrade (reloads the pipeline, idempotently) and uninstall: the demo
salespeople the addon created leave with it; the customers it created belong to contacts."""

from __future__ import annotations

from sqlalchemy import func, select, text

from addons.crm_sales.demo import DEMO_USERS
from core.lifecycle import Lifecycle
from core.models import DataRecord, User


def count(db, stmt):
    with db.session_factory() as session:
        return session.scalar(stmt)


def test_demo_users_come_and_go_with_the_addon(empty_database, registry):
    db = empty_database
    lifecycle = Lifecycle(db, registry)
    emails = [email for _key, _name, email in DEMO_USERS]
    lifecycle.install(["crm_sales"], with_demo=True)
    assert count(db, select(func.count()).select_from(User).where(User.email.in_(emails))) == 2
    with db.engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM crm_sales_opportunity")) > 10
        stages = conn.scalar(text("SELECT count(*) FROM crm_sales_stage"))
    lifecycle.upgrade(["crm_sales"])
    with db.engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM crm_sales_stage")) == stages
    lifecycle.uninstall(["crm_sales"])
    assert count(db, select(func.count()).select_from(User).where(User.email.in_(emails))) == 0
    assert (
        count(
            db, select(func.count()).select_from(DataRecord).where(DataRecord.addon == "crm_sales")
        )
        == 0
    )
    assert "contacts" in lifecycle.installed()
