"""CSV import in batches: a resource's ``create_many``, the per-row fallback, ids on SQLite."""

from __future__ import annotations

import dataclasses
import io

import pytest
from sqlalchemy import text

from core.bulk import assign_ids
from core.models import Company
from core.resources import BusinessError, csv_io
from core.resources.csv_io import import_csv
from core.tenancy import company_scope
from tests.core.resources_support import count_statements, models
from tests.core.test_csv import count as gadget_count


@pytest.fixture
def gadgets(app):
    from testkit.api import gadgets

    return gadgets


def batched(gadgets, create_many):
    return dataclasses.replace(gadgets, create_many=create_many)


def csv_of(names: list[str]) -> io.BytesIO:
    return io.BytesIO(("name,price\n" + "".join(f"{n},1.5\n" for n in names)).encode())


def plain_create_many(calls: list[list[int]]):
    """A create_many that makes gadgets the plain way and records the lines of each call."""
    gadget_cls, _ = models()

    def create_many(session, rows):
        calls.append([line for line, _data in rows])
        out = []
        for _line, data in rows:
            if data["name"].startswith("refuse"):
                out.append(BusinessError(f"{data['name']} is refused.", errors={"name": ["No."]}))
                continue
            gadget = gadget_cls(**data)
            session.add(gadget)
            out.append(gadget)
        return out

    return create_many


def test_rows_reach_create_many_in_batches_with_their_lines(db_session, gadgets, monkeypatch):
    monkeypatch.setattr(csv_io, "BATCH_SIZE", 3)
    calls: list[list[int]] = []
    resource = batched(gadgets, plain_create_many(calls))
    with company_scope([1], 1):
        result = import_csv(db_session, resource, csv_of([f"g{i}" for i in range(7)]))
    assert calls == [[2, 3, 4], [5, 6, 7], [8]]
    assert (result.created, result.errors) == (7, [])
    assert len(set(result.created_ids)) == 7 and None not in result.created_ids
    assert gadget_count(db_session) == 7


def test_a_row_refused_by_create_many_is_reported_with_its_line(db_session, gadgets, monkeypatch):
    monkeypatch.setattr(csv_io, "BATCH_SIZE", 10)
    calls: list[list[int]] = []
    resource = batched(gadgets, plain_create_many(calls))
    with company_scope([1], 1):
        # a row the schema refuses (no name) never reaches create_many
        data = io.BytesIO(("name,price\n" + "a,1\nrefuse-me,1\n,2\nb,1\nc,x\n").encode())
        result = import_csv(db_session, resource, data, skip_errors=True)
    assert calls == [[2, 3, 5]]
    assert [(e.line, sorted(e.errors)) for e in result.errors] == [
        (3, ["name"]),
        (4, ["name"]),
        (6, ["price"]),
    ]
    assert result.created == 2 and result.skipped == 3
    assert gadget_count(db_session, name="refuse-me") == 0


def test_a_batch_the_database_refuses_is_redone_row_by_row(db_session, gadgets, monkeypatch):
    """Nothing of the failed batch stays behind, and every row is still created once."""
    monkeypatch.setattr(csv_io, "BATCH_SIZE", 4)
    gadget_cls, _ = models()
    with company_scope([1], 1):
        existing = gadget_cls(name="already here")
        db_session.add(existing)
        db_session.flush()
        taken = existing.id
        db_session.expunge(existing)  # the clash is for the database to find

    def clashing_create_many(session, rows):
        out = []
        for _line, data in rows:
            gadget = gadget_cls(**data)
            if data["name"] == "clash":
                gadget.id = taken  # the primary key is taken: the flush fails
            session.add(gadget)
            out.append(gadget)
        return out

    resource = batched(gadgets, clashing_create_many)
    with company_scope([1], 1):
        result = import_csv(db_session, resource, csv_of(["w", "x", "clash", "y", "z"]))
    assert (result.created, result.errors) == (5, [])
    assert gadget_count(db_session) == 6
    assert gadget_count(db_session, name="clash") == 1


def test_an_import_in_batches_costs_statements_per_batch_not_per_row(
    db, db_session, gadgets, monkeypatch
):
    monkeypatch.setattr(csv_io, "BATCH_SIZE", 1000)
    resource = batched(gadgets, plain_create_many([]))
    counts = []
    for size in (10, 200):
        with company_scope([1], 1), count_statements(db.engine) as statements:
            result = import_csv(db_session, resource, csv_of([f"n{size}-{i}" for i in range(size)]))
        assert result.created == size
        counts.append(len(statements))
    assert counts[0] == counts[1], counts


def test_assign_ids_numbers_new_rows_after_every_companys_rows(db_session, gadgets):
    gadget_cls, _ = models()
    other = Company(name="Elsewhere Ltd")
    db_session.add(other)
    db_session.flush()
    with company_scope([other.id], other.id):
        theirs = gadget_cls(name="theirs")
        db_session.add(theirs)
        db_session.flush()
    with company_scope([1], 1):
        mine = [gadget_cls(name=f"mine {i}") for i in range(3)]
        db_session.add_all(mine)
        assigned = assign_ids(db_session)
        db_session.flush()
    assert assigned == 3
    ids = [g.id for g in mine]
    if db_session.get_bind().dialect.name == "sqlite":
        assert ids == [theirs.id + 1, theirs.id + 2, theirs.id + 3]
    else:  # drawn from the sequence, which rolled-back tests may have moved on
        assert len(set(ids)) == 3 and min(ids) > theirs.id


def test_a_large_import_refreshes_the_planners_statistics(db_session, gadgets, monkeypatch):
    """On PostgreSQL a table filled by an import is analysed in the import's transaction."""
    monkeypatch.setattr(csv_io, "ANALYZE_AFTER_ROWS", 5)
    postgres = db_session.get_bind().dialect.name == "postgresql"
    reltuples = "SELECT reltuples FROM pg_class WHERE relname = 'testkit_gadget'"
    before = db_session.execute(text(reltuples)).scalar() if postgres else None
    with company_scope([1], 1):
        result = import_csv(db_session, gadgets, csv_of([f"s{i}" for i in range(6)]))
    assert result.created == 6
    if postgres:  # ANALYZE counts the rows the transaction itself inserted
        assert db_session.execute(text(reltuples)).scalar() >= 6 > (before or 0)
