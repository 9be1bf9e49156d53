"""Core hook specifications.

Addons implement these in their ``hooks.py`` with ``@hookimpl`` (from ``core.plugins``).
Two kinds of hook exist:

* *own* hooks are called only on the addon concerned (core calls that addon's implementation
  alone): ``mosaic_register_routes``, ``mosaic_load_data``, ``mosaic_load_demo``,
  ``mosaic_cli_commands``.
* *broadcast* hooks are called on every installed addon, in dependency order; each receives
  the name of the addon the event is about, so an addon can react to another's install:
  ``mosaic_post_install``, ``mosaic_pre_uninstall``, ``mosaic_post_upgrade``, ``mosaic_app_created``.

Always call hooks with keyword arguments. No core hook is ``firstresult``.
An addon that wants to publish hooks for its dependents puts specs in ``hookspecs.py``
(marked with ``core.plugins.hookspec``); they are added before any addon registers.
"""

from __future__ import annotations

from typing import Any

import pluggy

PROJECT = "mosaic"
hookspec = pluggy.HookspecMarker(PROJECT)


@hookspec
def mosaic_register_routes(api: Any, web: Any) -> None:
    """Add the addon's routes. *Own hook.*

    :param api: a Flask blueprint mounted at ``/api/v1/<prefix>``.
    :param web: a Flask blueprint mounted at ``/<prefix>`` whose template folder is the
        addon's ``templates/``.
    """


@hookspec
def mosaic_load_data(session: Any) -> None:
    """Load or update the addon's reference data. *Own hook.*

    Called on install and on every upgrade, inside the lifecycle transaction, so it must be
    idempotent: there is no upsert helper; remember each loaded row under a stable key in
    ``core.models.DataRecord`` (``core_data_record``: addon, key -> table, id) and create
    only the keys not seen yet (``addons/contacts/data.py`` shows the pattern, the addon
    guide explains it). Flush, never commit.
    """


@hookspec
def mosaic_load_demo(session: Any) -> None:
    """Create demo records (``install --with-demo``). *Own hook.* Flush, never commit."""


@hookspec
def mosaic_cli_commands() -> list[Any]:
    """Return click commands, shown as ``mosaic <addon> <command>``. *Own hook.*"""


@hookspec
def mosaic_post_install(session: Any, addon: str) -> None:
    """Addon ``addon`` was just installed (same transaction). *Broadcast.*

    Raising aborts the install and rolls everything back.
    """


@hookspec
def mosaic_pre_uninstall(session: Any, addon: str) -> None:
    """Addon ``addon`` is about to be uninstalled; clean up what you keep about it. *Broadcast.*"""


@hookspec
def mosaic_post_upgrade(session: Any, addon: str, from_version: str, to_version: str) -> None:
    """Addon ``addon`` was upgraded (same transaction). *Broadcast.*"""


@hookspec
def mosaic_app_created(app: Any) -> None:
    """The Flask app is built with every installed addon mounted. *Broadcast.*"""
