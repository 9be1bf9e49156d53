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

``insert_new`` goes one step further for imports: it writes new objects (with the children
and tag links they hold) as ORM bulk ``INSERT`` statements, without the unit of work, whose
bookkeeping per object costs more than the row itself. The statements get what a flush
gives: the company stamped and references checked (``core.tenancy``), the authors stamped,
column defaults filled and a ``create`` entry per row in the audit trail
(``core.bulk_statements``).
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Integer, func, insert, inspect, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Mapper, Session
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.orm.interfaces import MANYTOONE, ONETOMANY

import core.bulk_statements  # noqa: F401  - the listeners that stamp and audit insert_new's rows
from core.bulk_write import write_rows
from core.db import Base


def assign_ids(session: Session) -> int:
    """Give the pending rows of integer-keyed tables their ids; return how many were given.

    Rows whose id is already set are left alone, and so are tables on other databases than
    SQLite and PostgreSQL, or without a sequence behind the key on PostgreSQL.
    """
    waiting: dict[Mapper, list[Any]] = defaultdict(list)
    for obj in session.new:
        mapper = inspect(obj).mapper
        if _single_integer_key(mapper) and getattr(obj, mapper.primary_key[0].key) is None:
            waiting[mapper].append(obj)
    assigned = 0
    for mapper, objects in waiting.items():
        ids = new_ids(session, mapper, len(objects))
        if ids is None:
            continue
        key = mapper.get_property_by_column(mapper.primary_key[0]).key
        for obj, new_id in zip(objects, ids, strict=True):
            setattr(obj, key, new_id)
        assigned += len(objects)
    return assigned


def new_ids(session: Session, mapper: Mapper, count: int) -> list[int] | None:
    """``count`` fresh ids for new rows of ``mapper``'s table (see the module doc for why).

    ``None`` when the database would have to choose them itself: another database than
    SQLite or PostgreSQL, a key that is not one integer column, no sequence behind it.
    """
    dialect = session.get_bind().dialect.name
    if dialect not in ("sqlite", "postgresql") or not _single_integer_key(mapper) or count < 1:
        return None if count else []
    column = mapper.primary_key[0]
    connection = session.connection()
    if dialect == "sqlite":
        # A Core statement on the table: company scoping must not hide other companies' ids.
        highest = connection.scalar(select(func.max(mapper.local_table.c[column.name]))) or 0
        return list(range(highest + 1, highest + 1 + count))
    sequence = connection.scalar(
        text("SELECT pg_get_serial_sequence(:table, :column)"),
        {"table": mapper.local_table.fullname, "column": column.name},
    )
    if sequence is None:
        return None
    return list(
        connection.scalars(
            text("SELECT nextval(CAST(:sequence AS regclass)) FROM generate_series(1, :n)"),
            {"sequence": sequence, "n": count},
        )
    )


def insert_new(session: Session, objects: Sequence[Any]) -> None:
    """Insert new objects, the children their one-to-many collections hold and their links.

    For batches of new records built in memory (an import): the objects are never added to
    the session; each table gets one ORM bulk ``INSERT`` (``executemany``), parents before
    children, with what a flush would do (see the module doc). Afterwards every object has
    its ``id``, but it stays transient: load it to use it as a record.

    Children are found through one-to-many relationships that cascade saves (an account's
    addresses); their foreign keys are set from the parent's new id. Many-to-one targets
    (a contact's account) and many-to-many targets (tags) must be stored already; objects
    pending in the session are flushed first so that they are.

    What a flush does and this does not: mapper events (``before_insert``/``after_insert``)
    do not fire, and the objects do not enter the identity map. Mosaic itself uses neither;
    a model that relies on them must be written through the session instead.
    """
    if not objects:
        return
    groups = _by_mapper(objects)  # refuses objects in a session before anything is written
    if session.new:
        session.flush()
    order = _table_order(len(Base.metadata.tables))
    links: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for mapper in sorted(groups, key=lambda m: order.get(m.local_table, len(order))):
        plan = _plan(mapper)
        members = groups[mapper]
        missing = [o for o in members if o.__dict__.get(plan.id_key) is None]
        for obj, new_id in zip(missing, new_ids(session, mapper, len(missing)) or (), strict=True):
            obj.__dict__[plan.id_key] = new_id
        rows = [plan.row(obj, links) for obj in plan.parents_first(members)]
        with session.no_autoflush:  # flushed above; nothing of this is in the session
            session.execute(insert(mapper.class_), rows)
    connection = session.connection()
    for table, rows in links.items():
        write_rows(connection, table, rows)


@functools.lru_cache(maxsize=4)
def _table_order(_table_count: int) -> dict[Any, int]:
    """Tables in dependency order (parents first), worked out again when tables are added.

    ``MetaData.sorted_tables`` sorts every table on each access; imports ask once per batch.
    """
    return {table: index for index, table in enumerate(Base.metadata.sorted_tables)}


def _by_mapper(objects: Iterable[Any]) -> dict[Mapper, list[Any]]:
    """The objects and their cascaded children, by class, each object once."""
    groups: dict[Mapper, list[Any]] = defaultdict(list)
    seen: set[int] = set()
    stack = list(objects)[::-1]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        state = instance_state(obj)  # inspect() without the dispatch: once per object
        if state.key is not None or state.session_id is not None:
            raise ValueError(f"insert_new takes new objects only, not {obj!r} (in a session)")
        groups[state.mapper].append(obj)
        plan = _plan(state.mapper)
        plan.detach_stored_parents(obj)
        for key in plan.children:
            stack.extend(reversed(list(state.dict.get(key) or ())))
    return groups


class _Plan:
    """How the objects of one class become rows: their columns and what their relationships set."""

    def __init__(self, mapper: Mapper) -> None:
        def key(m: Mapper, column: Any) -> str:
            return m.get_property_by_column(column).key

        self.id_key = key(mapper, mapper.primary_key[0])
        self.columns = tuple(prop.key for prop in mapper.column_attrs)
        #: many-to-one: (relationship, [(own column key, target column key)])
        self.parents: list[tuple[str, list[tuple[str, str]]]] = []
        #: many-to-one relationships to the same class (an account's parent account)
        self.same_class_parents = [
            rel.key
            for rel in mapper.relationships
            if rel.direction is MANYTOONE and rel.secondary is None and rel.mapper is mapper
        ]
        #: one-to-many: (relationship, [(own column key, child column key)])
        self.owned: list[tuple[str, list[tuple[str, str]]]] = []
        #: many-to-many: (relationship, link table, [(own key, link column)], [(target key, link column)])
        self.links: list[tuple[str, Any, list[tuple[str, str]], list[tuple[str, str]]]] = []
        self.children: list[str] = []
        for rel in mapper.relationships:
            pairs = rel.local_remote_pairs
            if rel.secondary is not None:
                own = [(key(mapper, a), b.name) for a, b in rel.synchronize_pairs]
                far = [(key(rel.mapper, a), b.name) for a, b in rel.secondary_synchronize_pairs]
                self.links.append((rel.key, rel.secondary, own, far))
            elif rel.direction is MANYTOONE:
                self.parents.append(
                    (rel.key, [(key(mapper, a), key(rel.mapper, b)) for a, b in pairs])
                )
            elif rel.direction is ONETOMANY:
                self.owned.append(
                    (rel.key, [(key(mapper, a), key(rel.mapper, b)) for a, b in pairs])
                )
                if rel.cascade.save_update:
                    self.children.append(rel.key)

    def parents_first(self, members: list[Any]) -> list[Any]:
        """``members`` with each one after the members it points at (a parent account first)."""
        if not self.same_class_parents:
            return members
        in_batch = {id(obj) for obj in members}
        ordered: list[Any] = []
        placed: set[int] = set()
        for obj in members:
            chain = []
            current = obj
            while current is not None and id(current) in in_batch and id(current) not in placed:
                chain.append(current)
                placed.add(id(current))
                current = next(
                    (p for key in self.same_class_parents if (p := current.__dict__.get(key))),
                    None,
                )
            ordered.extend(reversed(chain))
        return ordered

    def detach_stored_parents(self, obj: Any) -> None:
        """Turn references to stored records into their keys, before any statement runs.

        Setting ``contact.account = account`` (a loaded account) queued the contact on the
        account's collection (the backref); a flush would then meet an object that is not
        in the session. The foreign key is copied and the relationship cleared, which takes
        the contact off that queue again.
        """
        values = obj.__dict__
        for rel_key, pairs in self.parents:
            target = values.get(rel_key)
            if target is not None and inspect(target).key is not None:
                keys = {own: _stored(target, far) for own, far in pairs}
                setattr(obj, rel_key, None)
                values.update(keys)

    def row(self, obj: Any, links: dict[Any, list[dict[str, Any]]]) -> dict[str, Any]:
        """The object's column values, its references resolved; its links queued in ``links``."""
        values = obj.__dict__
        for rel_key, pairs in self.parents:
            if (target := values.get(rel_key)) is not None:
                for own, far in pairs:
                    values[own] = _stored(target, far)
        for rel_key, pairs in self.owned:
            for child in values.get(rel_key) or ():
                for own, far in pairs:
                    child.__dict__[far] = values[own]
        for rel_key, table, own_pairs, far_pairs in self.links:
            for item in values.get(rel_key) or ():
                row = {column: values[own] for own, column in own_pairs}
                row.update((column, _stored(item, far)) for far, column in far_pairs)
                links[table].append(row)
        return {key: values[key] for key in self.columns if key in values}


@functools.cache
def _plan(mapper: Mapper) -> _Plan:
    return _Plan(mapper)


def _stored(target: Any, key: str) -> Any:
    """A key of a stored (or just inserted) target; loads it if the session expired it."""
    value = getattr(target, key)
    if value is None:
        raise ValueError(f"{target!r} has no {key} yet: store it before referring to it")
    return value


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
