"""pluggy wiring: only installed addons are registered, in dependency order; addons publish
hookspecs for their dependents; own hooks reach only the addon concerned."""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path

import pytest

from core.plugins import build_plugin_manager, call_own
from core.registry import Registry


def make_addons(root: Path) -> tuple[Registry, str, str, str]:
    """Three addons with unique names: base (publishes a hook), left and right (implement it)."""
    tag = uuid.uuid4().hex[:6]
    base, left, right = f"pbase{tag}", f"pleft{tag}", f"pright{tag}"
    specs = {
        base: ([], "calls = []\n", textwrap.dedent(f"""
            from core.plugins import hookspec

            @hookspec
            def {base}_something_happened(value):
                \"\"\"Published by {base} for its dependents.\"\"\"
            """)),
        left: ([base], "", None),
        right: ([left], "", None),
    }  # fmt: skip
    for name, (depends, init, hookspecs) in specs.items():
        folder = root / name
        folder.mkdir()
        (folder / "manifest.toml").write_text(
            f'name = "{name}"\nversion = "1.0.0"\nsummary = "x"\ndepends = {depends!r}\n'.replace(
                "'", '"'
            )
        )
        (folder / "__init__.py").write_text(init)
        if hookspecs:
            (folder / "hookspecs.py").write_text(hookspecs)
        impl = (
            ""
            if name == base
            else f"""
@hookimpl
def {base}_something_happened(value):
    return "{name}:" + value
"""
        )
        (folder / "hooks.py").write_text(
            f"""from core.plugins import hookimpl


@hookimpl
def mosaic_load_data(session):
    session.append("{name}")
{impl}"""
        )
    return Registry.discover([root]), base, left, right


def test_only_installed_addons_are_registered_in_dependency_order(tmp_path):
    registry, base, left, right = make_addons(tmp_path)
    pm = build_plugin_manager(registry, [right, base, left])
    assert [name for name, _ in pm.list_name_plugin()] == [base, left, right]
    pm_partial = build_plugin_manager(registry, [base])
    assert [name for name, _ in pm_partial.list_name_plugin()] == [base]


def test_addon_published_hookspecs_reach_dependents(tmp_path):
    registry, base, left, right = make_addons(tmp_path)
    pm = build_plugin_manager(registry, [base, left, right])
    results = getattr(pm.hook, f"{base}_something_happened")(value="x")
    # pluggy calls the most recently registered first
    assert results == [f"{right}:x", f"{left}:x"]


def test_own_hooks_call_only_that_addon(tmp_path):
    registry, base, left, right = make_addons(tmp_path)
    pm = build_plugin_manager(registry, [base, left, right])
    seen: list[str] = []
    call_own(pm, left, "mosaic_load_data", session=seen)
    assert seen == [left]


def test_hook_arguments_are_validated_against_the_spec(tmp_path):
    registry, base, left, _ = make_addons(tmp_path)
    (tmp_path / left / "hooks.py").write_text(
        "from core.plugins import hookimpl\n\n\n@hookimpl\ndef mosaic_load_data(session, surprise):\n    pass\n"
    )
    from pluggy import PluginValidationError

    with pytest.raises(PluginValidationError):
        build_plugin_manager(registry, [base, left])
