"""Alembic, one independent history per owner (core and each addon).

Each owner keeps its revisions in ``<owner>/migrations/versions/`` and its own version table
``<owner>_alembic_version``, so histories never fuse and an uninstall can drop the addon's
version table with its other tables. Dependencies between addons are honoured by running the
histories in the manifests' dependency order. No ``env.py`` is needed: core drives Alembic's
``EnvironmentContext`` on the connection of the lifecycle transaction, so a failing revision
rolls back together with everything else of the operation.
"""

from __future__ import annotations

import re
import tempfile
import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata, produce_migrations, render_python_code
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

import core.models  # noqa: F401  (core tables must be in the metadata)
from core.db import Base
from core.registry import Addon, addon_tables

CORE_MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


@dataclass(frozen=True)
class MigrationTarget:
    """Something with its own migration history: core, or one addon."""

    name: str
    directory: Path

    @property
    def version_table(self) -> str:
        return f"{self.name}_alembic_version"

    @property
    def versions_dir(self) -> Path:
        return self.directory / "versions"

    def tables(self) -> frozenset[str]:
        if self.name == "core":
            return frozenset(t for t in Base.metadata.tables if t.startswith("core_"))
        return addon_tables(self.name)

    @classmethod
    def core(cls) -> MigrationTarget:
        return cls("core", CORE_MIGRATIONS_DIR)

    @classmethod
    def for_addon(cls, addon: Addon) -> MigrationTarget:
        return cls(addon.name, addon.migrations_dir)


def script_directory(target: MigrationTarget) -> ScriptDirectory:
    target.versions_dir.mkdir(parents=True, exist_ok=True)
    return ScriptDirectory(str(target.directory), version_locations=[str(target.versions_dir)])


def current_heads(connection: Connection, target: MigrationTarget) -> tuple[str, ...]:
    ctx = MigrationContext.configure(connection, opts={"version_table": target.version_table})
    return tuple(ctx.get_current_heads())


def pending_revisions(connection: Connection | None, target: MigrationTarget) -> list[str]:
    """Revisions that an upgrade would run, oldest first, as ``id: message``."""
    script = script_directory(target)
    current = current_heads(connection, target) if connection is not None else ()
    revs = list(script.iterate_revisions("heads", current or "base"))
    revs.reverse()
    return [f"{r.revision}: {r.doc}" for r in revs]


def _environment(
    connection: Connection, target: MigrationTarget, fn: Callable, **opts: Any
) -> EnvironmentContext:
    config = Config()
    config.set_main_option("script_location", str(target.directory))
    env = EnvironmentContext(config, script_directory(target), fn=fn, **opts)
    return env


def upgrade(connection: Connection, target: MigrationTarget, destination: str = "heads") -> None:
    """Run ``target``'s migrations up to ``destination`` on ``connection``'s transaction."""
    script = script_directory(target)

    def step(rev: Any, _context: Any) -> Any:
        return script._upgrade_revs(destination, rev)

    with _environment(connection, target, step, destination_rev=destination) as env:
        env.configure(
            connection=connection,
            target_metadata=Base.metadata,
            version_table=target.version_table,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with env.begin_transaction():
            env.run_migrations()


def _include_for(target: MigrationTarget) -> Callable[..., bool]:
    owned = target.tables()
    prefix = target.name + "_"

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if type_ == "table":
            if name is None or name.endswith("_alembic_version"):
                return False
            if name in owned:
                return True
            # A table of ours in the database that no model declares any more.
            return reflected and name.startswith(prefix) and name not in Base.metadata.tables
        return True

    return include


def differences(connection: Connection, target: MigrationTarget) -> list[Any]:
    """What autogenerate would change for ``target``'s tables; empty when models and DB agree."""
    ctx = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "include_object": _include_for(target),
            "target_metadata": Base.metadata,
        },
    )
    return compare_metadata(ctx, Base.metadata)


TEMPLATE = '''"""{message}

Revision ID: {revision}
Revises: {down_revision}
Create Date: {created}
"""

import sqlalchemy as sa
from alembic import op

import core.db

revision = {revision!r}
down_revision = {down_revision!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
{upgrade}


def downgrade() -> None:
{downgrade}
'''


def _render_item(type_: str, obj: Any, _context: Any) -> str | bool:
    """Render boolean server defaults portably (``sa.false()``, not SQLite's ``'0'``)."""
    if type_ == "server_default" and hasattr(obj, "arg"):
        arg = obj.arg
        name = type(arg).__name__
        if name in ("False_", "True_"):
            return "sa.false()" if name == "False_" else "sa.true()"
    return False


def make_migration(
    target: MigrationTarget,
    message: str,
    prepare: Callable[[Connection], None],
) -> Path | None:
    """Autogenerate a revision for ``target``'s tables only.

    A throw-away SQLite database is brought to the current heads (``prepare`` migrates core and
    the target's dependencies first), then compared with the models. Returns the new file, or
    ``None`` when there is nothing to change.
    """
    from core.db import make_engine

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'scratch.db'}")
        try:
            with engine.begin() as conn:
                prepare(conn)
                upgrade(conn, target)
                ctx = MigrationContext.configure(
                    conn,
                    opts={
                        "compare_type": True,
                        "include_object": _include_for(target),
                        "target_metadata": Base.metadata,
                        "render_as_batch": True,
                    },
                )
                ops = produce_migrations(ctx, Base.metadata)
        finally:
            engine.dispose()
    if ops.upgrade_ops is None or ops.upgrade_ops.is_empty():
        return None
    script = script_directory(target)
    heads = script.get_heads()
    if len(heads) > 1:
        raise RuntimeError(f"{target.name} has several migration heads: {', '.join(heads)}")
    down = heads[0] if heads else None
    numbers = [
        int(m.group(1))
        for p in target.versions_dir.glob("*.py")
        if (m := re.match(r"(\d+)_", p.name))
    ]
    revision = f"{(max(numbers) if numbers else 0) + 1:04d}"
    slug = re.sub(r"[^a-z0-9]+", "_", message.lower()).strip("_")[:40] or "change"

    def render(op_container: Any) -> str:
        code = render_python_code(
            op_container, render_as_batch=True, migration_context=ctx, render_item=_render_item
        )
        lines = [ln for ln in code.splitlines() if not ln.strip().startswith("# ###")]
        return textwrap.indent(textwrap.dedent("\n".join(lines)).strip() or "pass", "    ")

    text = TEMPLATE.format(
        message=message.replace('"""', "'"),
        revision=revision,
        down_revision=down,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        upgrade=render(ops.upgrade_ops),
        downgrade=render(ops.downgrade_ops),
    )
    path = target.versions_dir / f"{revision}_{slug}.py"
    path.write_text(text)
    return path


def targets_in_order(core_first: bool, addons: Iterable[Addon]) -> list[MigrationTarget]:
    result = [MigrationTarget.core()] if core_first else []
    result.extend(MigrationTarget.for_addon(a) for a in addons)
    return result
