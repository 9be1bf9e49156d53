"""Writing many new rows at once through the ORM (CSV imports, data loads).

The unit of work inserts new rows of a table in one batch only when it does not need the
database to hand back their primary keys row by row. PostgreSQL returns the generated keys
of a multi-row ``INSERT ... RETURNING`` in order, so batches work there as they are. SQLite
cannot tie the generated ``ROWID`` of a multi-row insert to its parameter set, and
SQLAlchemy then falls back to one ``INSERT ... RETURNING`` per row, several times the cost
of the row itself.

``assign_ids`` closes that gap on SQLite: just before a flush it gives the session's new
rows their ids (the table's highest id plus one, and so on) so that the flush is a plain
``executemany``. This is what SQLite would have chosen itself (the tables are ``ROWID``
tables without ``AUTOINCREMENT``), and it is safe because SQLite has a single writer: a
transaction that read the highest id and is overtaken by another writer cannot write any
more (``SQLITE_BUSY_SNAPSHOT``, "database is locked"); the caller's error handling sees a
failed statement, never a duplicated id.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Integer, func, inspect, select
from sqlalchemy.orm import Mapper, Session


def assign_ids(session: Session) -> int:
    """On SQLite, give the pending rows of integer-keyed tables their ids; return how many.

    Does nothing on other databases (their generated keys come back in batches) and leaves
    alone rows whose id is already set.
    """
    if session.get_bind().dialect.name != "sqlite":
        return 0
    waiting: dict[Mapper, list[Any]] = defaultdict(list)
    for obj in session.new:
        mapper = inspect(obj).mapper
        if _single_integer_key(mapper) and getattr(obj, mapper.primary_key[0].key) is None:
            waiting[mapper].append(obj)
    assigned = 0
    for mapper, objects in waiting.items():
        column = mapper.primary_key[0]
        key = mapper.get_property_by_column(column).key
        # A Core statement on the table: company scoping must not hide other companies' ids.
        highest = session.connection().scalar(select(func.max(mapper.local_table.c[column.name])))
        next_id = (highest or 0) + 1
        for obj in objects:
            setattr(obj, key, next_id)
            next_id += 1
        assigned += len(objects)
    return assigned


def _single_integer_key(mapper: Mapper) -> bool:
    if len(mapper.primary_key) != 1:
        return False
    column = mapper.primary_key[0]
    return isinstance(column.type, Integer) and column.table is mapper.local_table
