"""Every shipped addon survives install (with demo data), upgrade, uninstall and reinstall,
and its uninstall leaves no table and no core row behind."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from core.lifecycle import Lifecycle
from core.registry import Registry
from tests.core.lifecycle_helpers import snapshot, table_names

SHIPPED = Registry.discover().names()


def core_rows_of(db, addon: str) -> dict[str, int]:
    with db.engine.connect() as conn:
        return {
            table: conn.execute(
                text(f"SELECT count(*) FROM {table} WHERE addon = :a"), {"a": addon}
            ).scalar()
            for table in (
                "core_permission",
                "core_group",
                "core_menu",
                "core_data_record",
                "core_sequence",
            )
        }


@pytest.mark.parametrize("name", SHIPPED)
def test_install_upgrade_uninstall_reinstall(empty_database, name):
    registry = Registry.discover()
    lifecycle = Lifecycle(empty_database, registry)
    pristine = snapshot(empty_database)
    closure = registry.closure([name])

    lifecycle.install([name], with_demo=True)
    assert set(closure) <= set(lifecycle.installed())
    assert any(t.startswith(name + "_") for t in table_names(empty_database))

    steps = lifecycle.upgrade([name])  # same version: reloads data, runs the hook, stays consistent
    assert [s.addon for s in steps] == [name]

    lifecycle.uninstall(closure, cascade=True)
    after = snapshot(empty_database)
    assert after["tables"] == pristine["tables"]
    for addon in closure:
        assert core_rows_of(empty_database, addon) == dict.fromkeys(
            core_rows_of(empty_database, addon), 0
        )
    assert lifecycle.installed() == {}

    lifecycle.install([name])
    assert name in lifecycle.installed()
