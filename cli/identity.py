"""``mosaic users ...`` and ``mosaic companies ...``: identity administration from the shell.

The commands call ``core.identity`` (the same rules as the web and the API) in one short
transaction each. Passwords are prompted for (hidden, twice) unless given with
``--password`` or ``MOSAIC_USER_PASSWORD``, or generated with ``--generate-password`` and
then printed once. Personal API tokens are printed once, at creation; only their hash is kept.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy.orm import Session

from cli.context import CliContext
from cli.errors import FriendlyGroup
from core import identity
from core.passwords import WeakPasswordError, generate_password

pass_ctx = click.make_pass_decorator(CliContext, ensure=True)


@contextmanager
def _unit(obj: CliContext) -> Iterator[Session]:
    """One transaction; refusals become one-line errors (exit status 1)."""
    obj.lifecycle._require_initialised()
    try:
        with obj.db.unit_of_work() as session:
            yield session
    except (identity.IdentityError, WeakPasswordError) as exc:
        raise click.ClickException(str(exc)) from None


def _password(password: str | None, generate: bool, *, prompt: str) -> tuple[str, bool]:
    if password and generate:
        raise click.UsageError("give --password or --generate-password, not both")
    if generate:
        return generate_password(), True
    if password:
        return password, False
    return click.prompt(prompt, hide_input=True, confirmation_prompt=True), False


password_option = click.option(
    "--password", envvar="MOSAIC_USER_PASSWORD", default=None,
    help="The password (visible in the process list: prefer the prompt or MOSAIC_USER_PASSWORD).",
)  # fmt: skip
generate_option = click.option(
    "--generate-password", "generate", is_flag=True, help="Generate a password and print it once."
)


# --------------------------------------------------------------------------- users


@click.group(cls=FriendlyGroup)
def users() -> None:
    """Create, list, disable users; set passwords; grant groups and companies; API tokens."""


@users.command("create")
@click.argument("email")
@click.option("--name", default="", help="Display name (default: the part before @).")
@password_option
@generate_option
@click.option("--group", "groups", multiple=True, metavar="ADDON.KEY",
              help="Group to join (repeatable), e.g. contacts.user; core.admin is Administrator.")  # fmt: skip
@click.option("--company", "companies", multiple=True, metavar="NAME|ID",
              help="Allowed company (repeatable); the first is the current one. Default: the first company.")  # fmt: skip
@click.option("--admin", is_flag=True, help="Shortcut for --group core.admin.")
@pass_ctx
def users_create(obj: CliContext, email: str, name: str, password: str | None, generate: bool,
                 groups: tuple[str, ...], companies: tuple[str, ...], admin: bool) -> None:  # fmt: skip
    """Create the user EMAIL."""
    secret, generated = _password(password, generate, prompt="Password")
    with _unit(obj) as session:
        group_rows = [
            identity.find_group(session, g) for g in (*groups, *(["core.admin"] if admin else []))
        ]
        company_rows = [identity.find_company(session, c) for c in companies]
        if not company_rows:
            company_rows = identity.list_companies(session)[:1]
        user = identity.create_user(session, email, secret, name=name, companies=company_rows,
                                    groups=group_rows)  # fmt: skip
        click.echo(f"Created user {user.email} (id {user.id})")
    if generated:
        click.echo(f"Password (shown once): {secret}")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@pass_ctx
def users_list(obj: CliContext, as_json: bool) -> None:
    """Every user with state, groups and companies (never a password or hash)."""
    with _unit(obj) as session:
        rows = [
            {
                "id": u.id, "email": u.email, "name": u.name, "active": u.active,
                "locked": u.locked_until is not None,
                "groups": sorted(f"{g.addon}.{g.key}" for g in u.groups),
                "companies": [c.name for c in u.companies],
            }
            for u in identity.list_users(session)
        ]  # fmt: skip
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(f"{'ID':>4}  {'EMAIL':<32} {'ACTIVE':<7} {'GROUPS':<30} COMPANIES")
    for r in rows:
        click.echo(f"{r['id']:>4}  {r['email']:<32} {'yes' if r['active'] else 'no':<7} "
                   f"{','.join(r['groups']) or '-':<30} {', '.join(r['companies']) or '-'}")  # fmt: skip


@users.command("set-password")
@click.argument("email")
@password_option
@generate_option
@pass_ctx
def users_set_password(obj: CliContext, email: str, password: str | None, generate: bool) -> None:
    """Set EMAIL's password; every token they hold is revoked and any lock lifted."""
    secret, generated = _password(password, generate, prompt="New password")
    with _unit(obj) as session:
        identity.set_password(session, identity.get_user(session, email), secret)
    click.echo(
        f"Password of {identity.normalise_email(email)} changed; their sessions and tokens are revoked."
    )
    if generated:
        click.echo(f"Password (shown once): {secret}")


@users.command("disable")
@click.argument("email")
@pass_ctx
def users_disable(obj: CliContext, email: str) -> None:
    """Stop EMAIL from logging in; their sessions and tokens stop working at once."""
    with _unit(obj) as session:
        identity.disable_user(session, identity.get_user(session, email))
    click.echo(f"Disabled {identity.normalise_email(email)}.")


@users.command("enable")
@click.argument("email")
@pass_ctx
def users_enable(obj: CliContext, email: str) -> None:
    """Let a disabled EMAIL log in again (old tokens stay revoked)."""
    with _unit(obj) as session:
        identity.enable_user(session, identity.get_user(session, email))
    click.echo(f"Enabled {identity.normalise_email(email)}.")


@users.command("grant")
@click.argument("email")
@click.option(
    "--group", "groups", multiple=True, metavar="ADDON.KEY", help="Group to join (repeatable)."
)
@click.option(
    "--company",
    "companies",
    multiple=True,
    metavar="NAME|ID",
    help="Company to allow (repeatable).",
)
@click.option("--revoke", is_flag=True, help="Remove the groups instead of adding them.")
@pass_ctx
def users_grant(obj: CliContext, email: str, groups: tuple[str, ...], companies: tuple[str, ...],
                revoke: bool) -> None:  # fmt: skip
    """Add EMAIL to groups and allow them companies (or --revoke groups)."""
    if not groups and not companies:
        raise click.UsageError("give at least one --group or --company")
    with _unit(obj) as session:
        user = identity.get_user(session, email)
        for ref in groups:
            group = identity.find_group(session, ref)
            (identity.revoke_group if revoke else identity.grant_group)(session, user, group)
        for ref in companies:
            if revoke:
                raise click.UsageError("--revoke applies to groups only")
            identity.grant_company(session, user, identity.find_company(session, ref))
        summary = ", ".join(sorted(f"{g.addon}.{g.key}" for g in user.groups)) or "none"
        company_names = ", ".join(c.name for c in user.companies) or "none"
    click.echo(f"{user.email}: groups {summary}; companies {company_names}")


@users.group("tokens", cls=FriendlyGroup)
def tokens() -> None:
    """Personal API tokens for integrations (send as 'Authorization: Bearer mos_...')."""


@tokens.command("create")
@click.argument("email")
@click.argument("name")
@pass_ctx
def tokens_create(obj: CliContext, email: str, name: str) -> None:
    """Create an API token NAME for EMAIL and print it once."""
    with _unit(obj) as session:
        token, plain = identity.create_api_token(session, identity.get_user(session, email), name)
        token_id = token.id
    click.echo(
        f"Token {token_id} '{name}' for {identity.normalise_email(email)} (shown once, store it now):"
    )
    click.echo(plain)


@tokens.command("list")
@click.argument("email")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@pass_ctx
def tokens_list(obj: CliContext, email: str, as_json: bool) -> None:
    """EMAIL's tokens: id, name, prefix, last use, state (never the token itself)."""
    with _unit(obj) as session:
        rows = [
            identity.describe_token(t)
            for t in identity.list_api_tokens(session, identity.get_user(session, email))
        ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(f"{'ID':>4}  {'NAME':<24} {'PREFIX':<14} {'LAST USED':<26} STATE")
    for r in rows:
        click.echo(f"{r['id']:>4}  {r['name']:<24} {r['prefix'] + '…':<14} {r['last_used_at'] or 'never':<26} "
                   f"{'revoked' if r['revoked'] else 'active'}")  # fmt: skip


@tokens.command("revoke")
@click.argument("email")
@click.argument("token_id", type=int)
@pass_ctx
def tokens_revoke(obj: CliContext, email: str, token_id: int) -> None:
    """Revoke EMAIL's token TOKEN_ID; it stops working at once."""
    with _unit(obj) as session:
        identity.revoke_api_token(session, identity.get_user(session, email), token_id)
    click.echo(f"Revoked token {token_id}.")


# --------------------------------------------------------------------------- companies


@click.group(cls=FriendlyGroup)
def companies() -> None:
    """Create and list companies."""


@companies.command("create")
@click.argument("name")
@click.option(
    "--currency", default="EUR", show_default=True, help="ISO 4217 code of the company currency."
)
@click.option(
    "--grant",
    "grants",
    multiple=True,
    metavar="EMAIL",
    help="Allow this user the company (repeatable).",
)
@pass_ctx
def companies_create(obj: CliContext, name: str, currency: str, grants: tuple[str, ...]) -> None:
    """Create the company NAME."""
    with _unit(obj) as session:
        company = identity.create_company(session, name, currency=currency)
        for email in grants:
            identity.grant_company(session, identity.get_user(session, email), company)
        click.echo(f"Created company {company.name} (id {company.id}, {company.currency})")


@companies.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@pass_ctx
def companies_list(obj: CliContext, as_json: bool) -> None:
    """Every company with its id, currency and state."""
    with _unit(obj) as session:
        rows = [{"id": c.id, "name": c.name, "currency": c.currency, "active": c.active}
                for c in identity.list_companies(session)]  # fmt: skip
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(f"{'ID':>4}  {'NAME':<32} {'CURRENCY':<9} ACTIVE")
    for r in rows:
        click.echo(
            f"{r['id']:>4}  {r['name']:<32} {r['currency']:<9} {'yes' if r['active'] else 'no'}"
        )
