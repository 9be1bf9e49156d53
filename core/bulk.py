"""Writing many new rows at once through the ORM (CSV imports, data loads).

The unit of work inserts the new rows of a table with one ``executemany`` only when it does
not need the database to hand back their primary keys. Otherwise it has to ask for them:

* SQLite cannot tie the generated ``ROWID`` of a multi-row insert to its parameter set, so
  SQLAlchemy falls back to one ``INSERT ... RETURNING`` per row, several times the cost of
  the row itself;
* PostgreSQL gets one multi-row ``INSERT ... RETURNING`` per thousand rows, but psycopg
  parses such a long statement in Python each time (it only caches short ones), which costs
  more than the insert.

``assign_ids`` closes the gap: just before a flush it gives the session's new rows their
ids, so that the flush is a plain ``executemany``.

* PostgreSQL: the ids come from the column's own sequence (``nextval`` once per row, in one
  query per table), exactly as the default would have drawn them, and safe under any
  concurrency.
* SQLite: the table's highest id plus one, and so on, which is what SQLite itself would
  have chosen (the tables are ``ROWID`` tables without ``AUTOINCREMENT``). It is safe
  because SQLite has a single writer: a transaction that read the highest id and was
  overtaken by another writer cannot write any more (``SQLITE_BUSY_SNAPSHOT``, "database is
  locked"), so the caller sees a failed statement, never a duplicated id.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Integer, func, inspect, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Mapper, Session


def assign_ids(session: Session) -> int:
    """Give the pending rows of integer-keyed tables their ids; return how many were given.

    Rows whose id is already set are left alone, and so are tables on other databases than
    SQLite and PostgreSQL, or without a sequence behind the key on PostgreSQL.
    """
    dialect = session.get_bind().dialect.name
    if dialect not in ("sqlite", "postgresql"):
        return 0
    waiting: dict[Mapper, list[Any]] = defaultdict(list)
    for obj in session.new:
        mapper = inspect(obj).mapper
        if _single_integer_key(mapper) and getattr(obj, mapper.primary_key[0].key) is None:
            waiting[mapper].append(obj)
    assigned = 0
    connection = session.connection()
    for mapper, objects in waiting.items():
        column = mapper.primary_key[0]
        key = mapper.get_property_by_column(column).key
        if dialect == "sqlite":
            # A Core statement on the table: company scoping must not hide other companies' ids.
            highest = connection.scalar(select(func.max(mapper.local_table.c[column.name])))
            ids: list[int] = list(range((highest or 0) + 1, (highest or 0) + 1 + len(objects)))
        else:
            sequence = connection.scalar(
                text("SELECT pg_get_serial_sequence(:table, :column)"),
                {"table": mapper.local_table.fullname, "column": column.name},
            )
            if sequence is None:
                continue
            ids = list(
                connection.scalars(
                    text("SELECT nextval(CAST(:sequence AS regclass)) FROM generate_series(1, :n)"),
                    {"sequence": sequence, "n": len(objects)},
                )
            )
        for obj, new_id in zip(objects, ids, strict=True):
            setattr(obj, key, new_id)
        assigned += len(objects)
    return assigned


def _single_integer_key(mapper: Mapper) -> bool:
    if len(mapper.primary_key) != 1:
        return False
    column = mapper.primary_key[0]
    return isinstance(column.type, Integer) and column.table is mapper.local_table


#: Rows written by one import after which the planner's statistics are refreshed.
ANALYZE_AFTER_ROWS = 1000


def refresh_statistics(session: Session, tables: set[str]) -> None:
    """``ANALYZE`` the tables a large import wrote to, merge their GIN pending lists (PostgreSQL).

    A table filled in one go has no statistics until autovacuum gets to it, and until then
    the planner takes it for nearly empty: a list with a join right after an import of
    100,000 contacts ran a nested loop over every account (1.6 s instead of 0.05 s). ANALYZE
    samples the table in the import's own transaction, so the figures commit with the rows.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    connection = session.connection()
    preparer = connection.dialect.identifier_preparer
    for table in sorted(tables):
        connection.exec_driver_sql(f"ANALYZE {preparer.quote(table)}")
    _merge_gin_pending_lists(session, tables)


def _merge_gin_pending_lists(session: Session, tables: set[str]) -> None:
    """Move the rows an import queued in GIN indexes (trigram search) into the indexes proper.

    GIN indexes take new rows into a "pending list" that every search must read through
    until VACUUM merges it: right after an import of 100,000 contacts a search that the
    trigram indexes answer in 3 ms took 50 ms. ``gin_clean_pending_list`` does the merge now,
    in the import's transaction. It needs the rights VACUUM needs; without them (a role that
    does not own the tables) the merge is left to autovacuum.
    """
    connection = session.connection()
    indexes = connection.scalars(
        text(
            "SELECT idx.relname FROM pg_index i"
            " JOIN pg_class idx ON idx.oid = i.indexrelid"
            " JOIN pg_class tbl ON tbl.oid = i.indrelid"
            " JOIN pg_am am ON am.oid = idx.relam"
            " WHERE am.amname = 'gin' AND tbl.relname = ANY(:tables)"
            " AND pg_table_is_visible(tbl.oid)"
        ),
        {"tables": sorted(tables)},
    ).all()
    for index in indexes:
        try:
            with session.begin_nested():
                session.connection().execute(
                    text("SELECT gin_clean_pending_list(CAST(:index AS regclass))"),
                    {"index": index},
                )
        except DBAPIError:
            return
