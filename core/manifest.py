"""Addon manifests (``manifest.toml``), read and validated before any addon code is imported.

A manifest looks like this::

    name = "contacts"
    version = "1.0.0"
    summary = "Accounts, contacts and addresses"
    depends = []
    prefix = "contacts"

    [permissions]              # resource -> actions; gives contacts.contact.read, ...
    contact = ["read", "create", "update", "delete", "merge"]

    [groups.user]              # default groups; permissions relative to the addon
    label = "Contacts / User"
    permissions = ["contact.*"]

    [[menus]]
    label = "Contacts"
    path = "/contacts/contacts/"
    permission = "contact.read"
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from packaging.version import InvalidVersion, Version

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
PREFIX_RE = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
IDENT_RE = re.compile(r"^[a-z][a-z0-9_-]*$")
RESERVED_PREFIXES = frozenset(
    {"api", "auth", "login", "logout", "static", "healthz", "core", "admin", "account", "me"}
)
RESERVED_NAMES = frozenset({"core", "cli", "tests", "addons"})
STANDARD_ACTIONS = ("read", "create", "update", "delete")

TOP_KEYS = {
    "name", "version", "summary", "description", "depends", "prefix", "category",
    "author", "license", "permissions", "groups", "menus", "auto_install",
}  # fmt: skip
GROUP_KEYS = {"label", "permissions"}
MENU_KEYS = {"label", "path", "permission", "sequence", "parent"}


class ManifestError(ValueError):
    """A manifest is invalid; the message names the file and the field."""

    def __init__(self, path: Path, field_name: str, problem: str) -> None:
        self.path, self.field, self.problem = path, field_name, problem
        super().__init__(f"{path}: field '{field_name}': {problem}")


@dataclass(frozen=True)
class GroupSpec:
    key: str
    label: str
    permissions: tuple[str, ...]


@dataclass(frozen=True)
class MenuSpec:
    label: str
    path: str
    permission: str | None
    sequence: int
    parent: str | None


@dataclass(frozen=True)
class Manifest:
    name: str
    version: Version
    summary: str
    depends: tuple[str, ...]
    prefix: str
    path: Path
    category: str = ""
    description: str = ""
    permissions: tuple[str, ...] = ()
    groups: tuple[GroupSpec, ...] = ()
    menus: tuple[MenuSpec, ...] = field(default=())

    @property
    def directory(self) -> Path:
        return self.path.parent


def _require(cond: bool, path: Path, name: str, problem: str) -> None:
    if not cond:
        raise ManifestError(path, name, problem)


def _string_list(data: dict, key: str, path: Path) -> list[str]:
    value = data.get(key, [])
    _require(
        isinstance(value, list) and all(isinstance(v, str) for v in value),
        path, key, "must be a list of strings",
    )  # fmt: skip
    return value


def _expand_permission(
    addon: str, ref: str, declared: set[str], path: Path, where: str
) -> list[str]:
    """Resolve ``contact.read``, ``contact.*``, ``*`` or a full name to declared permission names."""
    full = ref if ref.startswith(addon + ".") else f"{addon}.{ref}"
    if full.endswith(".*") or ref == "*":
        stem = addon + "." if ref == "*" else full[:-1]
        matches = sorted(p for p in declared if p.startswith(stem))
        _require(bool(matches), path, where, f"'{ref}' matches no declared permission")
        return matches
    _require(full in declared, path, where, f"'{ref}' is not declared under [permissions]")
    return [full]


def parse_manifest(path: Path, *, expected_name: str | None = None) -> Manifest:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(path, "-", f"not valid TOML ({exc})") from exc
    except OSError as exc:
        raise ManifestError(path, "-", f"cannot be read ({exc.strerror})") from exc

    unknown = sorted(set(data) - TOP_KEYS)
    _require(not unknown, path, unknown[0] if unknown else "", "unknown key; allowed: "
             + ", ".join(sorted(TOP_KEYS)))  # fmt: skip

    name = data.get("name")
    _require(isinstance(name, str) and bool(NAME_RE.match(name)), path, "name",
             "must be lower-case letters, digits and underscores, 2-40 characters")  # fmt: skip
    _require(name not in RESERVED_NAMES, path, "name", f"'{name}' is reserved")
    if expected_name is not None:
        _require(name == expected_name, path, "name",
                 f"'{name}' does not match the addon's folder or module '{expected_name}'")  # fmt: skip

    raw_version = data.get("version")
    _require(isinstance(raw_version, str), path, "version", 'is required, e.g. "1.0.0"')
    try:
        version = Version(raw_version)
    except InvalidVersion as exc:
        raise ManifestError(path, "version", f"'{raw_version}' is not a valid version") from exc

    summary = data.get("summary", "")
    _require(isinstance(summary, str) and bool(summary.strip()), path, "summary", "is required")

    depends = _string_list(data, "depends", path)
    for dep in depends:
        _require(bool(NAME_RE.match(dep)), path, "depends", f"'{dep}' is not an addon name")
    _require(name not in depends, path, "depends", "an addon cannot depend on itself")

    prefix = data.get("prefix", name.replace("_", "-"))
    _require(isinstance(prefix, str) and bool(PREFIX_RE.match(prefix)), path, "prefix",
             "must be lower-case letters, digits and dashes, starting with a letter")  # fmt: skip
    _require(prefix not in RESERVED_PREFIXES, path, "prefix", f"'{prefix}' is reserved by core")

    permissions: list[str] = []
    raw_perms = data.get("permissions", {})
    _require(isinstance(raw_perms, dict), path, "permissions", "must be a table")
    for resource, actions in raw_perms.items():
        where = f"permissions.{resource}"
        _require(bool(IDENT_RE.match(resource)), path, where, "resource names are identifiers")
        _require(isinstance(actions, list) and bool(actions), path, where,
                 "must be a non-empty list of actions")  # fmt: skip
        for action in actions:
            _require(isinstance(action, str) and bool(IDENT_RE.match(action)), path, where,
                     f"action {action!r} is not an identifier")  # fmt: skip
            permissions.append(f"{name}.{resource}.{action}")
    declared = set(permissions)

    groups: list[GroupSpec] = []
    raw_groups = data.get("groups", {})
    _require(isinstance(raw_groups, dict), path, "groups", "must be a table of tables")
    for key, spec in raw_groups.items():
        where = f"groups.{key}"
        _require(isinstance(spec, dict), path, where, "must be a table")
        _require(bool(IDENT_RE.match(key)), path, where, "group keys are identifiers")
        extra = sorted(set(spec) - GROUP_KEYS)
        _require(not extra, path, f"{where}.{extra[0] if extra else ''}", "unknown key")
        label = spec.get("label")
        _require(isinstance(label, str) and bool(label), path, f"{where}.label", "is required")
        refs = _string_list(spec, "permissions", path)
        names: list[str] = []
        for ref in refs:
            names.extend(_expand_permission(name, ref, declared, path, f"{where}.permissions"))
        groups.append(GroupSpec(key, label, tuple(dict.fromkeys(names))))

    menus: list[MenuSpec] = []
    raw_menus = data.get("menus", [])
    _require(isinstance(raw_menus, list), path, "menus", "must be an array of tables")
    for index, spec in enumerate(raw_menus):
        where = f"menus[{index}]"
        _require(isinstance(spec, dict), path, where, "must be a table")
        extra = sorted(set(spec) - MENU_KEYS)
        _require(not extra, path, f"{where}.{extra[0] if extra else ''}", "unknown key")
        label, mpath = spec.get("label"), spec.get("path")
        _require(isinstance(label, str) and bool(label), path, f"{where}.label", "is required")
        _require(isinstance(mpath, str) and mpath.startswith("/"), path, f"{where}.path",
                 "must be a path starting with '/'")  # fmt: skip
        perm = spec.get("permission")
        if perm is not None:
            perm = _expand_permission(name, perm, declared, path, f"{where}.permission")[0]
        seq = spec.get("sequence", 100)
        _require(isinstance(seq, int), path, f"{where}.sequence", "must be a whole number")
        menus.append(MenuSpec(label, mpath, perm, seq, spec.get("parent")))

    return Manifest(
        name=name,
        version=version,
        summary=summary.strip(),
        depends=tuple(depends),
        prefix=prefix,
        path=path,
        category=str(data.get("category", "")),
        description=str(data.get("description", "")),
        permissions=tuple(permissions),
        groups=tuple(groups),
        menus=tuple(menus),
    )
