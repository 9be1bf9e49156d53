"""``core.db.in_values``: the rows of ``column.in_(values)``, with the values as one parameter.

The batch look-ups of the contacts import and tenancy's reference checks rely on it giving
exactly the answers of a plain ``IN``; the point of it is that the statement stays the same
(one bound parameter) whatever the number of values. Every test compares with ``.in_()`` on
the same rows, and where it can with the answer worked out in Python from the inserted rows.
Run on SQLite by default and on PostgreSQL with ``MOSAIC_TEST_DATABASE_URL``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    or_,
    select,
    union,
)
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from core import identity
from core.db import in_values
from core.tenancy import company_scope
from tests.conftest import PG_URL
from tests.core.identity_world import models

ON_PG = bool(PG_URL)

#: Names that break naive quoting or JSON encoding, each stored on one gadget.
TEXTS = [
    "plain",
    "O'Brien",
    "it''s",
    'say "hi"',
    "back\\slash",
    "trailing\\",
    '\\"',
    "a,b,c",
    "(x)",
    "Zürich",
    "日本語",
    "emoji 😀",
    "",
    " padded ",
    "tab\tand\nnewline",
    '{"k": "v"}',
    "[1, 2]",
    "null",
    "\\u00e9",
    "%_*",
    "ß",
    "SS",
]
#: Near misses of the names above: none of them is stored.
ABSENT = ["absent", "o'brien", "Zurich", "plain ", "ss", "é", "\\", '"', "NULL", "[1,2]"]
NUMBERED = 300  # gadgets named g0000..g0299, alternately in company A and B


@dataclass
class Stock:
    """The gadgets inserted for a test: their ids by name and the two companies."""

    company_a: int
    company_b: int
    ids: dict[str, int] = field(default_factory=dict)
    company_of: dict[str, int] = field(default_factory=dict)


@pytest.fixture
def stock(db_session) -> Stock:
    """Two companies and a gadget per name (Core insert: no audit, no scoping in the way)."""
    gadget, _ = models()
    a = identity.create_company(db_session, "In-values A")
    b = identity.create_company(db_session, "In-values B")
    db_session.flush()
    names = TEXTS + [f"g{i:04d}" for i in range(NUMBERED)]
    rows = [{"name": n, "company_id": (a.id, b.id)[i % 2]} for i, n in enumerate(names)]
    db_session.execute(gadget.__table__.insert(), rows)
    out = Stock(a.id, b.id)
    table = gadget.__table__
    found = db_session.execute(
        select(table.c.name, table.c.id, table.c.company_id).where(
            table.c.company_id.in_([a.id, b.id])
        )
    )
    for name, ident, company in found:
        out.ids[name] = ident
        out.company_of[name] = company
    assert len(out.ids) == len(names)
    return out


def outcome(session, condition) -> list[int] | str:
    """The sorted gadget ids matching ``condition``, or the class of the error raised."""
    gadget, _ = models()
    try:
        with session.begin_nested():
            return sorted(session.scalars(select(gadget.id).where(condition)))
    except StatementError as exc:
        return type(exc).__name__


def assert_like_in(session, column, values: list[Any]) -> list[int] | str:
    """``in_values`` answers as ``.in_()`` does, in both forms; returns that answer."""
    expected = outcome(session, column.in_(values))
    assert outcome(session, in_values(session, column, values)) == expected, values
    probed = in_values(session, column, values, probe_index=True)
    assert outcome(session, probed) == expected, values
    return expected


class StatementLog:
    """The statements and parameters sent to the database while it listens."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []

    def __call__(self, _conn, _cursor, statement, parameters, _context, _many) -> None:
        self.sent.append((statement, parameters))


@pytest.fixture
def statements(db_session) -> Iterator[StatementLog]:
    log = StatementLog()
    conn = db_session.connection()
    event.listen(conn, "before_cursor_execute", log)
    yield log
    event.remove(conn, "before_cursor_execute", log)


def run_logged(session, log: StatementLog, condition) -> tuple[str, Any]:
    """Run a gadget look-up and return the one statement it sent, with its parameters."""
    gadget, _ = models()
    log.sent.clear()
    session.scalars(select(gadget.id).where(condition)).all()
    assert len(log.sent) == 1
    return log.sent[0]


# --------------------------------------------------------------------------- same answers


def test_text_values_with_quotes_unicode_and_json_characters(db_session, stock):
    gadget, _ = models()
    assert assert_like_in(db_session, gadget.name, TEXTS) == sorted(stock.ids[t] for t in TEXTS)
    for text in TEXTS:  # one value at a time: each is found alone, and only itself
        assert assert_like_in(db_session, gadget.name, [text]) == [stock.ids[text]], repr(text)


def test_absent_values_and_a_mix_of_present_and_absent(db_session, stock):
    gadget, _ = models()
    assert assert_like_in(db_session, gadget.name, ABSENT) == []
    mixed = [v for pair in zip(TEXTS, ABSENT, strict=False) for v in pair]
    expected = sorted(stock.ids[t] for t in mixed if t in stock.ids)
    assert assert_like_in(db_session, gadget.name, mixed) == expected


def test_duplicates_in_the_list(db_session, stock):
    gadget, _ = models()
    values = ["plain", "O'Brien", "plain", "", "O'Brien", ""]
    expected = sorted({stock.ids["plain"], stock.ids["O'Brien"], stock.ids[""]})
    assert assert_like_in(db_session, gadget.name, values) == expected
    ident = stock.ids["plain"]
    assert assert_like_in(db_session, gadget.id, [ident, ident, ident]) == [ident]


def test_integer_values(db_session, stock):
    gadget, _ = models()
    some = sorted(stock.ids.values())[::7]
    absent = [0, -1, max(stock.ids.values()) + 1000]
    assert assert_like_in(db_session, gadget.id, some + absent) == some
    assert assert_like_in(db_session, gadget.id, absent) == []
    # a non-unique integer column: every gadget of company A
    ours = sorted(i for n, i in stock.ids.items() if stock.company_of[n] == stock.company_a)
    got = assert_like_in(db_session, gadget.company_id, [stock.company_a, -5])
    assert [i for i in got if i in set(stock.ids.values())] == ours


def test_zero_and_one_value(db_session, stock):
    gadget, _ = models()
    assert assert_like_in(db_session, gadget.name, []) == []
    assert assert_like_in(db_session, gadget.id, []) == []
    assert assert_like_in(db_session, gadget.name, ["g0001"]) == [stock.ids["g0001"]]
    assert assert_like_in(db_session, gadget.id, [stock.ids["g0002"]]) == [stock.ids["g0002"]]


def test_five_thousand_values(db_session, stock):
    gadget, _ = models()
    names = [f"g{i:04d}" for i in range(5000)]
    expected = sorted(stock.ids[n] for n in names if n in stock.ids)
    assert len(expected) == NUMBERED
    assert assert_like_in(db_session, gadget.name, names) == expected
    low = min(stock.ids.values())
    ids = list(range(low - 2500, low + 2500))
    got = assert_like_in(db_session, gadget.id, ids)
    ours = set(stock.ids.values())
    assert [i for i in got if i in ours] == sorted(ours & set(ids))


def test_iterables_other_than_lists(db_session, stock):
    gadget, _ = models()
    wanted = {"plain", "ß", "absent"}
    expected = sorted(stock.ids[n] for n in wanted if n in stock.ids)
    assert outcome(db_session, in_values(db_session, gadget.name, wanted)) == expected
    gen = (n for n in ("plain", "ß"))
    assert outcome(db_session, in_values(db_session, gadget.name, gen)) == expected


# --------------------------------------------------------------------------- one parameter


@pytest.mark.parametrize("kind", ["text", "integer"])
def test_one_parameter_whatever_the_number_of_values(db_session, stock, statements, kind):
    gadget, _ = models()
    column = gadget.name if kind == "text" else gadget.id

    def values(n: int) -> list[Any]:
        return [f"v{i}" for i in range(n)] if kind == "text" else list(range(1, n + 1))

    few = run_logged(db_session, statements, in_values(db_session, column, values(10)))
    many = run_logged(db_session, statements, in_values(db_session, column, values(2000)))
    assert len(few[1]) == len(many[1]) == 1
    assert few[0] == many[0]  # the very same statement: parsed and planned once
    # the listener does see a plain IN's parameters (the comparison above can fail)
    plain_few = run_logged(db_session, statements, column.in_(values(10)))
    plain_many = run_logged(db_session, statements, column.in_(values(2000)))
    assert len(plain_many[1]) - len(plain_few[1]) == 1990


def test_the_parameter_holds_each_value_once(db_session, stock, statements):
    gadget, _ = models()
    values = ['say "hi"', "back\\slash", "Zürich", 'say "hi"', ""]
    _sql, params = run_logged(db_session, statements, in_values(db_session, gadget.name, values))
    (bound,) = params.values() if isinstance(params, dict) else params
    sent = json.loads(bound) if isinstance(bound, str) else list(bound)
    assert sent == ['say "hi"', "back\\slash", "Zürich", ""]


# --------------------------------------------------------------------------- the fallback


FALLBACK_CASES = ["none", "only none", "float", "bool", "bool among integers", "datetime"]


def fallback_values(case: str, stock: Stock, session) -> tuple[str, list[Any]]:
    """``(column name, values)``: lists ``in_values`` must hand to the plain ``IN``."""
    gadget, _ = models()
    plain = stock.ids["plain"]
    if case == "none":
        return "name", [None, "plain", "O'Brien"]
    if case == "only none":
        return "name", [None]
    if case == "float":
        return "id", [float(plain), 2.5]
    if case == "bool":
        return "archived", [True]
    if case == "bool among integers":
        return "id", [True, plain]
    stored = session.scalar(select(gadget.created_at).where(gadget.id == plain))
    return "created_at", [stored, datetime(2000, 1, 1, tzinfo=UTC)]


@pytest.mark.parametrize("case", FALLBACK_CASES)
def test_fallback_answers_like_in(db_session, stock, case):
    gadget, _ = models()
    name, values = fallback_values(case, stock, db_session)
    column = getattr(gadget, name)
    answer = assert_like_in(db_session, column, values)
    if case in ("none", "float", "datetime"):  # answers that do find a row
        assert stock.ids["plain"] in answer
    bind = db_session.get_bind()
    fallback = str(select(gadget.id).where(in_values(db_session, column, values)).compile(bind))
    assert fallback == str(select(gadget.id).where(column.in_(values)).compile(bind))


def test_fallback_for_none_still_finds_the_text_values(db_session, stock):
    gadget, _ = models()
    got = outcome(db_session, in_values(db_session, gadget.name, [None, "plain"]))
    assert got == [stock.ids["plain"]]


def test_other_dialects_get_the_plain_in():
    column = Column("name", String(20))
    other = SimpleNamespace(get_bind=lambda: SimpleNamespace(dialect=SimpleNamespace(name="mysql")))
    got = in_values(other, column, ["a", "b"])  # type: ignore[arg-type]
    assert got.compare(column.in_(["a", "b"]))


# --------------------------------------------------------------------------- composition


def test_inside_or(db_session, stock):
    gadget, _ = models()
    names, ids = ["plain", "absent", "日本語"], [stock.ids["g0007"], stock.ids["g0008"]]
    condition = or_(
        in_values(db_session, gadget.name, names), in_values(db_session, gadget.id, ids)
    )
    expected = sorted([stock.ids["plain"], stock.ids["日本語"], *ids])
    assert outcome(db_session, condition) == expected
    assert outcome(db_session, or_(gadget.name.in_(names), gadget.id.in_(ids))) == expected


def test_in_union_branches(db_session, stock):
    gadget, _ = models()
    first = select(gadget.id).where(in_values(db_session, gadget.name, ["plain", "ß", "x"]))
    second = select(gadget.id).where(
        in_values(db_session, gadget.id, [stock.ids["ß"], stock.ids["SS"]])
    )
    got = sorted(db_session.scalars(union(first, second)))
    assert got == sorted({stock.ids["plain"], stock.ids["ß"], stock.ids["SS"]})


def test_orm_scoping_returns_only_the_scopes_rows(db_session, stock):
    gadget, _ = models()
    names = [*TEXTS, *ABSENT, "g0010", "g0011"]
    for company in (stock.company_a, stock.company_b):
        expected = sorted(n for n in names if stock.company_of.get(n) == company)
        with company_scope([company], company):
            got = db_session.scalars(
                select(gadget.name).where(in_values(db_session, gadget.name, names))
            ).all()
            objects = db_session.scalars(
                select(gadget).where(in_values(db_session, gadget.id, list(stock.ids.values())))
            ).all()
            first = select(gadget.id).where(in_values(db_session, gadget.name, ["g0010"]))
            second = select(gadget.id).where(in_values(db_session, gadget.name, ["g0011"]))
            from_union = sorted(db_session.scalars(union(first, second)))
        db_session.expunge_all()
        assert sorted(got) == expected
        assert {o.company_id for o in objects} == {company}
        assert len(objects) == sum(1 for c in stock.company_of.values() if c == company)
        assert from_union == [stock.ids[n] for n in ("g0010", "g0011") if n in expected]


# --------------------------------------------------------------------------- indexes


def _plan(conn, statement: str, params: Any, *, sqlite: bool) -> str:
    prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
    return "\n".join(str(row[-1]) for row in conn.exec_driver_sql(prefix + statement, params))


def test_sqlite_uses_the_index_of_a_text_column():
    """On a fresh SQLite database (no statistics: the plan is the same on every run)."""
    engine = create_engine("sqlite://")
    table = Table(
        "iv_people",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("email", String(100), index=True),
        Column("note", String(100)),
    )
    table.metadata.create_all(engine)
    log = StatementLog()
    with engine.connect() as conn, Session(conn) as session:
        conn.execute(table.insert(), [{"email": f"p{i}@x", "note": "n"} for i in range(50)])
        event.listen(conn, "before_cursor_execute", log)
        found = session.scalars(
            select(table.c.id).where(in_values(session, table.c.email, ["p3@x", "p7@x"]))
        ).all()
        unindexed = select(table.c.id).where(in_values(session, table.c.note, ["n"]))
        assert len(session.scalars(unindexed).all()) == 50
        event.remove(conn, "before_cursor_execute", log)
        assert sorted(found) == [4, 8]
        indexed_plan = _plan(conn, *log.sent[0], sqlite=True)
        scan_plan = _plan(conn, *log.sent[1], sqlite=True)
    engine.dispose()
    assert "INDEX ix_iv_people_email (email=?)" in indexed_plan, indexed_plan
    assert "SCAN iv_people" in scan_plan and "INDEX ix_iv_people" not in scan_plan, scan_plan


@pytest.mark.skipif(not ON_PG, reason="PostgreSQL only (MOSAIC_TEST_DATABASE_URL)")
def test_postgresql_can_use_the_index_of_a_text_column(db_session, stock, statements):
    gadget, _ = models()
    sql, params = run_logged(
        db_session, statements, in_values(db_session, gadget.name, ["plain", "ß"])
    )
    conn = db_session.connection()
    conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # undone with the test's rollback
    plan = _plan(conn, sql, params, sqlite=False)
    assert "ix_testkit_gadget_name" in plan and "ANY" in plan, plan


@pytest.mark.skipif(not ON_PG, reason="PostgreSQL only (MOSAIC_TEST_DATABASE_URL)")
def test_postgresql_probes_the_index_once_per_value(db_session, stock, statements):
    """``probe_index=True``: the values are unnested and each one looked up in the index."""
    gadget, _ = models()
    names = [f"g{i:04d}" for i in range(0, NUMBERED, 3)]
    sql, params = run_logged(
        db_session, statements, in_values(db_session, gadget.name, names, probe_index=True)
    )
    assert "unnest" in sql and len(params) == 1, (sql, params)
    conn = db_session.connection()
    conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # a small table; undone by rollback
    plan = _plan(conn, sql, params, sqlite=False)
    assert "Index" in plan and "ix_testkit_gadget_name" in plan and "unnest" in plan, plan


# --------------------------------------------------------------------------- known gaps


def test_a_mix_of_text_and_integers_answers_like_in(db_session, stock):
    gadget, _ = models()
    first, second = stock.ids["g0001"], stock.ids["g0002"]
    assert assert_like_in(db_session, gadget.id, [first, str(second)]) == [first, second]


def test_integers_beyond_32_bits_find_nothing_instead_of_failing(db_session, stock):
    """Bound as a BIGINT array on PostgreSQL (the plain IN binds INTEGER there and fails)."""
    gadget, _ = models()
    first = stock.ids["g0001"]
    found = db_session.scalars(
        select(gadget.id).where(in_values(db_session, gadget.id, [first, 2**40]))
    ).all()
    assert found == [first]


def test_integers_against_a_text_column_answer_like_in(db_session, stock):
    gadget, _ = models()
    assert_like_in(db_session, gadget.name, [123, 5])
    # a text stored as digits: the plain IN finds it on SQLite (PostgreSQL refuses both)
    gadget_table = gadget.__table__
    db_session.execute(gadget_table.insert(), [{"name": "5", "company_id": stock.company_a}])
    assert_like_in(db_session, gadget.name, [5])


def test_text_with_a_nul_character_answers_like_in(db_session, stock):
    gadget, _ = models()
    if ON_PG:  # no NUL in PostgreSQL text: both forms must refuse it alike
        assert assert_like_in(db_session, gadget.name, ["a\x00b"]) == "DataError"
        return
    table = gadget.__table__
    db_session.execute(table.insert(), [{"name": "a\x00b", "company_id": stock.company_a}])
    assert assert_like_in(db_session, gadget.name, ["a\x00b"]) != []
