"""An import overtaken by another writer starts again instead of reporting its rows as lost.

On SQLite a transaction that has read, and then finds that another connection committed a
write since, cannot write any more ("database is locked" at once, whatever the busy
timeout): the import's rows are not at fault. The import path lets such transient errors
through (they used to become one "Cannot be stored" error per row), and ``mosaic import``
starts the import again in a new transaction. Real connections to a real SQLite file.
"""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from core.resources import csv_io
from core.tenancy import company_scope
from tests.core.resources_support import models


def overtaken_once(cli, monkeypatch, *, times: int = 1) -> list[int]:
    """Make the first ``times`` imports be overtaken by a write from another connection."""
    if cli.db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's snapshot conflict; PostgreSQL rows lock instead")
    real = csv_io.import_csv
    attempts: list[int] = []

    def overtaken(session, *args, **kwargs):
        attempts.append(1)
        if len(attempts) <= times:
            session.execute(text("SELECT count(*) FROM core_company")).scalar()  # a snapshot
            with cli.db.engine.connect() as other:  # meanwhile, somebody saves something
                other.execute(text("UPDATE core_company SET name = name"))
                other.commit()
        return real(session, *args, **kwargs)

    monkeypatch.setattr(csv_io, "import_csv", overtaken)
    return attempts


def gadgets_in(db) -> int:
    gadget_cls, _ = models()
    with db.session_factory() as session:
        return session.scalar(select(func.count()).select_from(gadget_cls))


def test_the_conflict_is_not_reported_as_bad_rows(cli, tmp_path, monkeypatch):
    overtaken_once(cli, monkeypatch)
    from testkit.api import gadgets

    session = cli.db.session_factory()
    try:
        with company_scope([1], 1), pytest.raises(OperationalError, match="locked"):
            csv_io.import_csv(session, gadgets, _csv(["Lamp", "Desk"]))
    finally:
        session.rollback()
        session.close()
    assert gadgets_in(cli.db) == 0


def test_mosaic_import_starts_again_and_saves_every_row(cli, tmp_path, monkeypatch):
    attempts = overtaken_once(cli, monkeypatch)
    source = tmp_path / "in.csv"
    source.write_bytes(_csv(["Lamp", "Desk", "Stool"]).getvalue())
    result = cli("import", "testkit.gadgets", str(source))
    assert len(attempts) == 2
    assert "busy with another writer; starting again" in result.output
    assert "Gadgets: 3 created" in result.output
    assert gadgets_in(cli.db) == 3


def test_a_database_that_stays_busy_gets_a_one_line_error(cli, tmp_path, monkeypatch):
    attempts = overtaken_once(cli, monkeypatch, times=99)
    source = tmp_path / "in.csv"
    source.write_bytes(_csv(["Lamp"]).getvalue())
    result = cli("import", "testkit.gadgets", str(source), ok=False)
    assert result.exit_code == 1
    assert len(attempts) == 3
    assert "Error: the database is busy with another writer" in result.output
    assert "Traceback" not in result.output
    assert gadgets_in(cli.db) == 0


def _csv(names: list[str]) -> io.BytesIO:
    return io.BytesIO(("name,price\n" + "".join(f"{n},1.5\n" for n in names)).encode())
