"""One-line errors for the CLI: known failures never show a traceback."""

from __future__ import annotations

import os
import sys
from typing import Any

import click
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, SQLAlchemyError

from core.config import ConfigError
from core.db import is_transient
from core.lifecycle import LifecycleError
from core.manifest import ManifestError
from core.passwords import WeakPasswordError
from core.registry import RegistryError

KNOWN = (LifecycleError, RegistryError, ManifestError, ConfigError, WeakPasswordError)


def explain(exc: BaseException) -> str:
    if isinstance(exc, KNOWN):
        return str(exc)
    if isinstance(exc, ArgumentError):
        return (f"MOSAIC_DATABASE_URL is not a database URL ({exc}); use e.g. "
                "sqlite:///instance/mosaic.db or postgresql+psycopg://user@host/dbname")  # fmt: skip
    if isinstance(exc, DBAPIError) and is_transient(exc):
        return "the database is busy with another writer; run the command again in a moment."
    if isinstance(exc, OperationalError):
        first = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        return f"cannot reach the database: {first}. Check MOSAIC_DATABASE_URL and that the server runs."
    if isinstance(exc, SQLAlchemyError):
        return f"database error: {type(exc).__name__}: {str(exc).splitlines()[0]}"
    if isinstance(exc, ModuleNotFoundError) and "psycopg" in str(exc):
        return "PostgreSQL support needs psycopg: pip install 'psycopg[binary]'"
    return f"unexpected {type(exc).__name__}: {exc} (set MOSAIC_DEBUG=1 for the traceback)"


class FriendlyGroup(click.Group):
    """A click group that turns exceptions into a one-line error and exit status 1."""

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError:
            raise
        except Exception as exc:
            if os.environ.get("MOSAIC_DEBUG"):
                raise
            click.secho(f"Error: {explain(exc)}", err=True, fg="red")
            sys.exit(1)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except Exception as exc:
            if os.environ.get("MOSAIC_DEBUG"):
                raise
            click.secho(f"Error: {explain(exc)}", err=True, fg="red")
            sys.exit(1)
