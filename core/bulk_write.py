"""Many new rows into one table at the database's bulk-loading speed: ``COPY`` on PostgreSQL.

An ``executemany`` through psycopg sends one ``INSERT`` per row (pipelined, but each one
bound and executed on its own by the server, and each parameter set adapted in Python).
``COPY ... FROM STDIN`` streams the rows as one statement: measured on 20,000 imported
contacts, their addresses, tag links and 24,000 audit entries, the writes took 4.1-4.8 s
instead of 6.9-7.5 s (``benchmarks/bench_contacts.py`` prints the effect on a whole import).

``write_rows`` takes what ``connection.execute(insert(table), rows)`` takes and does the
same: the rows' column values after the column types' own conversion (``bind_processor``),
Python-side column defaults for the columns the rows leave out, server defaults for the
rest, errors raised as SQLAlchemy's (``IntegrityError`` for a broken constraint). Anything
it cannot write that way (another database or driver, rows with different keys, a default
it cannot compute without the statement, a column whose value ``COPY``'s text input would
store differently: see ``_copyable_type``) goes through the ``executemany`` unchanged.

Statement listeners (``before_cursor_execute``/``after_cursor_execute``) are told of the
``COPY`` like of any statement, so statement counters and SQL logs still see every write;
they get no execution context (``None``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, DateTime, Table, bindparam, insert
from sqlalchemy.exc import DBAPIError, StatementError

#: Fewer rows than this are one ``INSERT`` each anyway; a ``COPY`` would not be quicker.
COPY_FROM_ROWS = 2


def write_rows(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (column key -> value, the same keys in every row) into ``table``."""
    if not rows:
        return
    columns = _copy_columns(connection, table, rows)
    if columns is None:
        connection.execute(insert(table), list(rows))
        return
    _copy(connection, table, columns, rows)


def _copy_columns(
    connection: Connection, table: Table, rows: Sequence[dict[str, Any]]
) -> list[tuple[Any, Any]] | None:
    """``[(column, value source)]`` for a ``COPY``, or ``None`` when the rows must be inserted.

    The source is the row key holding the value, or ``_Default`` for a left-out column with
    a Python-side default.
    """
    dialect = connection.dialect
    if dialect.name != "postgresql" or dialect.driver != "psycopg" or len(rows) < COPY_FROM_ROWS:
        return None
    if connection.get_execution_options().get("schema_translate_map"):
        return None
    keys = rows[0].keys()
    if any(row.keys() != keys for row in rows):
        return None
    if any(key not in table.c for key in keys):
        return None  # let the INSERT say what is wrong
    out: list[tuple[Any, Any]] = []
    for column in table.columns:
        default = column.default
        if column.key in keys:
            source: Any = column.key
        elif default is None:
            continue  # the server default (a sequence, a DEFAULT clause) or NULL, as an INSERT
        elif default.is_scalar:
            source = _Default(default.arg)
        else:
            return None  # a callable, a SQL expression or a sequence: the INSERT computes it
        if not _copyable_type(column, dialect):
            return None
        out.append((column, source))
    return out


def _copyable_type(column: Any, dialect: Any) -> bool:
    """Whether ``COPY``'s text input stores what an ``INSERT`` of the value would.

    Not so for a type that wraps its parameter in SQL (``bind_expression``: COPY has no
    expressions), nor for a time stamp without time zone: the INSERT converts an aware
    value to the session's zone, COPY drops its offset.
    """
    if column.type.bind_expression(bindparam(column.key, type_=column.type)) is not None:
        return False
    impl = column.type.dialect_impl(dialect)
    return not (isinstance(impl, DateTime) and not impl.timezone)


class _Default:
    """A left-out column's scalar Python default, written into every row."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _copy(
    connection: Connection,
    table: Table,
    columns: list[tuple[Any, Any]],
    rows: Sequence[dict[str, Any]],
) -> None:
    dialect = connection.dialect
    preparer = dialect.identifier_preparer
    statement = (
        f"COPY {preparer.format_table(table)} "
        f"({', '.join(preparer.format_column(column) for column, _source in columns)}) FROM STDIN"
    )
    # (row key, default, conversion) per column; the key is None for a left-out column, and
    # row.get(None, default) is then its default
    plan = [
        (
            None if isinstance(source, _Default) else source,
            source.value if isinstance(source, _Default) else None,
            column.type.dialect_impl(dialect).bind_processor(dialect),
        )
        for column, source in columns
    ]
    # Converted before anything is sent: a value the type refuses is the caller's error, as
    # for an INSERT, and leaves the transaction usable (a failed COPY aborts it).
    try:
        converted = [
            [
                row.get(key, default) if process is None else process(row.get(key, default))
                for key, default, process in plan
            ]
            for row in rows
        ]
    except Exception as exc:
        raise StatementError(str(exc), statement, None, exc) from exc
    if not connection.in_transaction():
        connection.begin()  # what execute() does: the rows commit with the connection's commit
    cursor = connection.connection.cursor()
    dispatch = connection.dispatch
    dispatch.before_cursor_execute(connection, cursor, statement, rows, None, True)
    try:
        with cursor.copy(statement) as copy:
            for values in converted:
                copy.write_row(values)
    except dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(
            statement, None, exc, dialect.loaded_dbapi.Error, dialect=dialect
        ) from exc
    finally:
        cursor.close()
    dispatch.after_cursor_execute(connection, cursor, statement, rows, None, True)
