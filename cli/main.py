"""The ``mosaic`` command."""

from __future__ import annotations

import code
import json

import click

from cli.context import CliContext
from cli.errors import FriendlyGroup
from core import __version__
from core.lifecycle import LifecycleError

pass_ctx = click.make_pass_decorator(CliContext, ensure=True)


class MosaicGroup(FriendlyGroup):
    """The top-level group; ``mosaic <addon> ...`` reaches the CLI commands an addon provides."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        obj = ctx.ensure_object(CliContext)
        if cmd_name not in obj.registry.addons:
            return None
        return addon_command_group(obj, cmd_name)

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_paragraph()
        formatter.write_text("Installed addons may add commands: mosaic <addon> --help.")


def addon_command_group(obj: CliContext, name: str) -> click.Group:
    """A click group holding the commands addon ``name`` returns from ``mosaic_cli_commands``."""
    from core.plugins import build_plugin_manager, call_own

    installed = obj.lifecycle.installed()
    if name not in installed:
        raise LifecycleError(f"addon '{name}' is not installed; run 'mosaic addons install {name}'")
    pm = build_plugin_manager(obj.registry, obj.registry.closure([name]))
    group = FriendlyGroup(name=name, help=f"Commands of the {name} addon.")
    for commands in call_own(pm, name, "mosaic_cli_commands"):
        for command in commands or []:
            group.add_command(command)
    return group


@click.group(cls=MosaicGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="mosaic")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Mosaic: a plugin ERP/CRM framework.

    Configuration comes from MOSAIC_* environment variables (see the README); by default the
    data lives in a SQLite file under ./instance.
    """
    ctx.ensure_object(CliContext)
    ctx.call_on_close(ctx.obj.close)


# ---------------------------------------------------------------------------- init / run


@main.command()
@click.option(
    "--admin-email",
    default="admin@example.com",
    show_default=True,
    help="E-mail of the first admin.",
)
@click.option(
    "--admin-password",
    default=None,
    help="Password of the first admin (generated and printed once if omitted).",
)
@click.option(
    "--company",
    "company_name",
    default="My Company",
    show_default=True,
    help="Name of the default company.",
)
@pass_ctx
def init(obj: CliContext, admin_email: str, admin_password: str | None, company_name: str) -> None:
    """Create the database, core tables, the default company and an admin user."""
    from core.bootstrap import initialise

    result = initialise(
        obj.db, admin_email=admin_email, admin_password=admin_password, company_name=company_name
    )
    if not result.created:
        click.echo("Database already initialised; core tables are up to date.")
        return
    click.echo(f"Initialised {obj.db.engine.url.render_as_string(hide_password=True)}")
    click.echo(f"Admin login: {result.admin_email}")
    if result.generated_password:
        click.echo(f"Admin password (shown once): {result.generated_password}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--debug", is_flag=True, help="Flask debug mode (never in production).")
@pass_ctx
def run(obj: CliContext, host: str, port: int, debug: bool) -> None:
    """Serve Mosaic with the development server (use gunicorn in production)."""
    _serve(obj, host, port, debug)


def _serve(obj: CliContext, host: str, port: int, debug: bool = False) -> None:
    from core.app import create_app
    from core.jobs import configure_wakeup, start_embedded_worker

    obj.lifecycle._require_initialised()
    app = create_app(obj.settings, db=obj.db, registry=obj.registry)
    configure_wakeup(obj.settings.redis_url)
    stop_worker = start_embedded_worker(obj.db, obj.settings.redis_url)
    click.echo(f"Mosaic {__version__} on http://{host}:{port}/  (Ctrl+C to stop)")
    try:
        app.run(host=host, port=port, debug=debug, use_reloader=False)
    finally:
        stop_worker.set()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--no-run", is_flag=True, help="Prepare everything but do not start the server.")
@pass_ctx
def quickstart(obj: CliContext, host: str, port: int, no_run: bool) -> None:
    """Initialise, install every addon with demo data, print the admin login, and serve."""
    from core.bootstrap import initialise

    result = initialise(obj.db)
    missing = [s.name for s in obj.lifecycle.status() if s.state == "not installed"]
    if missing:
        obj.lifecycle.install(missing, with_demo=True, progress=lambda m: click.echo(f"  {m}"))
    upgradable = [s.name for s in obj.lifecycle.status() if s.state == "upgradable"]
    if upgradable:
        obj.lifecycle.upgrade(upgradable, progress=lambda m: click.echo(f"  {m}"))
    click.echo("")
    click.echo(f"  URL:      http://{host}:{port}/")
    click.echo(f"  Login:    {result.admin_email}")
    if result.generated_password:
        click.echo(
            f"  Password: {result.generated_password}   (shown once; change it with 'mosaic users set-password')"
        )
    else:
        click.echo("  Password: the one printed when this instance was first initialised")
    click.echo("")
    if not no_run:
        _serve(obj, host, port)


@main.command()
@pass_ctx
def shell(obj: CliContext) -> None:
    """A Python shell with the app, the database session and the models at hand."""
    from core import models
    from core.app import create_app

    app = create_app(obj.settings, db=obj.db, registry=obj.registry)
    with app.app_context():
        banner = "Mosaic shell: app, db, session, models are defined."
        code.interact(
            banner=banner,
            local={"app": app, "db": obj.db, "session": obj.db.session, "models": models},
        )


# ---------------------------------------------------------------------------- addons


@main.group(cls=FriendlyGroup)
def addons() -> None:
    """List, install, upgrade and uninstall addons."""


@addons.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
@pass_ctx
def addons_list(obj: CliContext, as_json: bool) -> None:
    """Show every available addon with its versions and state."""
    rows = obj.lifecycle.status()
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in rows], indent=2))
        return
    header = f"{'NAME':<14} {'VERSION':<9} {'INSTALLED':<10} {'STATE':<14} {'DEPENDS':<22} SUMMARY"
    click.echo(header)
    for r in rows:
        click.echo(
            f"{r.name:<14} {r.version or '-':<9} {r.installed_version or '-':<10} {r.state:<14} "
            f"{','.join(r.depends) or '-':<22} {r.summary}"
        )


def _print_plan(title: str, steps) -> None:
    if not steps:
        click.echo("Nothing to do.")
        return
    click.echo(title)
    for i, step in enumerate(steps, 1):
        start = f"{step.from_version} -> " if step.from_version else ""
        click.echo(f"  {i}. {step.addon} {start}{step.version}")
        for rev in step.migrations:
            click.echo(f"       migration {rev}")
        if not step.migrations:
            click.echo("       no migrations")


@addons.command("install")
@click.argument("names", nargs=-1, required=True)
@click.option("--with-demo", is_flag=True, help="Also load demo records.")
@click.option(
    "--dry-run", is_flag=True, help="Print the plan (addons, order, migrations) and change nothing."
)
@pass_ctx
def addons_install(obj: CliContext, names: tuple[str, ...], with_demo: bool, dry_run: bool) -> None:
    """Install NAMES and the addons they depend on, in dependency order."""
    if dry_run:
        _print_plan("Would install, in this order:", obj.lifecycle.plan_install(names))
        return
    steps = obj.lifecycle.install(
        names, with_demo=with_demo, progress=lambda m: click.echo(f"  {m} ...")
    )
    click.echo(f"Installed: {', '.join(s.addon for s in steps)}")


@addons.command("upgrade")
@click.argument("names", nargs=-1)
@click.option(
    "--all", "all_", is_flag=True, help="Upgrade every installed addon whose code is newer."
)
@click.option("--dry-run", is_flag=True, help="Print the plan and change nothing.")
@pass_ctx
def addons_upgrade(obj: CliContext, names: tuple[str, ...], all_: bool, dry_run: bool) -> None:
    """Run new migrations, reload data and record the new version of NAMES (or --all)."""
    if bool(names) == all_:
        raise click.UsageError("give addon names or --all (not both)")
    target = None if all_ else list(names)
    if dry_run:
        _print_plan("Would upgrade, in this order:", obj.lifecycle.plan_upgrade(target))
        return
    steps = obj.lifecycle.upgrade(target, progress=lambda m: click.echo(f"  {m} ..."))
    click.echo(
        f"Upgraded: {', '.join(s.addon for s in steps)}" if steps else "Everything is up to date."
    )


@addons.command("uninstall")
@click.argument("names", nargs=-1, required=True)
@click.option(
    "--cascade", is_flag=True, help="Also uninstall the installed addons that depend on NAMES."
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--dry-run", is_flag=True, help="Show what would be removed and change nothing.")
@pass_ctx
def addons_uninstall(
    obj: CliContext, names: tuple[str, ...], cascade: bool, yes: bool, dry_run: bool
) -> None:
    """Remove NAMES: drop their tables and every row core keeps for them."""
    plan = obj.lifecycle.plan_uninstall(names, cascade=cascade)
    click.echo(f"Addons to uninstall, in this order: {', '.join(plan.addons)}")
    click.echo("Tables to drop (rows):")
    for table, count in plan.tables:
        click.echo(f"  {table:<40} {count}")
    if dry_run:
        return
    if not yes:
        click.confirm("This deletes the data above for good. Continue?", abort=True)
    obj.lifecycle.uninstall(names, cascade=cascade, progress=lambda m: click.echo(f"  {m} ..."))
    click.echo(f"Uninstalled: {', '.join(plan.addons)}")


@addons.command("makemigration")
@click.argument("name")
@click.option("-m", "--message", required=True, help="What the migration changes.")
@pass_ctx
def addons_makemigration(obj: CliContext, name: str, message: str) -> None:
    """Autogenerate a migration for NAME's tables only (use 'core' for core's)."""
    from core.migrations import MigrationTarget, make_migration, upgrade
    from core.registry import load_addon

    if name == "core":
        target, deps = MigrationTarget.core(), []
    else:
        addon = obj.registry.get(name)
        deps = [obj.registry.get(n) for n in obj.registry.closure([name]) if n != name]
        for a in [*deps, addon]:
            load_addon(a)
        target = MigrationTarget.for_addon(addon)

    def prepare(conn) -> None:
        if target.name != "core":
            upgrade(conn, MigrationTarget.core())
        for dep in deps:
            upgrade(conn, MigrationTarget.for_addon(dep))

    path = make_migration(target, message, prepare)
    if path is None:
        click.echo(f"No changes in {name}'s models; no migration written.")
    else:
        click.echo(f"Wrote {path}")


@addons.command("check")
@pass_ctx
def addons_check(obj: CliContext) -> None:
    """Compare the database with the models of core and every installed addon."""
    from core.migrations import MigrationTarget, differences
    from core.registry import load_addon

    installed = obj.lifecycle.installed()
    order = obj.registry.order([n for n in installed if n in obj.registry.addons])
    targets = [MigrationTarget.core()]
    for name in order:
        load_addon(obj.registry.get(name))
        targets.append(MigrationTarget.for_addon(obj.registry.get(name)))
    bad = False
    with obj.db.engine.connect() as conn:
        for target in targets:
            diff = differences(conn, target)
            click.echo(f"{target.name}: {'in sync' if not diff else f'{len(diff)} difference(s)'}")
            for d in diff:
                click.echo(f"    {d}")
            bad = bad or bool(diff)
    if bad:
        raise LifecycleError(
            "models and database differ; write a migration with 'mosaic addons makemigration'"
        )


def _register_command_groups() -> None:
    """Command groups that live in their own modules (one job each)."""
    from cli.jobs import jobs

    main.add_command(jobs)


_register_command_groups()

from cli.identity import companies, users  # noqa: E402 - the identity groups join the main group

main.add_command(users)
main.add_command(companies)


from cli.data import export_command, import_command  # noqa: E402  (registers after main exists)

main.add_command(import_command)
main.add_command(export_command)


if __name__ == "__main__":  # pragma: no cover
    main()
