"""``mosaic import`` and ``mosaic export``: CSV in and out of any declared resource.

Both name the resource as ``<addon>.<resource>`` (``mosaic import contacts.contacts f.csv``)
and use the same validation and the same list filters as the REST API. Records are created in
one company: ``--company`` (name or id), or the only company when there is just one. Export
without ``--company`` writes the records of every company (the CLI acts as the operator).
"""

from __future__ import annotations

import contextlib
import io
import random
import sys
import time
from collections.abc import Iterator
from typing import IO, Any

import click
from sqlalchemy.exc import DBAPIError

from cli.context import CliContext
from core.db import is_transient

pass_ctx = click.make_pass_decorator(CliContext, ensure=True)
MAX_SHOWN_ERRORS = 50
#: Times an import starts again when a concurrent writer made its transaction fail.
IMPORT_ATTEMPTS = 3


def _resource(obj: CliContext, target: str) -> Any:
    from core.app import create_app
    from core.resources import find_resource

    if "." not in target:
        raise click.BadParameter(
            "name the resource as <addon>.<resource>, e.g. testkit.gadgets", param_hint="RESOURCE"
        )
    obj.lifecycle._require_initialised()
    app = create_app(obj.settings, db=obj.db, registry=obj.registry)
    try:
        return find_resource(app, target).resource
    except LookupError as exc:
        raise click.BadParameter(str(exc), param_hint="RESOURCE") from None


def _company(session: Any, ref: str | None, *, required: bool) -> Any:
    """The company named by ``ref`` (id or name), or the only one; None when not needed."""
    from sqlalchemy import select

    from core.models import Company

    if ref is None:
        companies = session.scalars(select(Company).order_by(Company.id).limit(2)).all()
        if len(companies) == 1 or not required:
            return companies[0] if len(companies) == 1 else None
        raise click.UsageError("there are several companies: choose one with --company NAME_OR_ID")
    query = (
        select(Company).where(Company.id == int(ref))
        if ref.isdigit()
        else select(Company).where(Company.name == ref)
    )
    company = session.scalar(query)
    if company is None:
        raise click.BadParameter(f"no company {ref!r}", param_hint="--company")
    return company


@contextlib.contextmanager
def _scope(company: Any) -> Iterator[None]:
    from core.tenancy import company_scope

    if company is None:
        yield
        return
    with company_scope([company.id], company.id):
        yield


@click.command("import")
@click.argument("target", metavar="ADDON.RESOURCE")
@click.argument("file", type=click.File("rb"))
@click.option("--dry-run", is_flag=True, help="Check every row and report; save nothing.")
@click.option(
    "--skip-errors",
    is_flag=True,
    help="Save the valid rows and report the others (default: all or nothing).",
)
@click.option(
    "--update",
    is_flag=True,
    help="Rows with an id update that record (an edited export: its version column must "
    "still match); rows without one are created.",
)
@click.option(
    "--company",
    "company_ref",
    metavar="NAME_OR_ID",
    help="Company the records belong to (needed when there are several).",
)
@pass_ctx
def import_command(
    obj: CliContext,
    target: str,
    file: IO[bytes],
    dry_run: bool,
    skip_errors: bool,
    update: bool,
    company_ref: str | None,
) -> None:
    """Create (or with --update, change) records of ADDON.RESOURCE from a CSV FILE.

    '-' reads standard input. The first line names the columns (the fields of the
    resource's API). Every row is validated like an API request; errors are reported with
    their line numbers.
    """
    from core.resources.csv_io import import_csv

    resource = _resource(obj, target)
    session = obj.db.session_factory()
    bar: Any = None

    def on_rows(count: int) -> None:
        nonlocal bar
        bar = click.progressbar(
            length=count, label=f"Importing {resource.plural.lower()}", file=sys.stderr
        )
        bar.__enter__()

    def on_progress(count: int) -> None:
        if bar is not None:
            bar.update(count)

    content = file.read()  # read once: a busy database makes the import start again
    try:
        company = _company(session, company_ref, required=True)
        where = f" in {company.name}" if company is not None else ""
        with _scope(company):
            for attempt in range(1, IMPORT_ATTEMPTS + 1):
                try:
                    result = import_csv(
                        session, resource, io.BytesIO(content), dry_run=dry_run,
                        skip_errors=skip_errors, update=update, on_rows=on_rows,
                        progress=on_progress,
                    )  # fmt: skip
                    break
                except DBAPIError as exc:
                    session.rollback()
                    if not is_transient(exc) or attempt == IMPORT_ATTEMPTS:
                        raise
                    click.echo(
                        "The database is busy with another writer; starting again.", err=True
                    )
                    time.sleep(random.uniform(0.1, 0.5) * attempt)
                finally:
                    if bar is not None:
                        bar.__exit__(None, None, None)
                        bar = None
            if result.failed or dry_run:
                session.rollback()
            else:
                session.commit()
    finally:
        session.close()
    for error in result.errors[:MAX_SHOWN_ERRORS]:
        click.echo(f"  {error.describe()}", err=True)
    if len(result.errors) > MAX_SHOWN_ERRORS:
        click.echo(f"  ... and {len(result.errors) - MAX_SHOWN_ERRORS} more error(s)", err=True)
    if result.ignored_columns:
        click.echo(f"Read-only columns ignored: {', '.join(result.ignored_columns)}", err=True)
    if result.failed:
        fatal = any(e.fatal for e in result.errors)
        raise click.ClickException(result.summary() + ("." if fatal else " (--skip-errors)."))
    click.echo(f"{resource.plural}: {result.summary()}{where}.")


@click.command("export")
@click.argument("target", metavar="ADDON.RESOURCE")
@click.argument("filters", nargs=-1, metavar="[FIELD[__OP]=VALUE]...")
@click.option(
    "--output",
    "-o",
    type=click.File("w", encoding="utf-8", lazy=True),
    default="-",
    help="File to write (default: standard output).",
)
@click.option(
    "--company",
    "company_ref",
    metavar="NAME_OR_ID",
    help="Only this company's records (default: every company).",
)
@pass_ctx
def export_command(
    obj: CliContext, target: str, filters: tuple[str, ...], output: IO[str], company_ref: str | None
) -> None:
    """Write the records of ADDON.RESOURCE as CSV, filtered like the API's list.

    Filters are the list's query parameters: price__gte=10 archived=true q=lamp sort=-price.
    """
    from core.resources.csv_io import export_csv
    from core.resources.query import QueryError, parse_list_params

    resource = _resource(obj, target)
    pairs = []
    for item in filters:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not FIELD=VALUE", param_hint="FILTERS")
        pairs.append((key, value))
    try:
        params = parse_list_params(resource, pairs, allow_format=False)
    except QueryError as exc:
        raise click.BadParameter(exc.message, param_hint="FILTERS") from None
    params.limit = 0
    session = obj.db.session_factory()
    try:
        company = _company(session, company_ref, required=False) if company_ref else None
        with _scope(company):
            count = export_csv(session, resource, params, output)
    finally:
        session.close()
    click.echo(f"Exported {count} {resource.plural.lower()}.", err=True)
