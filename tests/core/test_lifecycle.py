"""Install, upgrade and uninstall through the Python API, on SQLite and PostgreSQL.

Each test gets a fresh initialised database (``empty_database``); the addons come from
tests/lifecycle_addons (``shelf`` v1 and ``wobbly``, which depends on shelf and fails).
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.lifecycle import Lifecycle, LifecycleError
from core.models import AddonState, Group, Menu, Permission, RegistryState
from tests.core.lifecycle_helpers import lifecycle_registry, scalar, snapshot, table_names


@pytest.fixture
def lifecycle(empty_database, monkeypatch) -> Lifecycle:
    monkeypatch.setenv("MOSAIC_TEST_WOBBLY_FAIL", "none")
    return Lifecycle(empty_database, lifecycle_registry())


def installed_names(lifecycle: Lifecycle) -> list[str]:
    return sorted(lifecycle.installed())


def test_install_pulls_in_dependencies_in_order(lifecycle):
    steps = lifecycle.install(["wobbly"])
    assert [s.addon for s in steps] == ["shelf", "wobbly"]
    assert installed_names(lifecycle) == ["shelf", "wobbly"]
    assert {"shelf_item", "wobbly_thing", "shelf_alembic_version"} <= table_names(lifecycle.db)
    # data hook ran, permissions/groups/menus synced from the manifest
    assert scalar(lifecycle.db, "SELECT count(*) FROM shelf_item") == 1
    perms = set(scalar_list(lifecycle, select(Permission.name).where(Permission.addon == "shelf")))
    assert perms == {"shelf.item.read", "shelf.item.create"}
    assert scalar(lifecycle.db, select(Group.label).where(Group.addon == "shelf")) == "Shelf / User"
    assert scalar(lifecycle.db, select(Menu.label).where(Menu.addon == "shelf")) == "Shelf"


def scalar_list(lifecycle: Lifecycle, stmt) -> list:
    with lifecycle.db.engine.connect() as conn:
        return list(conn.scalars(stmt))


def test_dry_run_plan_lists_order_and_migrations_and_changes_nothing(lifecycle):
    before = snapshot(lifecycle.db)
    plan = lifecycle.plan_install(["wobbly"])
    assert [(s.addon, s.version) for s in plan] == [("shelf", "1.0.0"), ("wobbly", "1.0.0")]
    assert plan[1].migrations == ["0001: things", "0002: fails halfway"]
    assert snapshot(lifecycle.db) == before


@pytest.mark.parametrize("failure, step", [("migration", "migrations"), ("data", "data")])
def test_failed_install_leaves_no_trace(lifecycle, monkeypatch, failure, step):
    before = snapshot(lifecycle.db)
    monkeypatch.setenv("MOSAIC_TEST_WOBBLY_FAIL", failure)
    with pytest.raises(LifecycleError) as info:
        lifecycle.install(["wobbly"])
    assert info.value.addon == "wobbly"
    assert info.value.step == step
    assert "nothing was changed" in str(info.value)
    # shelf was installed earlier in the same operation: it is rolled back too
    assert snapshot(lifecycle.db) == before
    assert not {"shelf_item", "wobbly_thing", "wobbly_extra"} & table_names(lifecycle.db)


def test_install_twice_is_refused_with_advice(lifecycle):
    lifecycle.install(["shelf"])
    with pytest.raises(
        LifecycleError, match="already installed: shelf; use 'mosaic addons upgrade'"
    ):
        lifecycle.install(["shelf"])


def test_unknown_addon_gets_a_suggestion(lifecycle):
    with pytest.raises(LifecycleError, match=r"unknown addon 'shelve'\. Did you mean 'shelf'"):
        lifecycle.install(["shelve"])


def test_uninstall_refuses_while_a_dependent_is_installed(lifecycle):
    lifecycle.install(["wobbly"])
    before = snapshot(lifecycle.db)
    with pytest.raises(LifecycleError, match=r"installed addon\(s\) wobbly depend on it"):
        lifecycle.uninstall(["shelf"])
    assert snapshot(lifecycle.db) == before


def test_uninstall_dry_run_shows_addons_tables_and_row_counts(lifecycle):
    lifecycle.install(["wobbly"])
    plan = lifecycle.plan_uninstall(["shelf"], cascade=True)
    assert plan.addons == ["wobbly", "shelf"]
    assert dict(plan.tables) == {
        "shelf_alembic_version": 1, "shelf_item": 1, "wobbly_alembic_version": 1,
        "wobbly_extra": 0, "wobbly_thing": 1,
    }  # fmt: skip


def test_cascade_uninstall_leaves_nothing_behind_and_reinstall_works(lifecycle):
    pristine = snapshot(lifecycle.db)
    lifecycle.install(["wobbly"])
    lifecycle.uninstall(["shelf"], cascade=True)
    after = snapshot(lifecycle.db)
    assert after["tables"] == pristine["tables"]
    for table, rows in after["rows"].items():
        if table != "core_registry_state":  # the version moved on, on purpose
            assert rows == pristine["rows"][table], table
    lifecycle.install(["shelf"])
    assert installed_names(lifecycle) == ["shelf"]
    assert scalar(lifecycle.db, "SELECT count(*) FROM shelf_item") == 1


def test_every_operation_bumps_the_registry_version(lifecycle):
    def version() -> int:
        return scalar(lifecycle.db, select(RegistryState.version))

    start = version()
    lifecycle.install(["shelf"])
    assert version() == start + 1
    lifecycle.uninstall(["shelf"])
    assert version() == start + 2
    with pytest.raises(LifecycleError):
        lifecycle.uninstall(["shelf"])
    assert version() == start + 2


def test_upgrade_of_an_uninstalled_addon_is_refused(lifecycle):
    with pytest.raises(LifecycleError, match="'shelf' is not installed"):
        lifecycle.upgrade(["shelf"])


def test_upgrade_with_nothing_new_does_nothing(lifecycle):
    lifecycle.install(["shelf"])
    assert lifecycle.plan_upgrade(None) == []
    assert lifecycle.upgrade(None) == []


def test_status_reports_every_addon(lifecycle):
    lifecycle.install(["shelf"])
    rows = {r.name: r for r in lifecycle.status()}
    assert rows["shelf"].state == "installed"
    assert rows["shelf"].installed_version == "1.0.0"
    assert rows["wobbly"].state == "not installed"
    assert rows["wobbly"].depends == ["shelf"]
    assert scalar(lifecycle.db, select(func.count()).select_from(AddonState)) == 1
