"""Helpers for lifecycle tests: the addons under tests/lifecycle_addons and DB snapshots."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, select, text

from core.db import Database
from core.registry import Registry

LIFECYCLE_ADDONS = Path(__file__).resolve().parent.parent / "lifecycle_addons"
V1 = LIFECYCLE_ADDONS / "v1"
V2 = LIFECYCLE_ADDONS / "v2"
BROKEN = LIFECYCLE_ADDONS / "broken"

CORE_TABLES_WITH_ROWS = [
    "core_addon", "core_permission", "core_group", "core_group_permission", "core_menu",
    "core_registry_state", "core_data_record", "core_audit_log",
]  # fmt: skip


def lifecycle_registry() -> Registry:
    """Shipped addons plus shelf v1 and wobbly (never v2: a process can import one version)."""
    return Registry.discover([V1, BROKEN])


def snapshot(db: Database) -> dict[str, object]:
    """Every table name, and every row of the core tables an addon operation touches."""
    with db.engine.connect() as conn:
        tables = sorted(inspect(conn).get_table_names())
        rows = {
            t: sorted(tuple(map(str, r)) for r in conn.execute(text(f"SELECT * FROM {t}")))
            for t in CORE_TABLES_WITH_ROWS
        }
    return {"tables": tables, "rows": rows}


def table_names(db: Database) -> set[str]:
    with db.engine.connect() as conn:
        return set(inspect(conn).get_table_names())


def scalar(db: Database, stmt) -> object:
    with db.engine.connect() as conn:
        return conn.scalar(stmt if not isinstance(stmt, str) else text(stmt))


__all__ = [
    "BROKEN",
    "V1",
    "V2",
    "lifecycle_registry",
    "scalar",
    "select",
    "snapshot",
    "table_names",
]
