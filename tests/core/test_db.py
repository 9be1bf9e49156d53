"""The database layer: pragmas, timezone-aware timestamps, naming, the retrying unit of work."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.exc import StatementError

from core.db import Base
from core.models import AuditLog
from tests.conftest import PG_URL


def test_sqlite_pragmas_are_set(db):
    if not db.is_sqlite:
        pytest.skip("SQLite only")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10000


def test_timestamps_come_back_timezone_aware_utc(db_session):
    local = datetime(2026, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    row = AuditLog(table_name="x", record_id=1, action="create", changes={}, at=local)
    db_session.add(row)
    db_session.flush()
    db_session.expire_all()
    loaded = db_session.get(AuditLog, row.id)
    assert loaded.at == local
    assert loaded.at.tzinfo is not None and loaded.at.utcoffset() == timedelta(0)


def test_naive_timestamps_are_refused(db_session):
    db_session.add(
        AuditLog(table_name="x", record_id=1, action="create", changes={}, at=datetime(2026, 1, 1))
    )
    with pytest.raises(StatementError, match="naive datetime"):
        db_session.flush()


def test_constraint_names_follow_the_convention():
    table = Base.metadata.tables["core_user"]
    assert table.primary_key.name == "pk_core_user"
    assert {c.name for c in table.foreign_key_constraints} == {
        "fk_core_user_company_id_core_company"
    }


@pytest.mark.skipif(not PG_URL, reason="serialization failures are a PostgreSQL behaviour")
def test_unit_of_work_retries_a_serialization_failure(db):
    with db.engine.begin() as conn:
        conn.execute(
            text("CREATE TABLE IF NOT EXISTS core_test_counter (id int primary key, n int)")
        )
        conn.execute(text("DELETE FROM core_test_counter"))
        conn.execute(text("INSERT INTO core_test_counter VALUES (1, 0)"))
    attempts = []

    def work(session):
        attempts.append(1)
        session.connection(execution_options={"isolation_level": "SERIALIZABLE"})
        current = session.execute(text("SELECT n FROM core_test_counter WHERE id = 1")).scalar()
        if len(attempts) == 1:  # a concurrent writer commits in between, on its own connection
            with db.engine.begin() as other:
                other.execute(text("UPDATE core_test_counter SET n = n + 10 WHERE id = 1"))
        session.execute(
            text("UPDATE core_test_counter SET n = :n WHERE id = 1"), {"n": current + 1}
        )
        return current + 1

    try:
        assert db.run_in_transaction(work) == 11
        assert len(attempts) == 2
    finally:
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE core_test_counter"))


def test_utc_default_is_now(db_session):
    row = AuditLog(table_name="x", record_id=1, action="create", changes={})
    db_session.add(row)
    db_session.flush()
    assert abs(row.at - datetime.now(UTC)) < timedelta(minutes=5)
