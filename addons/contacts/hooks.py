"""Implementations of core hooks for the contacts addon.

Each hook stays a one-liner that delegates to the module owning the work, so this file
reads as the list of what the addon plugs into.
"""

from __future__ import annotations

from typing import Any

from core.plugins import hookimpl


@hookimpl
def mosaic_register_routes(api: Any, web: Any) -> None:
    from addons.contacts import api as rest
    from addons.contacts import views

    rest.register(api, web)
    views.register(web)


@hookimpl
def mosaic_load_data(session: Any) -> None:
    from addons.contacts.data import load_data

    load_data(session)


@hookimpl
def mosaic_load_demo(session: Any) -> None:
    from addons.contacts.demo import load_demo

    load_demo(session)


@hookimpl
def mosaic_cli_commands() -> list[Any]:
    from addons.contacts.cli import commands

    return commands()
