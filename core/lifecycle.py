"""Install, upgrade and uninstall addons: the heart of the platform.

Every operation runs in one database transaction on one connection: migrations (DDL), the
synchronisation of permissions, groups and menus, data loading, hooks and the state table.
If any step fails the transaction is rolled back and ``LifecycleError`` names the addon and
the step, so the database is exactly as it was, on PostgreSQL and on SQLite alike (see
``core.db._configure_sqlite`` for how SQLite is given transactional DDL).

Each operation also bumps ``core_registry_state.version``; running workers notice and rebuild
their application on their next request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import MetaData, delete, func, inspect, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from core.db import Base, Database, utcnow
from core.migrations import MigrationTarget, pending_revisions, upgrade
from core.models import AddonState, AuditLog, Group, Menu, Permission, RegistryState
from core.plugins import build_plugin_manager, call_own
from core.registry import Addon, Registry, RegistryError, load_addon

Progress = Callable[[str], None]


class LifecycleError(Exception):
    """An install, upgrade or uninstall was refused or failed; nothing was changed."""

    def __init__(self, message: str, *, addon: str | None = None, step: str | None = None) -> None:
        self.addon, self.step = addon, step
        where = f"{addon}: {step}: " if addon and step else ""
        super().__init__(where + message)


class NotInitialisedError(LifecycleError):
    def __init__(self) -> None:
        super().__init__("the database is not initialised; run 'mosaic init' first")


@dataclass
class AddonStatus:
    name: str
    version: str | None
    installed_version: str | None
    state: str
    depends: list[str]
    summary: str

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


@dataclass
class PlanStep:
    addon: str
    version: str
    migrations: list[str]
    from_version: str | None = None


@dataclass
class UninstallPlan:
    addons: list[str]
    tables: list[tuple[str, int]] = field(default_factory=list)


def _noop(_: str) -> None:
    return None


class Lifecycle:
    """The Python API behind ``mosaic addons ...``."""

    def __init__(self, db: Database, registry: Registry) -> None:
        self.db = db
        self.registry = registry

    # ------------------------------------------------------------------ reading state
    def is_initialised(self) -> bool:
        return inspect(self.db.engine).has_table(RegistryState.__tablename__)

    def _require_initialised(self) -> None:
        try:
            ok = self.is_initialised()
        except SQLAlchemyError as exc:
            raise LifecycleError(f"cannot reach the database ({_short(exc)})") from exc
        if not ok:
            raise NotInitialisedError()

    def installed(self) -> dict[str, AddonState]:
        self._require_initialised()
        with self.db.session_factory() as session:
            return {row.name: row for row in session.scalars(select(AddonState))}

    def registry_version(self) -> int:
        with self.db.engine.connect() as conn:
            return conn.scalar(select(RegistryState.version).where(RegistryState.id == 1)) or 0

    def status(self) -> list[AddonStatus]:
        installed = self.installed()
        result = []
        for name in sorted(set(self.registry.addons) | set(installed)):
            addon = self.registry.addons.get(name)
            row = installed.get(name)
            if addon is None:
                state = "unavailable"
            elif row is None:
                state = "not installed"
            elif _version_key(addon.version) > _version_key(row.installed_version):
                state = "upgradable"
            else:
                state = "installed"
            result.append(
                AddonStatus(
                    name=name,
                    version=addon.version if addon else None,
                    installed_version=row.installed_version if row else None,
                    state=state,
                    depends=list(addon.depends) if addon else [],
                    summary=addon.manifest.summary if addon else "(code not found)",
                )
            )
        return result

    # ------------------------------------------------------------------ plans
    def plan_install(self, names: Iterable[str]) -> list[PlanStep]:
        names = list(dict.fromkeys(names))
        installed = self.installed()
        try:
            for name in names:
                self.registry.get(name)
            already = [n for n in names if n in installed]
            if already:
                raise LifecycleError(
                    f"already installed: {', '.join(already)}; use 'mosaic addons upgrade' instead"
                )
            order = self.registry.closure(names)
        except RegistryError as exc:
            raise LifecycleError(str(exc)) from exc
        with self.db.engine.connect() as conn:
            steps = []
            for name in order:
                if name in installed:
                    continue
                addon = self.registry.get(name)
                load_addon(addon)
                target = MigrationTarget.for_addon(addon)
                steps.append(PlanStep(name, addon.version, pending_revisions(conn, target)))
        return steps

    def plan_upgrade(self, names: Iterable[str] | None) -> list[PlanStep]:
        """``names=None`` means every installed addon whose code is newer."""
        installed = self.installed()
        if names is None:
            candidates = [
                n for n, row in installed.items()
                if n in self.registry.addons
                and _version_key(self.registry.get(n).version) > _version_key(row.installed_version)
            ]  # fmt: skip
        else:
            candidates = list(dict.fromkeys(names))
            for name in candidates:
                try:
                    self.registry.get(name)
                except RegistryError as exc:
                    raise LifecycleError(str(exc)) from exc
                if name not in installed:
                    raise LifecycleError(
                        f"'{name}' is not installed; run 'mosaic addons install {name}'"
                    )
        steps = []
        with self.db.engine.connect() as conn:
            for name in self.registry.order(candidates):
                addon = self.registry.get(name)
                row = installed[name]
                if _version_key(addon.version) < _version_key(row.installed_version):
                    raise LifecycleError(
                        f"installed version {row.installed_version} is newer than the available "
                        f"code {addon.version}; downgrades are not supported",
                        addon=name, step="plan",
                    )  # fmt: skip
                load_addon(addon)
                target = MigrationTarget.for_addon(addon)
                steps.append(
                    PlanStep(
                        name, addon.version, pending_revisions(conn, target), row.installed_version
                    )
                )
        return steps

    def plan_uninstall(self, names: Iterable[str], *, cascade: bool = False) -> UninstallPlan:
        names = list(dict.fromkeys(names))
        installed = self.installed()
        missing = [n for n in names if n not in installed]
        if missing:
            raise LifecycleError(f"not installed: {', '.join(missing)}")
        dependents = self.registry.dependents(names, installed)
        if dependents and not cascade:
            raise LifecycleError(
                f"cannot uninstall {', '.join(names)}: installed addon(s) {', '.join(dependents)} "
                "depend on it; uninstall them first or pass --cascade"
            )
        # dependents first, then the named addons in reverse dependency order
        order = list(reversed(self.registry.order([*names, *dependents])))
        with self.db.engine.connect() as conn:
            tables = self._tables_of(conn, order)
            counts = [
                (t, conn.scalar(select(func.count()).select_from(_reflect(conn, [t]).tables[t])))
                for t in tables
            ]
        return UninstallPlan(order, counts)

    # ------------------------------------------------------------------ operations
    def install(
        self, names: Iterable[str], *, with_demo: bool = False, progress: Progress = _noop
    ) -> list[PlanStep]:
        steps = self.plan_install(names)
        installed = list(self.installed())
        pm = self._plugin_manager([*installed, *(s.addon for s in steps)])
        with self._transaction() as (conn, session):
            for step in steps:
                addon = self.registry.get(step.addon)
                progress(f"installing {addon.name} {addon.version}")
                _apply_addon_code(conn, session, pm, addon)
                if with_demo:
                    progress(f"loading demo data of {addon.name}")
                    with _step(addon.name, "demo data"):
                        call_own(pm, addon.name, "mosaic_load_demo", session=session)
                        session.flush()
                session.add(
                    AddonState(
                        name=addon.name, installed_version=addon.version, with_demo=with_demo
                    )
                )
                session.flush()
                with _step(addon.name, "post-install hook"):
                    pm.hook.mosaic_post_install(session=session, addon=addon.name)
                    session.flush()
        return steps

    def upgrade(self, names: Iterable[str] | None, *, progress: Progress = _noop) -> list[PlanStep]:
        steps = self.plan_upgrade(names)
        if not steps:
            return steps
        pm = self._plugin_manager(list(self.installed()))
        with self._transaction() as (conn, session):
            for step in steps:
                addon = self.registry.get(step.addon)
                progress(f"upgrading {addon.name} {step.from_version} -> {addon.version}")
                _apply_addon_code(conn, session, pm, addon)
                with _step(addon.name, "post-upgrade hook"):
                    pm.hook.mosaic_post_upgrade(
                        session=session, addon=addon.name,
                        from_version=step.from_version, to_version=addon.version,
                    )  # fmt: skip
                    session.flush()
                session.execute(
                    update(AddonState)
                    .where(AddonState.name == addon.name)
                    .values(installed_version=addon.version, updated_at=utcnow())
                )
        return steps

    def uninstall(
        self, names: Iterable[str], *, cascade: bool = False, progress: Progress = _noop
    ) -> UninstallPlan:
        plan = self.plan_uninstall(names, cascade=cascade)
        installed = list(self.installed())
        available = [n for n in installed if n in self.registry.addons]
        pm = self._plugin_manager(available)
        with self._transaction() as (conn, session):
            for name in plan.addons:
                progress(f"uninstalling {name}")
                with _step(name, "pre-uninstall hook"):
                    pm.hook.mosaic_pre_uninstall(session=session, addon=name)
                    session.flush()
                with _step(name, "dropping tables"):
                    tables = self._tables_of(conn, [name])
                    if tables:
                        # Reflection also pulls in referenced tables (core_user...):
                        # drop exactly the addon's own, in foreign-key order.
                        meta = _reflect(conn, tables)
                        meta.drop_all(conn, tables=[meta.tables[t] for t in tables])
                with _step(name, "removing core rows"):
                    remove_core_rows(session, name, tables)
                    session.execute(delete(AddonState).where(AddonState.name == name))
                    session.flush()
        return plan

    # ------------------------------------------------------------------ helpers
    def _plugin_manager(self, names: list[str]):
        try:
            return build_plugin_manager(self.registry, names)
        except RegistryError as exc:
            raise LifecycleError(str(exc)) from exc

    def _tables_of(self, conn: Connection, names: list[str]) -> list[str]:
        wanted = set(names)
        return sorted(
            t for t in inspect(conn).get_table_names()
            if self.registry.owner_of_table(t) in wanted
            or any(t == f"{n}_alembic_version" for n in wanted)
        )  # fmt: skip

    @contextmanager
    def _transaction(self) -> Iterator[tuple[Connection, Session]]:
        with self.db.engine.connect() as conn:
            trans = conn.begin()
            session = Session(bind=conn, expire_on_commit=False, autoflush=False)
            try:
                # Taking the write lock first serialises concurrent lifecycle operations.
                bumped = conn.execute(
                    update(RegistryState)
                    .where(RegistryState.id == 1)
                    .values(version=RegistryState.version + 1, changed_at=utcnow())
                )
                if bumped.rowcount != 1:
                    raise NotInitialisedError()
                yield conn, session
                session.flush()
                trans.commit()
            except BaseException:
                session.rollback()  # joined to the connection: also rolls back ``trans``
                if trans.is_active:
                    trans.rollback()
                raise
            finally:
                session.close()


def _apply_addon_code(conn: Connection, session: Session, pm: Any, addon: Addon) -> None:
    """What install and upgrade share: migrations, manifest declarations, reference data."""
    with _step(addon.name, "migrations"):
        upgrade(conn, MigrationTarget.for_addon(addon))
    with _step(addon.name, "permissions, groups and menus"):
        sync_declarations(session, addon.manifest)
    with _step(addon.name, "data"):
        call_own(pm, addon.name, "mosaic_load_data", session=session)
        session.flush()


@contextmanager
def _step(addon: str, step: str) -> Iterator[None]:
    try:
        yield
    except LifecycleError:
        raise
    except Exception as exc:
        raise LifecycleError(
            f"{type(exc).__name__}: {_short(exc)} (nothing was changed)", addon=addon, step=step
        ) from exc


def _short(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _reflect(conn: Connection, tables: list[str]) -> MetaData:
    meta = MetaData()
    meta.reflect(conn, only=tables)
    return meta


def _version_key(version: str):
    from packaging.version import Version

    return Version(version)


def sync_declarations(session: Session, manifest) -> None:
    """Make permissions, groups and menus in core tables match the manifest."""
    name = manifest.name
    existing = {
        p.name: p for p in session.scalars(select(Permission).where(Permission.addon == name))
    }
    for perm in manifest.permissions:
        if perm not in existing:
            existing[perm] = Permission(name=perm, addon=name)
            session.add(existing[perm])
    for perm_name, perm in list(existing.items()):
        if perm_name not in manifest.permissions:
            session.delete(perm)
            del existing[perm_name]
    session.flush()

    groups = {g.key: g for g in session.scalars(select(Group).where(Group.addon == name))}
    for spec in manifest.groups:
        group = groups.pop(spec.key, None) or Group(addon=name, key=spec.key, label=spec.label)
        group.label = spec.label
        group.permissions = [existing[p] for p in spec.permissions]
        session.add(group)
    for stale in groups.values():
        session.delete(stale)

    session.execute(delete(Menu).where(Menu.addon == name))
    for menu in manifest.menus:
        session.add(Menu(addon=name, label=menu.label, path=menu.path, permission=menu.permission,
                         sequence=menu.sequence, parent=menu.parent))  # fmt: skip
    session.flush()


def remove_core_rows(session: Session, addon: str, dropped_tables: list[str]) -> None:
    """Delete every row core keeps on behalf of ``addon``: any core table with an ``addon`` column."""
    for table in reversed(Base.metadata.sorted_tables):
        if table.name.startswith("core_") and "addon" in table.c and table.name != "core_addon":
            session.execute(delete(table).where(table.c.addon == addon))
    if dropped_tables:
        session.execute(delete(AuditLog).where(AuditLog.table_name.in_(dropped_tables)))
