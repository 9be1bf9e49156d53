"""Models and migrations never drift: for core and every installed addon, Alembic's
autogenerate comparison finds no difference after the migrations ran (on the backend under
test: SQLite by default, PostgreSQL when MOSAIC_TEST_DATABASE_URL is set)."""

from __future__ import annotations

import pytest

from core.migrations import MigrationTarget, differences, make_migration, upgrade
from core.registry import load_addon


def _targets(registry):
    yield MigrationTarget.core()
    for name in registry.order(registry.names()):
        addon = registry.get(name)
        load_addon(addon)
        yield MigrationTarget.for_addon(addon)


def test_every_owner_has_migrations(registry):
    for target in _targets(registry):
        assert list(target.versions_dir.glob("*.py")), f"{target.name} has no migrations"


@pytest.mark.parametrize("owner", ["core", "*"])
def test_models_and_migrations_agree(db, registry, owner):
    targets = [t for t in _targets(registry) if (t.name == "core") == (owner == "core")]
    with db.engine.connect() as conn:
        problems = {t.name: differences(conn, t) for t in targets}
    assert {name: diff for name, diff in problems.items() if diff} == {}


def test_makemigration_writes_nothing_when_in_sync(registry, tmp_path):
    addon = registry.get("testkit")
    load_addon(addon)
    target = MigrationTarget.for_addon(addon)
    assert (
        make_migration(target, "nothing", lambda conn: upgrade(conn, MigrationTarget.core()))
        is None
    )


def test_drift_is_detected(db, registry):
    """The comparison is not vacuous: a column the models do not declare is reported."""
    target = MigrationTarget.for_addon(registry.get("testkit"))
    with db.engine.connect() as conn, conn.begin() as trans:
        conn.exec_driver_sql("ALTER TABLE testkit_part ADD COLUMN drift_probe INTEGER")
        diff = differences(conn, target)
        trans.rollback()
    assert any(d[0] == "remove_column" and d[3].name == "drift_probe" for d in diff), diff


def test_every_addon_compares_its_own_tables(registry, monkeypatch):
    """Not vacuous either: each addon's comparison covers its tables, however its models were
    imported (here: directly, before the registry loads the addon)."""
    import addons.contacts.models  # noqa: F401  - imported first, as test modules do
    from core import registry as registry_module

    monkeypatch.setattr(registry_module, "_loaded", {})
    for target in _targets(registry):
        if target.name == "core":
            continue
        tables = target.tables()
        assert tables, f"{target.name}: no tables to compare"
        assert all(t.startswith(target.name + "_") for t in tables), tables
    assert {"contacts_contact", "contacts_contact_tag"} <= MigrationTarget.for_addon(
        registry.get("contacts")
    ).tables()
