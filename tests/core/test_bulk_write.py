"""``core.bulk_write.write_rows``: new rows written as ``connection.execute(insert(table), rows)``
would write them, by ``COPY ... FROM STDIN`` on PostgreSQL with psycopg.

Audit entries, the ORM's bulk inserts and the link rows of ``core.bulk.insert_new`` go
through it, so a row that ``COPY`` writes differently from an ``INSERT`` (a mangled
backslash, a JSON ``null`` turned into SQL ``NULL``, a left-out default) would corrupt data
silently. Every test writes the same rows through ``write_rows`` into one table and through
the plain ``INSERT`` into an identical one and compares what the database gives back; where
it matters, it also compares with the values the test put in. The statement sent is checked
with a ``before_cursor_execute`` listener: ``COPY`` on PostgreSQL, ``INSERT`` elsewhere and
whenever ``COPY`` cannot do the job (a callable default, rows with different keys, one row).

Tables are made per test on a ``MetaData`` of their own, inside the test's transaction
(``db_session``), and dropped before it is rolled back. Run on SQLite by default and on
PostgreSQL with ``MOSAIC_TEST_DATABASE_URL``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    event,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.types import TypeDecorator

from core.audit import init_audit
from core.bulk_write import write_rows
from core.models import AuditLog, User
from core.tenancy import as_user
from tests.conftest import PG_URL
from tests.core.identity_world import build_world, models

ON_PG = bool(PG_URL)

#: Text that breaks naive COPY text-format escaping, CSV quoting or encodings.
AWKWARD = [
    "plain",
    "tab\there",
    "new\nline",
    "carriage\r\nreturn",
    "back\\slash",
    "trailing\\",
    "\\N",
    "\\.",
    "\\t not a tab",
    "O'Brien",
    'say "hi"',
    "a,b;c|d",
    "Zürich 日本語 emoji 😀",
    "",
    " padded ",
    "null",
    "NULL",
    "\x01\x7f control",
    "long " + "é\\\t\n" * 20_000,
]


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


class Shout(TypeDecorator[str]):
    """Stored upper-cased: its ``process_bind_param`` must run on every path."""

    impl = String(200)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else value.upper() + "!"


class Strict(TypeDecorator[str]):
    """Refuses the value ``"bad"`` while binding, as a type's own validation would."""

    impl = String(50)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        if value == "bad":
            raise ValueError("bad value")
        return value


class Lower(TypeDecorator[str]):
    """Lower-cased by the database: a SQL-level bind expression, not a Python conversion."""

    impl = String(50)
    cache_ok = True

    def bind_expression(self, bindvalue: Any) -> Any:
        return func.lower(bindvalue)


# --- fixtures and helpers ------------------------------------------------------------


@pytest.fixture
def conn(db_session) -> Iterator[Connection]:
    """The test transaction's connection, with ``metadata`` to create tables on (dropped after)."""
    connection = db_session.connection()
    metadata = MetaData()
    connection.info["bw_metadata"] = metadata
    try:
        yield connection
    finally:
        connection.info.pop("bw_metadata", None)
        if metadata.tables and not connection.closed:
            # The transaction is rolled back afterwards anyway (undoing the DDL on both
            # backends); dropping first keeps the tables from outliving a failed rollback.
            metadata.drop_all(connection, checkfirst=True)


def _metadata(connection: Connection) -> MetaData:
    return connection.info["bw_metadata"]


def _create(connection: Connection, *tables: Table) -> None:
    _metadata(connection).create_all(connection, tables=list(tables))


class Statements:
    """The statements the connection sends (``before_cursor_execute``), and their kind."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any, bool]] = []
        self.after: list[str] = []

    def before(self, _conn, _cursor, statement, parameters, _context, executemany) -> None:
        self.sent.append((statement, parameters, executemany))

    def after_(self, _conn, _cursor, statement, _parameters, _context, _executemany) -> None:
        self.after.append(statement)

    @property
    def kinds(self) -> list[str]:
        return [statement.lstrip().split(None, 1)[0].upper() for statement, _p, _m in self.sent]


def _watch(connection: Connection, run: Callable[[], Any]) -> Statements:
    """Run ``run()`` and return what ``connection`` sent meanwhile."""
    seen = Statements()
    event.listen(connection, "before_cursor_execute", seen.before)
    event.listen(connection, "after_cursor_execute", seen.after_)
    try:
        run()
    finally:
        event.remove(connection, "before_cursor_execute", seen.before)
        event.remove(connection, "after_cursor_execute", seen.after_)
    return seen


def _rows(connection: Connection, table: Table, *extra: Any) -> list[tuple]:
    return [
        tuple(row)
        for row in connection.execute(
            select(*table.columns, *extra).order_by(*table.primary_key.columns)
        )
    ]


def _twins(connection: Connection, make: Callable[[str], Table]) -> tuple[Table, Table]:
    """Two identical tables: ``a`` for ``write_rows``, ``b`` for the plain ``INSERT``."""
    a, b = make("bw_a"), make("bw_b")
    _create(connection, a, b)
    return a, b


def _id_twins(connection: Connection, key: str, type_: Any) -> tuple[Table, Table]:
    """``_twins`` of a table of a given ``id`` and one column ``key`` of ``type_``."""
    return _twins(
        connection,
        lambda name: Table(
            name,
            _metadata(connection),
            Column("id", Integer, primary_key=True, autoincrement=False),
            Column(key, type_),
        ),
    )


def _both(connection: Connection, a: Table, b: Table, rows: list[dict]) -> Statements:
    """Write ``rows`` into ``a`` with ``write_rows`` (watched) and into ``b`` with ``INSERT``."""
    seen = _watch(connection, lambda: write_rows(connection, a, [dict(r) for r in rows]))
    connection.execute(insert(b), [dict(r) for r in rows])
    return seen


def _assert_copy_or_insert(seen: Statements) -> None:
    """A write of several rows with plain defaults: one ``COPY`` on PostgreSQL."""
    if ON_PG:
        assert seen.kinds == ["COPY"], seen.kinds
        assert seen.after == [seen.sent[0][0]]  # after_cursor_execute hears of it too
    else:
        assert seen.kinds == ["INSERT"] and seen.sent[0][2] is True  # one executemany


def _assert_insert(seen: Statements) -> None:
    """A write ``COPY`` cannot do: an ``INSERT`` on every backend."""
    assert seen.kinds and set(seen.kinds) == {"INSERT"}, seen.kinds


# --- tables ----------------------------------------------------------------------------


def _values_table(metadata: MetaData, name: str) -> Table:
    return Table(
        name,
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("body", Text),
        Column("label", String(40)),
        Column("flag", Boolean),
        Column("big", BigInteger),
        Column("amount", Numeric(24, 6)),
        Column("day", Date),
        Column("moment", DateTime(timezone=True)),
        Column("doc", JSON),
        Column("colour", Enum(Colour, name=f"{name}_colour")),
        Column("shout", Shout),
    )


def _defaults_table(metadata: MetaData, name: str, *extra: Column) -> Table:
    return Table(
        name,
        metadata,
        Column("id", Integer, primary_key=True),  # autoincrement: left out, the server draws
        Column("name", String(40), nullable=False),
        Column("kind", String(20), default="plain"),
        Column("loud", Shout, default="quiet"),  # a scalar default goes through the type too
        Column("doc", JSON, default={"fresh": True}),
        Column("origin", String(20), server_default=text("'server'")),
        Column("rank", Integer, server_default=text("7")),
        Column("note", Text),  # no default at all: NULL
        *extra,
    )


def _awkward_rows() -> list[dict[str, Any]]:
    docs: list[Any] = [
        {"a": 1, "b": [1, 2, {"c": None}], "t": 'tab\t\\N "q" 😀'},
        [1, "two", None, 3.5, True],
        {"nested": {"deeper": {"deepest": ["x", {"y": "z"}]}}},
        "just a string",
        None,  # JSON null or SQL NULL: whatever the INSERT stores, write_rows must too
        12,
        [],
        {},
    ]
    moments = [
        datetime(2024, 3, 31, 1, 30, tzinfo=ZoneInfo("Europe/Berlin")),
        datetime(2024, 11, 3, 1, 30, tzinfo=ZoneInfo("America/New_York")),
        datetime(2023, 1, 1, 23, 59, 59, 999_999, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        datetime(2000, 2, 29, 12, 0, tzinfo=UTC),
        None,
    ]
    rows = []
    for i, body in enumerate(AWKWARD):
        rows.append(
            {
                "id": i + 1,
                "body": body,
                "label": None if i % 4 == 3 else body[:40],
                "flag": [True, False, None][i % 3],
                "big": [2**63 - 1, -(2**63), 0, None, 2**31][i % 5],
                "amount": [
                    Decimal("9876543.210987"),  # SQLite stores a float: 15 digits
                    Decimal("-0.000001"),
                    Decimal("0"),
                    None,
                    Decimal("1E+3"),
                ][i % 5],
                "day": [date(1970, 1, 1), date(2024, 2, 29), None, date(9999, 12, 31)][i % 4],
                "moment": moments[i % len(moments)],
                "doc": docs[i % len(docs)],
                "colour": [Colour.RED, Colour.GREEN, None][i % 3],
                "shout": [body[:50], None, "mixed Case ü"][i % 3],
            }
        )
    return rows


# --- 1. equivalence --------------------------------------------------------------------


def test_awkward_values_read_back_as_the_insert_writes_them(conn):
    a, b = _twins(conn, lambda name: _values_table(_metadata(conn), name))
    rows = _awkward_rows()
    seen = _both(conn, a, b, rows)
    _assert_copy_or_insert(seen)
    sql_null_a = _rows(conn, a, a.c.doc.is_(None))
    sql_null_b = _rows(conn, b, b.c.doc.is_(None))
    assert sql_null_a == sql_null_b  # every value, and JSON null vs SQL NULL alike
    # and what came back is what was put in (so that both being wrong alike would show)
    got = {r.id: r for r in conn.execute(select(a))}
    for row in rows:
        back = got[row["id"]]
        assert back.body == row["body"]
        assert back.label == row["label"]
        assert back.flag is row["flag"]
        assert back.big == row["big"]
        assert back.amount == row["amount"]
        assert back.day == row["day"]
        assert back.colour == row["colour"]
        assert back.shout == (None if row["shout"] is None else row["shout"].upper() + "!")
        assert back.doc == row["doc"]
        if ON_PG and row["moment"] is not None:  # SQLite keeps no offset: compared above
            # (a time in a repeated hour never equals one in another zone: compare instants)
            assert back.moment.timestamp() == row["moment"].timestamp()


def test_the_rows_written_are_not_changed(conn):
    a, _b = _twins(conn, lambda name: _values_table(_metadata(conn), name))
    rows = _awkward_rows()[:4]
    before = [dict(r) for r in rows]
    write_rows(conn, a, rows)
    assert rows == before


# --- 2. left-out columns ---------------------------------------------------------------


def test_left_out_columns_get_scalar_and_server_defaults_and_ids(conn):
    a, b = _twins(conn, lambda name: _defaults_table(_metadata(conn), name))
    rows = [{"name": f"n{i}"} for i in range(5)]
    seen = _both(conn, a, b, rows)
    _assert_copy_or_insert(seen)
    assert _rows(conn, a) == _rows(conn, b)
    got = conn.execute(select(a).order_by(a.c.id)).all()
    assert len({r.id for r in got}) == 5 and all(isinstance(r.id, int) for r in got)
    assert {(r.kind, r.loud, r.origin, r.rank, r.note) for r in got} == {
        ("plain", "QUIET!", "server", 7, None)
    }
    assert [r.doc for r in got] == [{"fresh": True}] * 5
    # the ids come from the table's own sequence: a later INSERT continues after them
    conn.execute(insert(a), [{"name": "later"}])
    assert conn.scalar(select(a.c.id).where(a.c.name == "later")) > max(r.id for r in got)


def test_given_none_is_written_as_null_not_replaced_by_the_default(conn):
    a, b = _twins(conn, lambda name: _defaults_table(_metadata(conn), name))
    rows = [{"name": f"n{i}", "kind": None, "origin": None, "doc": None} for i in range(3)]
    _assert_copy_or_insert(_both(conn, a, b, rows))
    assert _rows(conn, a, a.c.doc.is_(None)) == _rows(conn, b, b.c.doc.is_(None))
    assert {(r.kind, r.origin) for r in conn.execute(select(a))} == {(None, None)}


def _from_context(context: Any) -> str:
    return context.get_current_parameters()["name"] + "-ctx"


def test_callable_defaults_still_get_their_values(conn):
    def make(name: str) -> Table:
        return _defaults_table(
            _metadata(conn),
            name,
            Column("stamp", String(20), default=lambda: "called"),
            Column("echo", String(60), default=_from_context),
        )

    a, b = _twins(conn, make)
    rows = [{"name": f"n{i}"} for i in range(4)]
    seen = _both(conn, a, b, rows)
    _assert_insert(seen)  # COPY cannot call them: the executemany does
    assert _rows(conn, a) == _rows(conn, b)
    assert [(r.stamp, r.echo, r.kind) for r in conn.execute(select(a).order_by(a.c.id))] == [
        ("called", f"n{i}-ctx", "plain") for i in range(4)
    ]


def test_a_sql_expression_default_is_computed_by_the_insert(conn):
    def make(name: str) -> Table:
        return _defaults_table(
            _metadata(conn), name, Column("computed", Integer, default=text("40 + 2"))
        )

    a, b = _twins(conn, make)
    seen = _both(conn, a, b, [{"name": "x"}, {"name": "y"}])
    _assert_insert(seen)
    assert _rows(conn, a) == _rows(conn, b)
    assert set(conn.scalars(select(a.c.computed))) == {42}


# --- 3. key sets, one row, no rows -----------------------------------------------------


def test_rows_with_different_keys_are_written_as_the_insert_writes_them(conn):
    a, b = _twins(conn, lambda name: _defaults_table(_metadata(conn), name))
    # the executemany takes the first row's columns: the later "kind" is not written
    rows = [{"id": 1, "name": "a"}, {"id": 2, "name": "b", "kind": "special"}]
    seen = _both(conn, a, b, rows)
    _assert_insert(seen)
    assert _rows(conn, a) == _rows(conn, b)
    # and a row missing a key of the first is refused alike
    bad = [{"id": 3, "name": "c", "kind": "k"}, {"id": 4, "name": "d"}]
    errors = []
    for run in (lambda: write_rows(conn, a, bad), lambda: conn.execute(insert(b), bad)):
        with pytest.raises(StatementError) as info:
            run()
        errors.append(info.value)
    assert type(errors[0]) is type(errors[1])
    assert type(errors[0].orig) is type(errors[1].orig)
    assert _rows(conn, a) == _rows(conn, b)


def test_same_keys_in_another_order_still_take_the_fast_path(conn):
    a, b = _twins(conn, lambda name: _defaults_table(_metadata(conn), name))
    rows = [{"id": 1, "name": "a", "kind": "k1"}, {"kind": "k2", "name": "b", "id": 2}]
    _assert_copy_or_insert(_both(conn, a, b, rows))
    assert _rows(conn, a) == _rows(conn, b)
    assert [r.kind for r in conn.execute(select(a).order_by(a.c.id))] == ["k1", "k2"]


def test_one_row_is_an_insert(conn):
    a, b = _twins(conn, lambda name: _defaults_table(_metadata(conn), name))
    seen = _both(conn, a, b, [{"name": "only"}])
    assert seen.kinds == ["INSERT"]
    assert _rows(conn, a) == _rows(conn, b)
    assert conn.scalar(select(a.c.kind)) == "plain"


def test_no_rows_send_nothing(conn):
    a, _b = _twins(conn, lambda name: _defaults_table(_metadata(conn), name))
    seen = _watch(conn, lambda: write_rows(conn, a, []))
    assert seen.sent == []
    assert conn.scalar(select(func.count()).select_from(a)) == 0


def test_an_unknown_key_is_treated_as_the_insert_treats_it(conn):
    a, b = _twins(conn, lambda name: _defaults_table(_metadata(conn), name))
    rows = [{"name": "a", "nope": 1}, {"name": "b", "nope": 2}]
    outcomes = []
    for run in (lambda: write_rows(conn, a, rows), lambda: conn.execute(insert(b), rows)):
        try:
            run()
            outcomes.append(None)
        except Exception as exc:  # whatever it is, both must agree
            outcomes.append((type(exc), str(exc).replace("bw_a", "bw_b")))
    assert outcomes[0] == outcomes[1]
    assert _rows(conn, a) == _rows(conn, b)


# --- 4. the statement sent -------------------------------------------------------------


def test_engine_listeners_are_told_of_the_write_too(db, conn):
    """Statement counters listen on the engine: the ``COPY`` must reach them as well."""
    a, _b = _twins(conn, lambda name: _defaults_table(_metadata(conn), name))
    seen = Statements()
    event.listen(db.engine, "before_cursor_execute", seen.before)
    try:
        write_rows(conn, a, [{"name": f"n{i}"} for i in range(3)])
    finally:
        event.remove(db.engine, "before_cursor_execute", seen.before)
    assert seen.kinds == (["COPY"] if ON_PG else ["INSERT"])
    assert conn.scalar(select(func.count()).select_from(a)) == 3


def test_many_rows_are_one_statement(conn):
    a, b = _twins(conn, lambda name: _values_table(_metadata(conn), name))
    rows = [
        {**row, "id": i + 1}
        for i, row in enumerate(_awkward_rows()[:3] * 700)  # 2,100 rows
    ]
    seen = _both(conn, a, b, rows)
    _assert_copy_or_insert(seen)
    assert len(seen.sent) == 1
    assert conn.scalar(select(func.count()).select_from(a)) == len(rows)
    assert _rows(conn, a) == _rows(conn, b)


# --- 5. errors -------------------------------------------------------------------------


def _parent_child(conn: Connection, prefix: str) -> tuple[Table, Table]:
    metadata = _metadata(conn)
    parent = Table(
        f"{prefix}_parent",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("name", String(40), nullable=False),
    )
    child = Table(
        f"{prefix}_child",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("parent_id", ForeignKey(parent.c.id), nullable=False),
    )
    return parent, child


BROKEN = {
    "duplicate key": ("parent", [{"id": 10, "name": "x"}, {"id": 1, "name": "again"}]),
    "duplicate within the rows": ("parent", [{"id": 10, "name": "x"}, {"id": 10, "name": "y"}]),
    "not null": ("parent", [{"id": 10, "name": "x"}, {"id": 11, "name": None}]),
    "foreign key": ("child", [{"id": 10, "parent_id": 1}, {"id": 11, "parent_id": 999}]),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_constraint_is_an_integrity_error_and_leaves_nothing(db_session, conn, case):
    errors = {}
    for prefix, write in (
        ("bw_a", lambda c, t, r: write_rows(c, t, r)),
        ("bw_b", lambda c, t, r: c.execute(insert(t), r)),
    ):
        parent, child = _parent_child(conn, prefix)
        _create(conn, parent, child)
        conn.execute(insert(parent), [{"id": 1, "name": "one"}])
        conn.execute(insert(child), [{"id": 1, "parent_id": 1}])
        which, rows = BROKEN[case]
        table = parent if which == "parent" else child
        with pytest.raises(IntegrityError) as info, db_session.begin_nested():
            write(db_session.connection(), table, rows)  # (the savepoint begins here)
        errors[prefix] = info.value
        # none of the rows stays, and the transaction goes on
        assert conn.execute(select(table.c.id).order_by(table.c.id)).scalars().all() == [1]
        conn.execute(insert(table), [{**rows[0], "id": 20}])
        assert db_session.scalar(select(func.count()).select_from(table)) == 2
    fast, plain = errors["bw_a"], errors["bw_b"]
    dbapi_error = conn.dialect.loaded_dbapi.Error
    assert isinstance(fast.orig, dbapi_error)
    assert type(fast) is type(plain)
    assert type(fast.orig) is type(plain.orig)
    if ON_PG:
        assert fast.orig.sqlstate == plain.orig.sqlstate
        assert fast.statement.startswith("COPY")


def test_a_value_the_type_refuses_is_a_statement_error(db_session, conn):
    a, b = _id_twins(conn, "value", Strict)
    rows = [{"id": 1, "value": "good"}, {"id": 2, "value": "bad"}]
    for table, write in ((a, write_rows), (b, lambda c, t, r: c.execute(insert(t), r))):
        with pytest.raises(StatementError) as info, db_session.begin_nested():
            write(db_session.connection(), table, rows)
        assert isinstance(info.value.orig, ValueError)
        assert conn.scalar(select(func.count()).select_from(table)) == 0
    # Refused before anything is sent: without a savepoint the transaction is still usable
    # (a COPY that failed half-way would have aborted it on PostgreSQL).
    with pytest.raises(StatementError):
        write_rows(conn, a, rows)
    assert conn.scalar(select(func.count()).select_from(a)) == 0


# --- 6. awkward names ------------------------------------------------------------------


def test_quoted_table_and_column_names(conn):
    def make(name: str) -> Table:
        return Table(
            f"{name} Odd-Name",
            _metadata(conn),
            Column("id", Integer, primary_key=True),
            Column("order", String(20)),
            Column("CamelCase", Integer),
            Column("with space", Text, default="dflt"),
            Column('quote"d', Text),
            Column("select", String(20), key="chosen"),  # rows name it by its key
        )

    a, b = _twins(conn, make)
    rows = [
        {"order": f"o{i}", "CamelCase": i, 'quote"d': f'q"{i}', "chosen": f"s{i}"} for i in range(3)
    ]
    _assert_copy_or_insert(_both(conn, a, b, rows))
    assert _rows(conn, a) == _rows(conn, b)
    got = conn.execute(select(a).order_by(a.c.id)).all()
    assert [tuple(r)[1:] for r in got] == [
        (f"o{i}", i, "dflt", f'q"{i}', f"s{i}") for i in range(3)
    ]


# --- where COPY's text input differs from an INSERT: these take the INSERT ---------------


def test_a_bind_expression_is_applied(conn):
    a, b = _id_twins(conn, "low", Lower)
    _both(conn, a, b, [{"id": 1, "low": "ABC"}, {"id": 2, "low": "DeF"}])
    assert _rows(conn, a) == _rows(conn, b) == [(1, "abc"), (2, "def")]


def test_an_aware_datetime_in_a_naive_column_is_stored_as_the_insert_stores_it(conn):
    a, b = _id_twins(conn, "moment", DateTime(timezone=False))
    moment = datetime(2024, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=5)))
    _both(conn, a, b, [{"id": 1, "moment": moment}, {"id": 2, "moment": moment}])
    assert _rows(conn, a) == _rows(conn, b)


def test_rows_written_on_a_fresh_connection_are_committed_by_commit(db):
    metadata = MetaData()
    table = _defaults_table(metadata, "bw_fresh")
    with db.engine.begin() as connection:
        metadata.create_all(connection)
    try:
        with db.engine.connect() as connection:
            write_rows(connection, table, [{"name": "a"}, {"name": "b"}])
            connection.commit()
        with db.engine.connect() as connection:
            assert connection.scalars(select(table.c.name).order_by(table.c.id)).all() == [
                "a",
                "b",
            ]
    finally:
        with db.engine.begin() as connection:
            metadata.drop_all(connection)


# --- end to end: audit entries of a flush ----------------------------------------------


def test_audit_entries_of_a_flush_of_many_new_records(db_session):
    init_audit()  # (installed when core.audit is first imported; idempotent)
    world = build_world(db_session)
    Gadget, _Part = models()
    names = ["tab\there", "back\\slash \\N", 'quote "q" 😀', "plain"]
    connection = db_session.connection()
    with as_user(db_session, db_session.get(User, world.users["alice"])):
        gadgets = [
            Gadget(name=name, price=Decimal(f"{i}.25"), notes=None if i % 2 else "n\tn")
            for i, name in enumerate(names)
        ]
        db_session.add_all(gadgets)
        seen = _watch(connection, db_session.flush)
    audit_writes = [
        kind
        for kind, (statement, _p, _m) in zip(seen.kinds, seen.sent, strict=True)
        if AuditLog.__tablename__ in statement
    ]
    assert audit_writes == (["COPY"] if ON_PG else ["INSERT"])
    for gadget in gadgets:
        (log,) = db_session.scalars(
            select(AuditLog).where(
                AuditLog.table_name == Gadget.__tablename__, AuditLog.record_id == gadget.id
            )
        ).all()
        assert log.action == "create"
        assert log.user_id == world.users["alice"]
        assert log.company_id == gadget.company_id == world.company_a
        assert log.at.tzinfo is not None
        assert log.changes["name"] == {"old": None, "new": gadget.name}
        assert log.changes["price"] == {"old": None, "new": str(gadget.price)}
        assert log.changes["company_id"] == {"old": None, "new": world.company_a}
        if gadget.notes is None:
            assert "notes" not in log.changes
        else:
            assert log.changes["notes"] == {"old": None, "new": gadget.notes}
