"""``mosaic jobs``: run workers and look after the background job queue."""

from __future__ import annotations

import signal
import threading

import click
from sqlalchemy import select

from cli.context import CliContext
from cli.errors import FriendlyGroup

pass_ctx = click.make_pass_decorator(CliContext, ensure=True)


def _load_installed_addons(obj: CliContext) -> None:
    """Import installed addons' hooks so that their ``@job`` functions are registered."""
    from core.plugins import build_plugin_manager

    installed = [n for n in obj.lifecycle.installed() if n in obj.registry.addons]
    build_plugin_manager(obj.registry, installed)


@click.group(cls=FriendlyGroup)
def jobs() -> None:
    """Background jobs: run workers, list, retry."""


@jobs.command("work")
@click.option("--once", is_flag=True, help="Run the jobs that are due now, then exit.")
@click.option("--poll", default=2.0, show_default=True, help="Seconds between polls when idle.")
@pass_ctx
def jobs_work(obj: CliContext, once: bool, poll: float) -> None:
    """Run a worker (until Ctrl+C, or once with --once)."""
    from core.jobs import Worker

    _load_installed_addons(obj)
    worker = Worker(obj.db)
    if once:
        click.echo(f"Ran {worker.run_pending()} job(s).")
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    click.echo(f"Worker {worker.name} started (Ctrl+C to stop).")
    try:
        worker.work_forever(stop, poll_seconds=poll, redis_url=obj.settings.redis_url)
    except KeyboardInterrupt:
        stop.set()


@jobs.command("list")
@click.option(
    "--state",
    type=click.Choice(["queued", "running", "done", "failed"]),
    help="Only jobs in this state.",
)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10000))
@pass_ctx
def jobs_list(obj: CliContext, state: str | None, limit: int) -> None:
    """Show recent jobs, newest first."""
    from core.models import Job

    obj.lifecycle._require_initialised()
    stmt = select(Job).order_by(Job.id.desc()).limit(limit)
    if state:
        stmt = stmt.where(Job.state == state)
    with obj.db.session_factory() as session:
        rows = session.scalars(stmt).all()
    click.echo(f"{'ID':>6} {'STATE':<8} {'TRIES':>5} {'NAME':<32} LAST ERROR")
    for row in rows:
        click.echo(
            f"{row.id:>6} {row.state:<8} {row.attempts:>5} {row.name:<32} {(row.last_error or '')[:60]}"
        )


@jobs.command("retry")
@click.argument("job_id", type=int)
@pass_ctx
def jobs_retry(obj: CliContext, job_id: int) -> None:
    """Queue a failed job again."""
    from core.jobs import retry

    try:
        with obj.db.unit_of_work() as session:
            retry(session, job_id)
    except (LookupError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Job {job_id} queued again.")
