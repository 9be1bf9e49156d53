"""The single pluggy ``PluginManager`` and the helpers that call hooks."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pluggy

from core import hookspecs
from core.registry import Registry, load_addon

hookimpl = pluggy.HookimplMarker(hookspecs.PROJECT)
hookspec = hookspecs.hookspec


def build_plugin_manager(registry: Registry, installed: Iterable[str]) -> pluggy.PluginManager:
    """Register the given addons' ``hooks`` modules, dependencies first.

    Hookspecs published by addons (their ``hookspecs.py``) are added before any plugin is
    registered, so that implementations are validated against them.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    order = registry.order(installed)
    for name in order:
        addon = registry.get(name)
        load_addon(addon)
        specs = addon.submodule("hookspecs")
        if specs is not None:
            pm.add_hookspecs(specs)
    for name in order:
        hooks = registry.get(name).submodule("hooks")
        if hooks is not None:
            pm.register(hooks, name=name)
    return pm


def call_own(pm: pluggy.PluginManager, addon: str, hook: str, **kwargs: Any) -> list[Any]:
    """Call ``hook`` on ``addon``'s implementation only (an *own* hook)."""
    plugin = pm.get_plugin(addon)
    if plugin is None:
        return []
    others = [p for name, p in pm.list_name_plugin() if name != addon]
    caller = pm.subset_hook_caller(hook, remove_plugins=others)
    return caller(**kwargs)
