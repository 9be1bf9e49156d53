"""ORM bulk UPDATE/DELETE statements on business models: versioned, stamped and audited."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm.exc import StaleDataError

from core.bulk_statements import init_bulk_statements
from core.models import AuditLog, User
from core.tenancy import as_user
from tests.core.identity_world import build_world, models, settle


@pytest.fixture
def world(db_session):
    init_bulk_statements()  # as the app does (through core.audit); idempotent
    return build_world(db_session)


def _as(db_session, world, name, **kw):
    return as_user(db_session, db_session.get(User, world.users[name]), **kw)


def _entries(session, table, record_id, action):
    return session.scalars(
        select(AuditLog)
        .where(
            AuditLog.table_name == table,
            AuditLog.record_id == record_id,
            AuditLog.action == action,
        )
        .order_by(AuditLog.id)
    ).all()


def _row(session, Gadget, gadget_id):
    return session.execute(
        select(Gadget.name, Gadget.price, Gadget.version, Gadget.updated_by_id)
        .where(Gadget.id == gadget_id)
        .execution_options(mosaic_unscoped=True)
    ).one()


def test_bulk_update_bumps_version_names_the_user_and_is_audited(db_session, world):
    Gadget, _ = models()
    gadget_id = world.gadgets["a"]
    version = _row(db_session, Gadget, gadget_id).version
    with _as(db_session, world, "alice"):
        result = db_session.execute(
            update(Gadget)
            .where(Gadget.name.like("Alpha%"))
            .values(name="Alpha II", price=Gadget.price + 1)
        )
        assert result.rowcount == 1
    row = _row(db_session, Gadget, gadget_id)
    assert (row.name, row.price) == ("Alpha II", Decimal("11.00"))
    assert row.version == version + 1
    assert row.updated_by_id == world.users["alice"]
    [entry] = _entries(db_session, "testkit_gadget", gadget_id, "update")
    assert entry.user_id == world.users["alice"]
    assert entry.company_id == world.company_a
    # values computed in SQL are recorded as stored; bookkeeping columns are not recorded
    assert entry.changes == {
        "name": {"old": "Alpha gadget", "new": "Alpha II"},
        "price": {"old": "10.00", "new": "11.00"},
    }


def test_a_form_opened_before_a_bulk_update_gets_a_conflict(db_session, world):
    Gadget, _ = models()
    with _as(db_session, world, "alice"):
        stale = db_session.get(Gadget, world.gadgets["a"])
        db_session.execute(
            update(Gadget)
            .where(Gadget.id == stale.id)
            .values(notes="bulk")
            .execution_options(synchronize_session=False)
        )
        stale.name = "overwrites the bulk change?"
        with pytest.raises(StaleDataError):
            db_session.flush()


def test_bulk_update_only_touches_and_records_the_callers_companies(db_session, world):
    Gadget, _ = models()
    with _as(db_session, world, "alice"):
        result = db_session.execute(update(Gadget).values(notes="everyone"))
    assert result.rowcount == 1
    assert _entries(db_session, "testkit_gadget", world.gadgets["a"], "update")
    assert not _entries(db_session, "testkit_gadget", world.gadgets["b"], "update")
    assert _row(db_session, Gadget, world.gadgets["b"]).version == 1


def test_bulk_update_by_primary_key_is_stamped_and_audited(db_session, world):
    Gadget, _ = models()
    both = [world.company_a, world.company_b]
    with _as(db_session, world, "carol", company_ids=both):
        db_session.execute(
            update(Gadget),
            [
                {"id": world.gadgets["a"], "name": "A by key"},
                {"id": world.gadgets["b"], "name": "B by key"},
            ],
        )
    for key, name in (("a", "A by key"), ("b", "B by key")):
        row = _row(db_session, Gadget, world.gadgets[key])
        assert row.name == name
        assert row.version == 2
        assert row.updated_by_id == world.users["carol"]
        [entry] = _entries(db_session, "testkit_gadget", world.gadgets[key], "update")
        assert entry.changes["name"]["new"] == name


def test_a_bulk_update_by_primary_key_with_a_stale_version_is_refused(db_session, world):
    Gadget, _ = models()
    with _as(db_session, world, "alice"), pytest.raises(StaleDataError):
        db_session.execute(
            update(Gadget), [{"id": world.gadgets["a"], "version": 7, "name": "stale"}]
        )


def test_an_update_that_changes_nothing_records_nothing(db_session, world):
    Gadget, _ = models()
    with _as(db_session, world, "alice"):
        db_session.execute(
            update(Gadget).where(Gadget.id == world.gadgets["a"]).values(name="Alpha gadget")
        )
        db_session.execute(update(Gadget).where(Gadget.name == "no such").values(notes="x"))
    assert not _entries(db_session, "testkit_gadget", world.gadgets["a"], "update")


def test_bulk_delete_records_what_each_row_held(db_session, world):
    _Gadget, Part = models()
    both = [world.company_a, world.company_b]
    with _as(db_session, world, "carol", company_ids=both):
        result = db_session.execute(delete(Part).where(Part.label.like("%part")))
    assert result.rowcount == 2
    for key, label in (("a", "alpha part"), ("b", "beta part")):
        [entry] = _entries(db_session, "testkit_part", world.parts[key], "delete")
        assert entry.changes["label"] == {"old": label, "new": None}
        assert entry.user_id == world.users["carol"]
        assert not {"id", "version", "created_at", "updated_at"} & set(entry.changes)


def test_bulk_change_and_its_entries_roll_back_together(db_session, world):
    Gadget, _ = models()
    before = db_session.scalar(select(func.count()).select_from(AuditLog))
    with _as(db_session, world, "alice"):
        nested = db_session.begin_nested()
        db_session.execute(update(Gadget).values(notes="undone"))
        nested.rollback()
    assert db_session.scalar(select(func.count()).select_from(AuditLog)) == before
    assert _row(db_session, Gadget, world.gadgets["a"]).version == 1


def test_statements_may_opt_out_explicitly(db_session, world):
    Gadget, _ = models()
    with _as(db_session, world, "alice"):
        db_session.execute(
            update(Gadget).values(notes="migration").execution_options(mosaic_audit=False)
        )
    settle(db_session)
    assert not _entries(db_session, "testkit_gadget", world.gadgets["a"], "update")
    assert _row(db_session, Gadget, world.gadgets["a"]).version == 1


def test_models_outside_the_trail_are_left_alone(db_session, world):
    with _as(db_session, world, "carol"):
        db_session.execute(update(User).where(User.id == world.users["dave"]).values(name="David"))
    assert not db_session.scalars(
        select(AuditLog).where(AuditLog.table_name == User.__table__.name)
    ).all()
