"""Shared fixtures.

The schema is built once per test session (core + every shipped addon installed) in a
database of its own: a SQLite file, or a PostgreSQL database created on the server named by
``MOSAIC_TEST_DATABASE_URL`` and dropped at the end. Each test then runs inside a transaction
on one connection that is rolled back afterwards; the app's scoped session joins it with
savepoints, so a ``commit()`` in code under test is undone too.

Tests that install or uninstall addons need DDL of their own: they use ``empty_database``,
which gives them a fresh, initialised database with no addon installed.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from core.app import create_app
from core.bootstrap import initialise
from core.config import Settings, normalise_database_url
from core.db import Database, make_engine
from core.lifecycle import Lifecycle
from core.registry import Registry

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "Correct-Horse-42"
PG_URL = os.environ.get("MOSAIC_TEST_DATABASE_URL")
FIXTURE_ADDONS = Path(__file__).resolve().parent / "fixture_addons"


class DatabaseFactory:
    """Creates throw-away databases on the backend under test and drops them at the end."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.created: list[str] = []

    def new_url(self) -> str:
        name = f"mosaic_test_{uuid.uuid4().hex[:10]}"
        if not PG_URL:
            return f"sqlite:///{self.tmp / (name + '.db')}"
        base = make_url(normalise_database_url(PG_URL))
        admin = make_engine(
            base.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        admin.dispose()
        self.created.append(name)
        return base.set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        if not PG_URL or not self.created:
            return
        base = make_url(normalise_database_url(PG_URL))
        admin = make_engine(
            base.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            for name in self.created:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="session")
def database_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(tmp_path_factory.mktemp("databases"))
    yield factory
    factory.drop_all()


def make_settings(instance: Path, url: str, **extra: object) -> Settings:
    values: dict[str, object] = {
        "secret_key": "test-secret-" + "x" * 40,
        "testing": True,
        "hot_reload": False,
    }
    values.update(extra)
    return Settings.from_env(instance_path=instance, database_url=url, **values)


@pytest.fixture(scope="session")
def registry() -> Registry:
    """Shipped addons plus the fixture addons core's tests use (``tests/fixture_addons``)."""
    return Registry.discover([FIXTURE_ADDONS])


@pytest.fixture(scope="session")
def settings(
    database_factory: DatabaseFactory, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    return make_settings(tmp_path_factory.mktemp("instance"), database_factory.new_url())


@pytest.fixture(scope="session")
def db(settings: Settings, registry: Registry) -> Iterator[Database]:
    """The session's database: core initialised and every shipped addon installed (no demo)."""
    database = Database(settings.database_url)
    initialise(database, admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD)
    names = registry.names()
    if names:
        Lifecycle(database, registry).install(names)
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def app(settings: Settings, db: Database, registry: Registry):
    return create_app(settings, db=db, registry=registry)


@pytest.fixture
def db_session(db: Database) -> Iterator:
    """The app's scoped session, inside a transaction rolled back after the test."""
    conn = db.engine.connect()
    trans = conn.begin()
    db.session.remove()
    db.session.configure(bind=conn, join_transaction_mode="create_savepoint")
    try:
        yield db.session
    finally:
        db.session.remove()
        trans.rollback()
        conn.close()
        db.session.configure(bind=db.engine, join_transaction_mode="conditional_savepoint")


@pytest.fixture
def client(app, db_session):
    from core.auth.ratelimit import reset

    reset(app)  # login throttling counts per client address; every test starts afresh
    return app.test_client()


@pytest.fixture
def empty_database(database_factory: DatabaseFactory, tmp_path: Path, registry: Registry):
    """A fresh initialised database with no addon installed, for lifecycle tests."""
    url = database_factory.new_url()
    database = Database(url)
    initialise(database, admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD)
    yield database
    database.dispose()


@pytest.fixture
def installed_on_postgres(empty_database: Database, registry: Registry):
    """``install(*addons, why=...)``: a fresh PostgreSQL database with those addons installed,
    for tests of real concurrent connections; on SQLite the test is skipped, saying ``why``."""

    def install(*addons: str, why: str) -> Database:
        if not PG_URL:
            pytest.skip(why)
        Lifecycle(empty_database, registry).install(list(addons))
        return empty_database

    return install
