"""Database layer: the declarative ``Base``, column types, mixins, engines and sessions.

One ``Base`` (and one ``MetaData``) serves core and every addon. Tables are named
``<owner>_<thing>`` so that ownership is visible and an uninstall can be exact.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    any_,
    bindparam,
    create_engine,
    event,
    false,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    declared_attr,
    mapped_column,
    scoped_session,
    sessionmaker,
)
from sqlalchemy.types import TypeDecorator

T = TypeVar("T")
# PostgreSQL: serialization_failure, deadlock_detected
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every backend.

    SQLite has no timezone type and gives back naive values; this type stores UTC and always
    returns aware datetimes, so code never compares naive with aware.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; Mosaic stores timezone-aware UTC only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Money = Numeric(18, 2)
Quantity = Numeric(18, 4)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: UTCDateTime(),
        Decimal: Numeric(18, 4),
        str: String(255),
    }


class IdMixin:
    id: Mapped[int] = mapped_column(Integer, primary_key=True)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AuthorMixin:
    """Who created and last changed the row (filled by the ORM from the current user)."""

    @declared_attr
    def created_by_id(cls) -> Mapped[int | None]:
        return mapped_column(ForeignKey("core_user.id", ondelete="SET NULL"), nullable=True)

    @declared_attr
    def updated_by_id(cls) -> Mapped[int | None]:
        return mapped_column(ForeignKey("core_user.id", ondelete="SET NULL"), nullable=True)


class CompanyMixin:
    """The row belongs to one company; queries are scoped to the user's companies."""

    @declared_attr
    def company_id(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("core_company.id"), index=True)


class ArchiveMixin:
    archived: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class VersionMixin:
    """Optimistic locking: a stale ``version`` on update raises ``StaleDataError``."""

    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        # eager_defaults=False: ``version`` (and ``archived``) have server defaults for rows
        # written by SQL, but the ORM always sends them. Left on "auto", their presence makes
        # the unit of work ask for RETURNING, which on SQLite means one INSERT per row
        # instead of one executemany per table (see ``core.bulk``).
        return {"version_id_col": cls.__table__.c.version, "eager_defaults": False}


class BusinessMixin(IdMixin, TimestampMixin, AuthorMixin, CompanyMixin, VersionMixin):
    """What every business record carries: id, timestamps, authors, company, version."""


# --------------------------------------------------------------------------- session caches

_CACHES_KEY = "mosaic.caches"


def session_cache(session: Session, name: str) -> dict[Any, Any]:
    """A dict for look-ups a service repeats within one unit of work (tags by name, say).

    It lives in ``session.info`` and is dropped whenever the session rolls back, a savepoint
    included: objects loaded or made inside a rolled-back savepoint must not be handed out
    again (their rows are gone, and SQLite may give their ids to new rows). Services that
    keep ORM objects across calls keep them here, never in ``session.info`` directly.
    """
    return session.info.setdefault(_CACHES_KEY, {}).setdefault(name, {})


@event.listens_for(Session, "after_soft_rollback")
def _drop_session_caches(session: Session, _previous: Any) -> None:
    session.info.pop(_CACHES_KEY, None)


# --------------------------------------------------------------------------- engines


def _configure_sqlite(engine: Engine) -> None:
    """Pragmas, and real transactions for DDL.

    pysqlite commits implicitly before DDL, which would make a failed migration leave half a
    schema behind. We switch its own transaction handling off and emit BEGIN ourselves, so
    that a migration, a data load and the state change roll back together.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")


def make_engine(url: str, **kwargs: Any) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def is_transient(exc: DBAPIError) -> bool:
    """A conflict with a concurrent transaction that a retry may resolve."""
    if getattr(exc.orig, "sqlstate", None) in RETRYABLE_SQLSTATES:
        return True
    return "database is locked" in str(exc.orig)


def hold_lock(session: Session, name: str) -> None:
    """Take the lock called ``name`` until the session's transaction ends.

    For "look, then create if missing" work that a unique constraint cannot guard (a match by
    e-mail, phone or name): two transactions doing it at once would both find nothing and
    both create. On PostgreSQL this is a transaction-level advisory lock on a 64-bit hash of
    the name, so the second waits for the first to commit and then sees its row. SQLite needs
    nothing: it has one writer, and a transaction that read before another one committed
    cannot write afterwards ("database is locked"), which the callers' retries turn into a
    second look (``run_in_transaction``, ``core.resources.rest.write``).
    """
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        return
    key = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


class Database:
    """An engine and the session factory bound to it.

    ``session`` is a scoped session: one per Flask app context (the app removes it when the
    request ends) and one per CLI command.
    """

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.session_factory = sessionmaker(bind=self.engine, expire_on_commit=False)
        self.session = scoped_session(self.session_factory)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextlib.contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """A short transaction: commit on success, roll back on any error."""
        session = self.session_factory()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def run_in_transaction(self, work: Callable[[Session], T], *, attempts: int = 5) -> T:
        """Run ``work(session)`` in its own transaction, retrying transient conflicts.

        A PostgreSQL serialization failure or deadlock, or SQLite's "database is locked"
        (two writers upgrading their locks at once), means "try again"; the retry lives here,
        once, so callers never loop themselves. ``work`` must not commit.
        """
        for attempt in range(1, attempts + 1):
            try:
                with self.unit_of_work() as session:
                    return work(session)
            except DBAPIError as exc:
                if not is_transient(exc) or attempt == attempts:
                    raise
                time.sleep(random.uniform(0, 0.05 * attempt))
        raise AssertionError("unreachable")

    def dispose(self) -> None:
        self.session.remove()
        self.engine.dispose()


def in_values(
    session: Session, column: Any, values: Iterable[Any], *, probe_index: bool = False
) -> Any:
    """``column IN (values)`` with the values as one bound parameter, however many there are.

    A plain ``IN`` list binds one parameter per value: a batch look-up of 500 e-mails is a
    statement SQLAlchemy renders anew each time and, on PostgreSQL, one that psycopg parses
    in Python each time (it caches short statements only) and the server plans each time.
    One parameter keeps the statement short and the same: ``column = ANY(:array)`` on
    PostgreSQL, ``column IN (SELECT value FROM json_each(:json))`` on SQLite (both use the
    column's index). Values must be text or integers; elsewhere it is the plain ``IN``.

    ``probe_index=True`` is for a condition that is the whole ``WHERE`` of its query (a
    branch of a ``UNION`` of look-ups): on PostgreSQL it becomes ``column IN (SELECT
    unnest(:array))``, whose number of values the planner knows, so it looks each one up in
    the index, where for ``= ANY`` of some hundred values it may guess a large share of the
    table and read all of it (measured on 100,000 contacts: 860 phone numbers against
    ``mobile``, 22 ms -> 3 ms). Combined with other conditions by ``OR`` it does worse than
    ``= ANY`` (the set is then probed row by row in a scan), hence not the default.
    """
    values = list(dict.fromkeys(values))
    dialect = session.get_bind().dialect.name
    kind = _value_kind(column, values)
    if not values or kind is None or dialect not in ("postgresql", "sqlite"):
        return column.in_(values)
    if dialect == "postgresql":
        array = bindparam(None, values, type_=ARRAY(BigInteger() if kind is int else Text()))
        return column.in_(select(func.unnest(array))) if probe_index else column == any_(array)
    listed = func.json_each(bindparam(None, json.dumps(values), type_=Text())).table_valued("value")
    return column.in_(select(listed.c.value))


def _value_kind(column: Any, values: list[Any]) -> type | None:
    """``str`` or ``int`` when every value and the column are of that kind, else ``None``.

    Anything else keeps the plain ``IN``, whose comparisons the database defines: mixed
    lists, integers against text (SQLite compares ``'5'`` and ``5`` equal there, not in
    ``json_each``), NUL characters (``json_each`` cuts the text at them).
    """
    try:
        expected = column.type.python_type
    except NotImplementedError:
        return None
    if expected is str and all(type(v) is str and "\x00" not in v for v in values):
        return str
    if expected is int and all(type(v) is int for v in values):
        return int
    return None
