"""Manifests are validated before any code is imported; the registry resolves dependencies."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from core.manifest import ManifestError, parse_manifest
from core.registry import Registry, RegistryError

GOOD = """
name = "demo"
version = "1.2.0"
summary = "A demo addon"
depends = []
prefix = "demo"

[permissions]
thing = ["read", "create"]

[groups.user]
label = "Demo / User"
permissions = ["thing.*"]

[[menus]]
label = "Things"
path = "/demo/things/"
permission = "thing.read"
"""


def write_addon(root: Path, name: str, manifest: str, *, code: str = "") -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "manifest.toml").write_text(textwrap.dedent(manifest))
    (folder / "__init__.py").write_text(code)
    return folder


def test_a_good_manifest_expands_permissions_groups_and_menus(tmp_path):
    folder = write_addon(tmp_path, "demo", GOOD)
    manifest = parse_manifest(folder / "manifest.toml", expected_name="demo")
    assert manifest.permissions == ("demo.thing.read", "demo.thing.create")
    assert set(manifest.groups[0].permissions) == {"demo.thing.read", "demo.thing.create"}
    assert manifest.menus[0].permission == "demo.thing.read"
    assert str(manifest.version) == "1.2.0"


@pytest.mark.parametrize(
    "change, field, problem",
    [
        (
            ('summary = "A demo addon"', 'summary = "A demo addon"\ncolour = "blue"'),
            "colour",
            "unknown key",
        ),
        (('version = "1.2.0"', 'version = "one point two"'), "version", "not a valid version"),
        (('prefix = "demo"', 'prefix = "Demo Things"'), "prefix", "lower-case"),
        (('prefix = "demo"', 'prefix = "api"'), "prefix", "reserved"),
        (('summary = "A demo addon"', ""), "summary", "is required"),
        (("depends = []", 'depends = "contacts"'), "depends", "list of strings"),
        (
            ('permissions = ["thing.*"]', 'permissions = ["gizmo.read"]'),
            "groups.user.permissions",
            "not declared",
        ),
        (('path = "/demo/things/"', 'path = "demo/things"'), "menus[0].path", "starting with '/'"),
        (('name = "demo"', 'name = "other"'), "name", "does not match"),
    ],
)
def test_bad_manifests_name_the_file_and_the_field(tmp_path, change, field, problem):
    folder = write_addon(tmp_path, "demo", GOOD.replace(*change))
    with pytest.raises(ManifestError) as info:
        parse_manifest(folder / "manifest.toml", expected_name="demo")
    assert info.value.field == field
    assert str(folder / "manifest.toml") in str(info.value)
    assert problem in str(info.value)


def test_invalid_toml_is_reported_with_the_file(tmp_path):
    folder = write_addon(tmp_path, "demo", "name = ")
    with pytest.raises(ManifestError, match="not valid TOML"):
        parse_manifest(folder / "manifest.toml")


def test_manifest_is_checked_before_code_is_imported(tmp_path):
    write_addon(tmp_path, "boom", GOOD.replace('"demo"', '"boom"').replace("version = \"1.2.0\"", "version = 3"),
                code="raise SystemExit('addon code must not be imported')")  # fmt: skip
    with pytest.raises(ManifestError, match="version"):
        Registry.discover([tmp_path])


def _addon(name: str, depends: list[str]) -> str:
    return f'name = "{name}"\nversion = "1.0.0"\nsummary = "x"\ndepends = {depends!r}\n'.replace(
        "'", '"'
    )


def test_missing_dependency_is_named(tmp_path):
    write_addon(tmp_path, "alpha", _addon("alpha", ["ghost"]))
    registry = Registry.discover([tmp_path])
    with pytest.raises(RegistryError, match="'alpha' depends on 'ghost', which is not available"):
        registry.closure(["alpha"])


def test_circular_dependency_is_named(tmp_path):
    write_addon(tmp_path, "alpha", _addon("alpha", ["beta"]))
    write_addon(tmp_path, "beta", _addon("beta", ["gamma"]))
    write_addon(tmp_path, "gamma", _addon("gamma", ["alpha"]))
    registry = Registry.discover([tmp_path])
    with pytest.raises(RegistryError, match=r"circular dependency between addons: .*alpha"):
        registry.closure(["alpha"])


def test_dependency_order_and_dependents(tmp_path):
    write_addon(tmp_path, "base_one", _addon("base_one", []))
    write_addon(tmp_path, "middle", _addon("middle", ["base_one"]))
    write_addon(tmp_path, "top", _addon("top", ["middle"]))
    registry = Registry.discover([tmp_path])
    assert registry.closure(["top"]) == ["base_one", "middle", "top"]
    assert registry.dependents(["base_one"], ["base_one", "middle", "top"]) == ["middle", "top"]


def test_same_addon_twice_is_an_error(tmp_path):
    write_addon(tmp_path / "a", "twin", _addon("twin", []))
    write_addon(tmp_path / "b", "twin", _addon("twin", []))
    with pytest.raises(RegistryError, match="provided twice"):
        Registry.discover([tmp_path / "a", tmp_path / "b"])


def test_addons_path_must_exist(tmp_path):
    with pytest.raises(RegistryError, match="not a folder"):
        Registry.discover([tmp_path / "missing"])


def test_entry_point_addons_are_discovered(tmp_path, monkeypatch):
    """A pip-installed addon announces itself in the ``mosaic.addons`` entry-point group."""
    site = tmp_path / "site"
    write_addon(site, "thirdparty_pkg", _addon("fancy", []))
    dist = site / "mosaic_fancy-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mosaic-fancy\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[mosaic.addons]\nfancy = thirdparty_pkg\n")
    monkeypatch.syspath_prepend(str(site))
    registry = Registry.discover()
    addon = registry.get("fancy")
    assert addon.module_name == "thirdparty_pkg"
    assert addon.source == "entry point fancy"
