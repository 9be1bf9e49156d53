"""Background jobs: transactional enqueue, retries, failure, concurrent workers."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from core.jobs import UnknownJobError, Worker, enqueue, job, retry
from core.models import DataRecord, Job

calls: list[dict] = []


@job("testkit.record")
def record_job(session, key: str) -> None:
    session.add(DataRecord(addon="testkit", key=key, table_name="none", record_id=0))
    session.flush()


@job("testkit.explode")
def explode_job(session, message: str) -> None:
    raise RuntimeError(message)


def records(session, key: str) -> int:
    return session.scalar(select(func.count()).select_from(DataRecord).where(DataRecord.key == key))


def test_a_job_runs_in_its_own_transaction(db, db_session):
    enqueue(db_session, "testkit.record", {"key": "job-ok"})
    db_session.commit()
    finished = Worker(db).run_one()
    assert finished is not None and finished.state == "done" and finished.attempts == 1
    assert records(db_session, "job-ok") == 1
    assert Worker(db).run_one() is None


def test_no_job_for_a_rolled_back_change(db, db_session):
    nested = db_session.begin_nested()
    enqueue(db_session, "testkit.record", {"key": "job-never"})
    nested.rollback()
    assert Worker(db).run_pending() == 0
    assert records(db_session, "job-never") == 0


def test_failures_are_retried_later_then_left_failed(db, db_session):
    row = enqueue(db_session, "testkit.explode", {"message": "boom"}, max_attempts=2)
    db_session.commit()
    first = Worker(db).run_one()
    assert (
        first.state == "queued" and first.attempts == 1 and "RuntimeError: boom" in first.last_error
    )
    assert Worker(db).run_one() is None  # not due yet: it waits for its retry delay
    db_session.execute(
        Job.__table__.update().where(Job.id == row.id).values(run_after=first.created_at)
    )
    db_session.commit()
    second = Worker(db).run_one()
    assert second.state == "failed" and second.attempts == 2
    retried = retry(db_session, row.id)
    assert retried.state == "queued" and retried.attempts == 0
    with pytest.raises(ValueError, match="only failed jobs"):
        retry(db_session, row.id)


def test_unknown_job_names_are_refused(db_session):
    with pytest.raises(UnknownJobError):
        enqueue(db_session, "testkit.nothing", {})


def test_concurrent_workers_run_every_job_exactly_once(empty_database):
    db = empty_database
    with db.unit_of_work() as session:
        for n in range(30):
            enqueue(session, "testkit.record", {"key": f"parallel-{n}"})
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            Worker(db, name=name).run_pending()
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with db.session_factory() as session:
        jobs = session.scalars(select(Job)).all()
        assert {j.state for j in jobs} == {"done"}
        assert {j.attempts for j in jobs} == {1}
        assert session.scalar(select(func.count()).select_from(DataRecord)) == 30
