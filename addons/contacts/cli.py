"""``mosaic contacts ...``: the command-line door to the same services as the API and the pages.

Commands are returned by the ``mosaic_cli_commands`` hook and mounted by core under
``mosaic contacts``. Each runs in one unit of work: all or nothing.
"""

from __future__ import annotations

from typing import Any

import click
from sqlalchemy import select

from addons.contacts import services
from addons.contacts.models import Account, Contact
from core.models import User

KINDS = click.Choice(["contact", "account"])


def _deployment() -> Any:
    """The CLI context core put at the root of the click context (settings, db, registry)."""
    return click.get_current_context().find_root().obj


def _plugin_manager(obj: Any) -> Any:
    """Every installed addon's hooks: a merge must reach the addons that build on contacts."""
    from core.plugins import build_plugin_manager

    installed = [n for n in obj.lifecycle.installed() if n in obj.registry.addons]
    return build_plugin_manager(obj.registry, installed)


def _user_id(session: Any, email: str | None) -> int | None:
    if email is None:
        return None
    user_id = session.scalar(select(User.id).where(User.email == email.strip().lower()))
    if user_id is None:
        raise click.BadParameter(f"no user with e-mail {email}", param_hint="--user")
    return user_id


def _get(session: Any, kind: str, record_id: int) -> Account | Contact:
    record = session.get(services.MODELS[kind], record_id)
    if record is None:
        raise click.ClickException(f"no {kind} #{record_id}")
    return record


def _describe(record: Account | Contact) -> str:
    bits = [f"#{record.id} {record.name}"]
    bits += [v for v in (record.email, record.phone) if v]
    if record.archived:
        bits.append("(archived)")
    return ", ".join(bits)


@click.command("merge")
@click.argument("kind", type=KINDS)
@click.argument("source_id", type=int)
@click.argument("target_id", type=int)
@click.option("--user", "user_email", help="E-mail of the user the audit trail names.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def merge_command(
    kind: str, source_id: int, target_id: int, user_email: str | None, yes: bool
) -> None:
    """Merge SOURCE_ID into TARGET_ID (KIND is contact or account); SOURCE_ID is deleted.

    Everything that referred to the source refers to the target afterwards.
    """
    obj = _deployment()
    pm = _plugin_manager(obj)
    with obj.db.unit_of_work() as session:
        source, target = _get(session, kind, source_id), _get(session, kind, target_id)
        click.echo(f"Merge {kind} {_describe(source)}")
        click.echo(f" into {kind} {_describe(target)}")
        if not yes:
            click.confirm("The first one will be deleted. Continue?", abort=True)
        merge = services.merge_contacts if kind == "contact" else services.merge_accounts
        try:
            result = merge(session, source, target, pm=pm, user_id=_user_id(session, user_email))
        except services.ContactsError as exc:
            raise click.ClickException(str(exc)) from None
    moved = ", ".join(f"{n} {what}" for what, n in result.moved.items() if n) or "nothing else"
    click.echo(
        f"Merged {kind} #{source_id} into #{target_id}: filled {len(result.filled)} field(s), moved {moved}."
    )
    for table_name, count in result.repointed.items():
        click.echo(f"  re-pointed {count} row(s) of {table_name}")


@click.command("forget")
@click.argument("contact_id", type=int)
@click.option(
    "--user", "user_email", required=True, help="E-mail of the user carrying out the request."
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def forget_command(contact_id: int, user_email: str, yes: bool) -> None:
    """Erase the personal data of contact CONTACT_ID (the row and its references remain)."""
    obj = _deployment()
    pm = _plugin_manager(obj)
    with obj.db.unit_of_work() as session:
        contact = _get(session, "contact", contact_id)
        assert isinstance(contact, Contact)
        if contact.is_forgotten:
            click.echo(
                f"Contact #{contact_id} was already forgotten on {contact.forgotten_at:%Y-%m-%d}."
            )
            return
        click.echo(f"Forget contact {_describe(contact)}")
        if not yes:
            click.confirm("Its personal data will be erased for good. Continue?", abort=True)
        services.forget_contact(session, contact, user_id=_user_id(session, user_email), pm=pm)
    click.echo(f"Contact #{contact_id} forgotten.")


@click.command("duplicates")
@click.argument("kind", type=KINDS)
@click.option("--company", "company_id", type=int, help="Company id (default: every company).")
@click.option("--limit", default=50, show_default=True, help="Stop after this many groups.")
def duplicates_command(kind: str, company_id: int | None, limit: int) -> None:
    """List groups of existing records that look like duplicates of each other."""
    obj = _deployment()
    with obj.db.unit_of_work() as session:
        groups = services.duplicate_groups(session, kind, company_id=company_id, limit=limit)
        if not groups:
            click.echo(f"No likely duplicate {kind}s.")
            return
        for record, candidates in groups:
            click.echo(f"{kind} {_describe(record)}")
            for candidate in candidates:
                click.echo(f"    ~ {candidate.describe()}")
        click.echo(
            f"{len(groups)} group(s). Merge with: mosaic contacts merge {kind} SOURCE_ID TARGET_ID"
        )


def commands() -> list[click.Command]:
    return [merge_command, forget_command, duplicates_command]
