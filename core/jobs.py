"""Background jobs, stored in the database.

``enqueue`` adds a ``core_job`` row in the caller's session, so a job exists only if the change
that asked for it commits (no e-mail about an order that was rolled back). Workers claim due
jobs (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so many workers on many hosts never take the same
job; SQLite serialises writers anyway), run each in its own transaction through
``Database.run_in_transaction`` and record the outcome. A failing job is retried with a growing
delay until ``max_attempts``, then left ``failed`` with its error for a person to look at
(``mosaic jobs list --state failed``, ``mosaic jobs retry ID``).

Embedded by default: ``mosaic run`` starts one worker thread next to the web server. In a
cluster, run ``mosaic jobs work`` processes; with ``MOSAIC_REDIS_URL`` set, enqueuing also
pushes a wake-up on a Redis list so idle workers start at once instead of at their next poll.

Register job functions with ``@job("addon.name")``; they receive the session and the payload::

    @job("helpdesk.escalate")
    def escalate(session, ticket_id: int) -> None: ...
"""

from __future__ import annotations

import contextlib
import socket
import threading
import traceback
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from core.db import Database, utcnow
from core.models import Job

JobFunction = Callable[..., Any]
REDIS_WAKEUP_KEY = "mosaic:jobs:wakeup"
_registry: dict[str, JobFunction] = {}


class UnknownJobError(LookupError):
    """No function is registered under the job's name (its addon is not loaded)."""


def job(name: str) -> Callable[[JobFunction], JobFunction]:
    """Register ``fn`` as the job ``name`` (``<addon>.<what>``)."""
    if "." not in name:
        raise ValueError(f"job names are '<addon>.<what>', got {name!r}")

    def register(fn: JobFunction) -> JobFunction:
        _registry[name] = fn
        return fn

    return register


def registered_jobs() -> dict[str, JobFunction]:
    return dict(_registry)


def enqueue(
    session: Session,
    name: str,
    payload: dict[str, Any] | None = None,
    *,
    delay: timedelta | None = None,
    max_attempts: int = 3,
    company_id: int | None = None,
    user_id: int | None = None,
) -> Job:
    """Queue ``name`` with ``payload`` (JSON-serialisable) in the caller's transaction."""
    if name not in _registry:
        raise UnknownJobError(f"no job is registered as {name!r}")
    row = Job(
        addon=name.split(".", 1)[0],
        name=name,
        payload=payload or {},
        max_attempts=max_attempts,
        run_after=utcnow() + (delay or timedelta(0)),
        company_id=company_id,
        user_id=user_id,
    )
    session.add(row)
    _notify_after_commit(session)
    return row


_wakeup_url: str | None = None


def configure_wakeup(redis_url: str | None) -> None:
    """Use Redis to wake idle workers on enqueue (``MOSAIC_REDIS_URL``)."""
    global _wakeup_url
    _wakeup_url = redis_url


def _notify_after_commit(session: Session) -> None:
    if _wakeup_url is None or session.info.get("mosaic_job_notify"):
        return
    session.info["mosaic_job_notify"] = True

    @event.listens_for(session, "after_commit", once=True)
    def _push(sess: Session) -> None:
        sess.info.pop("mosaic_job_notify", None)
        try:
            import redis

            redis.Redis.from_url(_wakeup_url).lpush(REDIS_WAKEUP_KEY, "1")
        except Exception:  # the poll picks the job up anyway
            pass


def retry_delay(attempts: int) -> timedelta:
    """30 s, 2 min, 8 min, ... capped at one hour."""
    return timedelta(seconds=min(30 * 4 ** max(attempts - 1, 0), 3600))


class Worker:
    """Claims and runs due jobs."""

    def __init__(self, db: Database, name: str | None = None) -> None:
        self.db = db
        self.name = name or f"{socket.gethostname()}:{threading.get_ident()}"

    def _claim(self) -> int | None:
        """Mark the next due job as running for this worker; return its id."""

        def claim(session: Session) -> int | None:
            due = (
                select(Job.id)
                .where(Job.state == "queued", Job.run_after <= utcnow())
                .order_by(Job.run_after, Job.id)
                .limit(1)
            )
            if session.get_bind().dialect.name == "postgresql":
                # many workers on many hosts: each skips the rows another one holds
                due = due.with_for_update(skip_locked=True)
            # One statement whose first lock is the write lock: on SQLite two workers then
            # queue on busy_timeout instead of deadlocking on a read-to-write lock upgrade.
            due = due.scalar_subquery()
            claimed = session.execute(
                update(Job)
                .where(Job.id == due, Job.state == "queued")
                .values(state="running", worker=self.name, attempts=Job.attempts + 1)
                .returning(Job.id)
            )
            return claimed.scalar()

        return self.db.run_in_transaction(claim)

    def run_one(self) -> Job | None:
        """Run the next due job, if any; return it with its final state."""
        job_id = self._claim()
        if job_id is None:
            return None
        with self.db.session_factory() as session:
            row = session.get(Job, job_id)
            assert row is not None
            name, payload = row.name, dict(row.payload)
            company_id, user_id = row.company_id, row.user_id
        error: str | None = None
        try:
            fn = _registry.get(name)
            if fn is None:
                raise UnknownJobError(f"no job is registered as {name!r} (is its addon installed?)")
            with _scope_for(company_id, user_id):
                self.db.run_in_transaction(lambda session: fn(session, **payload))
        except Exception as exc:
            error = "".join(traceback.format_exception_only(type(exc), exc)).strip()

        def record(session: Session) -> Job:
            row = session.get(Job, job_id)
            assert row is not None
            if error is None:
                row.state, row.finished_at, row.last_error = "done", utcnow(), None
            elif row.attempts >= row.max_attempts:
                row.state, row.finished_at, row.last_error = "failed", utcnow(), error
            else:
                row.state, row.last_error = "queued", error
                row.run_after = utcnow() + retry_delay(row.attempts)
            return row

        return self.db.run_in_transaction(record)

    def run_pending(self, limit: int | None = None) -> int:
        """Run due jobs until none is left (or ``limit``); return how many ran."""
        count = 0
        while limit is None or count < limit:
            if self.run_one() is None:
                break
            count += 1
        return count

    def work_forever(
        self, stop: threading.Event, poll_seconds: float = 2.0, redis_url: str | None = None
    ) -> None:
        client = None
        if redis_url:
            import redis

            client = redis.Redis.from_url(redis_url)
        while not stop.is_set():
            try:
                ran = self.run_pending()
            except Exception:  # database briefly unreachable: try again later
                ran = 0
            if ran:
                continue
            if client is not None:
                client.blpop([REDIS_WAKEUP_KEY], timeout=max(int(poll_seconds), 1))
            else:
                stop.wait(poll_seconds)


def _scope_for(company_id: int | None, user_id: int | None) -> Any:
    """A job enqueued for a company runs scoped to it, like the request that asked for it."""
    if company_id is None:
        return contextlib.nullcontext()
    from core.tenancy import company_scope

    return company_scope([company_id], company_id, user_id)


def retry(session: Session, job_id: int) -> Job:
    """Put a failed job back in the queue, due now, with a fresh attempt budget."""
    row = session.get(Job, job_id, populate_existing=True, with_for_update=True)
    if row is None:
        raise LookupError(f"no job {job_id}")
    if row.state != "failed":
        raise ValueError(f"job {job_id} is {row.state}, only failed jobs can be retried")
    row.state, row.attempts, row.run_after, row.finished_at = "queued", 0, utcnow(), None
    return row


def start_embedded_worker(db: Database, redis_url: str | None = None) -> threading.Event:
    """Run a worker thread in this process (``mosaic run``); set the returned event to stop it."""
    stop = threading.Event()
    worker = Worker(db, name=f"{socket.gethostname()}:embedded")
    thread = threading.Thread(
        target=worker.work_forever, args=(stop,), kwargs={"redis_url": redis_url}, daemon=True
    )
    thread.start()
    return stop
