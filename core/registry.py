"""Addon discovery and dependency resolution.

Addons come from three places, in this order: the ``addons/`` package shipped with Mosaic,
folders listed in ``MOSAIC_ADDONS_PATH`` (each folder holds addon folders), and the entry-point
group ``mosaic.addons`` (third-party addons installed with pip; the entry point names the addon's
package). Only manifests are read here; addon code is imported by ``load_addon`` when the addon
is installed or being installed.
"""

from __future__ import annotations

import difflib
import graphlib
import importlib
import importlib.util
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType

from sqlalchemy import Table

from core.db import Base
from core.manifest import Manifest, ManifestError, parse_manifest

BUILTIN_ADDONS_DIR = Path(__file__).resolve().parent.parent / "addons"
ENTRY_POINT_GROUP = "mosaic.addons"


class RegistryError(Exception):
    """An addon cannot be found or its dependencies cannot be resolved."""


@dataclass(frozen=True)
class Addon:
    manifest: Manifest
    module_name: str
    source: str

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def version(self) -> str:
        return str(self.manifest.version)

    @property
    def depends(self) -> tuple[str, ...]:
        return self.manifest.depends

    @property
    def directory(self) -> Path:
        return self.manifest.directory

    @property
    def migrations_dir(self) -> Path:
        return self.directory / "migrations"

    @property
    def templates_dir(self) -> Path:
        return self.directory / "templates"

    def submodule(self, name: str) -> ModuleType | None:
        """Import ``<addon>.<name>`` if the addon has it, else ``None``."""
        full = f"{self.module_name}.{name}"
        if importlib.util.find_spec(full) is None:
            return None
        return importlib.import_module(full)


class Registry:
    """The addons available to this process, by name."""

    def __init__(self, addons: Iterable[Addon]) -> None:
        self.addons: dict[str, Addon] = {}
        for addon in addons:
            if addon.name in self.addons:
                other = self.addons[addon.name]
                raise RegistryError(
                    f"addon '{addon.name}' is provided twice: {other.manifest.path} and "
                    f"{addon.manifest.path}; remove one of them"
                )
            self.addons[addon.name] = addon

    # ------------------------------------------------------------------ discovery
    @classmethod
    def discover(
        cls, extra_paths: Iterable[Path] = (), *, entry_point_group: str = ENTRY_POINT_GROUP
    ) -> Registry:
        found: list[Addon] = []
        found.extend(_scan_folder(BUILTIN_ADDONS_DIR, package="addons", source="builtin"))
        for folder in extra_paths:
            if not folder.is_dir():
                raise RegistryError(f"MOSAIC_ADDONS_PATH names {folder}, which is not a folder")
            if str(folder) not in sys.path:
                sys.path.insert(0, str(folder))
            found.extend(_scan_folder(folder, package=None, source=str(folder)))
        for ep in entry_points(group=entry_point_group):
            spec = importlib.util.find_spec(ep.value)
            if spec is None or not spec.submodule_search_locations:
                raise RegistryError(
                    f"entry point '{ep.name}' in group {entry_point_group} names '{ep.value}', "
                    "which is not an importable package"
                )
            directory = Path(next(iter(spec.submodule_search_locations)))
            manifest = parse_manifest(directory / "manifest.toml", expected_name=ep.name)
            found.append(Addon(manifest, ep.value, f"entry point {ep.name}"))
        return cls(found)

    # ------------------------------------------------------------------ lookup
    def get(self, name: str) -> Addon:
        try:
            return self.addons[name]
        except KeyError:
            close = difflib.get_close_matches(name, self.addons, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise RegistryError(
                f"unknown addon '{name}'.{hint} Run 'mosaic addons list' to see the available ones."
            ) from None

    def names(self) -> list[str]:
        return sorted(self.addons)

    # ------------------------------------------------------------------ graph
    def order(self, names: Iterable[str]) -> list[str]:
        """Topological order (dependencies first) of ``names``, which must be closed."""
        wanted = set(names)
        graph = {n: [d for d in self.get(n).depends if d in wanted] for n in sorted(wanted)}
        sorter = graphlib.TopologicalSorter(graph)
        try:
            return list(sorter.static_order())
        except graphlib.CycleError as exc:
            cycle = " -> ".join(exc.args[1])
            raise RegistryError(f"circular dependency between addons: {cycle}") from None

    def closure(self, names: Iterable[str]) -> list[str]:
        """``names`` and everything they depend on, dependencies first."""
        seen: set[str] = set()
        stack = list(names)
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            addon = self.get(name)
            seen.add(name)
            for dep in addon.depends:
                if dep not in self.addons:
                    raise RegistryError(
                        f"addon '{name}' depends on '{dep}', which is not available; "
                        f"install the '{dep}' addon or add its folder to MOSAIC_ADDONS_PATH"
                    )
                stack.append(dep)
        return self.order(seen)

    def dependents(self, names: Iterable[str], among: Iterable[str]) -> list[str]:
        """Addons in ``among`` that depend, directly or not, on any of ``names``."""
        among = set(among)
        targets = set(names)
        result: set[str] = set()
        changed = True
        while changed:
            changed = False
            for candidate in among - result - targets:
                deps = set(self.addons[candidate].depends) if candidate in self.addons else set()
                if deps & (targets | result):
                    result.add(candidate)
                    changed = True
        return self.order(result) if result else []

    def owner_of_table(self, table_name: str) -> str | None:
        """The addon owning a table, by the ``<addon>_`` naming rule (longest name wins)."""
        best = None
        for name in self.addons:
            if table_name.startswith(name + "_") and (best is None or len(name) > len(best)):
                best = name
        if table_name.startswith("core_"):
            return None
        return best


def _scan_folder(folder: Path, *, package: str | None, source: str) -> list[Addon]:
    result = []
    if not folder.is_dir():
        return result
    for child in sorted(folder.iterdir()):
        manifest_path = child / "manifest.toml"
        if not child.is_dir() or child.name.startswith(("_", ".")) or not manifest_path.exists():
            continue
        manifest = parse_manifest(manifest_path, expected_name=child.name)
        module = f"{package}.{child.name}" if package else child.name
        result.append(Addon(manifest, module, source))
    return result


# ---------------------------------------------------------------------- loading code

_loaded: dict[str, frozenset[str]] = {}


def load_addon(addon: Addon) -> frozenset[str]:
    """Import an addon's models (and hookspecs) once per process; return its table names.

    The tables are those that appear while the models are imported, and those the models
    declare (see ``_declared_tables``): the models may have been imported before, by another
    addon's models or by a test, and then nothing appears. Each must be named
    ``<addon>_<thing>``.
    """
    if addon.name in _loaded:
        return _loaded[addon.name]
    before = set(Base.metadata.tables)
    module = addon.submodule("models")
    new_tables = frozenset(set(Base.metadata.tables) - before)
    if module is not None:
        new_tables |= _declared_tables(addon, module)
    bad = sorted(t for t in new_tables if not t.startswith(addon.name + "_"))
    if bad:
        raise RegistryError(
            f"addon '{addon.name}' defines table(s) {', '.join(bad)}; "
            f"its tables must be named '{addon.name}_<thing>'"
        )
    _loaded[addon.name] = new_tables
    return new_tables


def _declared_tables(addon: Addon, module: ModuleType) -> frozenset[str]:
    """The tables of the classes the addon's package maps, and of its own link tables.

    Found from the mapped classes' modules, so the answer does not depend on when the models
    were imported. A link table (``secondary``) counts when it carries the addon's prefix: a
    relationship may also go through another addon's link table.
    """
    package = addon.module_name

    def ours(module_name: str) -> bool:
        return module_name == package or module_name.startswith(package + ".")

    names: set[str] = {v.name for v in vars(module).values() if isinstance(v, Table)}
    for mapper in Base.registry.mappers:
        if not ours(mapper.class_.__module__):
            continue
        inherited = (
            mapper.inherits is not None and mapper.local_table is mapper.inherits.local_table
        )
        if not inherited:
            names.add(mapper.local_table.name)
        for rel in mapper.relationships:
            secondary = rel.secondary
            if isinstance(secondary, Table) and secondary.name.startswith(addon.name + "_"):
                names.add(secondary.name)
    return frozenset(name for name in names if name in Base.metadata.tables)


def addon_tables(name: str) -> frozenset[str]:
    """Tables declared by an addon's models (empty until ``load_addon`` ran)."""
    if name in _loaded:
        return _loaded[name]
    return frozenset(t for t in Base.metadata.tables if t.startswith(name + "_"))


__all__ = ["Addon", "ManifestError", "Registry", "RegistryError", "addon_tables", "load_addon"]
