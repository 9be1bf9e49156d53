"""Contacts at scale: CSV import against raw bulk inserts, and name searches through REST.

    python benchmarks/bench_contacts.py                      # 10,000 accounts, 100,000 contacts, SQLite
    python benchmarks/bench_contacts.py --contacts 20000 --accounts 2000
    python benchmarks/bench_contacts.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/postgres

What is measured, in one run on fresh databases (nothing else is timed):

1. **import**: the generated accounts and contacts are written to CSV files and imported
   through ``core.resources.csv_io.import_csv`` - what ``mosaic import`` runs: schema
   validation, the contacts services (normalisation, duplicate checks, the account found by
   name), company stamping and the audit trail.
2. **raw**: the very rows the import stored (read back from the first database) are inserted
   into a second database with SQLAlchemy Core ``insert()`` executemany in 10,000-row
   batches, in one transaction: the limit of what the database can take.
   The ratio ``import rate / raw rate`` is printed; the aim is >= 0.25.
   On PostgreSQL the import writes its rows with ``COPY`` (``core.bulk_write``), so the same
   rows are also copied into a third database with ``COPY`` and that ratio printed too: the
   executemany is the limit the aim was set against, ``COPY`` the database's own.
3. **search**: ``GET /api/v1/contacts/contacts/?q=<prefix>`` through the Flask test client,
   logged in, with name prefixes of 3-4 letters, against the same LIKE query in plain SQL.

Rows per second count every row written to the business tables (accounts, addresses, tag
links, contacts), the same rows for both paths.
"""

from __future__ import annotations

import argparse
import io
import random
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import make_url

from addons.contacts.demo import (
    ACCOUNT_COLUMNS,
    CONTACT_COLUMNS,
    DemoGenerator,
    account_csv_row,
    contact_csv_row,
    write_csv,
)
from core.bootstrap import initialise
from core.config import Settings
from core.db import Base, Database, make_engine
from core.lifecycle import Lifecycle
from core.registry import Registry

ADMIN_EMAIL, ADMIN_PASSWORD = "admin@example.com", "Bench-Pass-2024!"
TABLES = ("contacts_tag", "contacts_account", "contacts_account_tag", "contacts_address",
          "contacts_contact", "contacts_contact_tag")  # fmt: skip
BATCH = 10_000


class Databases:
    """Fresh databases: SQLite files in a temporary folder, or PostgreSQL databases dropped at the end."""

    def __init__(self, folder: Path, postgres: str | None) -> None:
        self.folder, self.postgres, self.created = folder, postgres, []

    def new(self) -> Database:
        name = f"mosaic_bench_{uuid.uuid4().hex[:8]}"
        if not self.postgres:
            return Database(f"sqlite:///{self.folder / name}.db")
        admin = make_engine(self.postgres, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        admin.dispose()
        self.created.append(name)
        return Database(
            make_url(self.postgres).set(database=name).render_as_string(hide_password=False)
        )

    def drop(self) -> None:
        if not self.created:
            return
        admin = make_engine(self.postgres, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for name in self.created:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def prepare(db: Database) -> None:
    initialise(db, admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD)
    Lifecycle(db, Registry.discover()).install(["contacts"])


def csv_text(columns: tuple[str, ...], rows: list[dict]) -> bytes:
    out = io.StringIO()
    write_csv(out, columns, rows)
    return out.getvalue().encode()


def count_rows(db: Database) -> int:
    with db.engine.connect() as conn:
        return sum(
            conn.scalar(select(func.count()).select_from(Base.metadata.tables[t])) for t in TABLES
        )


def timed_import(db: Database, accounts_csv: bytes, contacts_csv: bytes) -> float:
    from addons.contacts.api import accounts, contacts
    from core.resources.csv_io import import_csv
    from core.tenancy import company_scope

    session = db.session_factory()
    started = time.perf_counter()
    with company_scope([1], 1, user_id=1):
        for resource, data in ((accounts, accounts_csv), (contacts, contacts_csv)):
            result = import_csv(session, resource, io.BytesIO(data))
            if result.errors:
                raise SystemExit(f"import of {resource.name} failed: {result.errors[0].describe()}")
            session.commit()
    elapsed = time.perf_counter() - started
    session.close()
    return elapsed


def stored_rows(source: Database, target: Database) -> dict[str, list[dict]]:
    """The imported rows, by table, with the target's business tables emptied for them."""
    with target.engine.begin() as conn:  # the standard tags of the install would clash
        for name in reversed(TABLES):
            conn.execute(Base.metadata.tables[name].delete())
    with source.engine.connect() as conn:
        return {
            name: [dict(r._mapping) for r in conn.execute(select(Base.metadata.tables[name]))]
            for name in TABLES
        }


def timed_raw_insert(source: Database, target: Database) -> float:
    """Copy the imported rows with Core executemany; only the inserts are timed."""
    rows = stored_rows(source, target)
    started = time.perf_counter()
    with target.engine.begin() as conn:
        for name in TABLES:
            table = Base.metadata.tables[name]
            for start in range(0, len(rows[name]), BATCH):
                conn.execute(insert(table), rows[name][start : start + BATCH])
    return time.perf_counter() - started


def timed_raw_copy(source: Database, target: Database) -> float:
    """The same copy with ``COPY ... FROM STDIN`` (PostgreSQL's bulk load, as the import writes)."""
    from core.bulk_write import write_rows

    rows = stored_rows(source, target)
    started = time.perf_counter()
    with target.engine.begin() as conn:
        for name in TABLES:
            for start in range(0, len(rows[name]), BATCH):
                write_rows(conn, Base.metadata.tables[name], rows[name][start : start + BATCH])
    return time.perf_counter() - started


def searches(db: Database, settings: Settings, prefixes: list[str]) -> tuple[float, float, float]:
    """(REST searches per second, raw SQL searches per second, mean items per answer)."""
    from core.app import create_app

    app = create_app(settings, db=db, registry=Registry.discover())
    client = app.test_client()
    login = client.post(
        "/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    headers = {"Authorization": f"Bearer {login.get_json()['access_token']}"}
    found = 0
    started = time.perf_counter()
    for prefix in prefixes:
        response = client.get(f"/api/v1/contacts/contacts/?q={prefix}&limit=20", headers=headers)
        assert response.status_code == 200, response.get_json()
        found += len(response.get_json()["items"])
    rest = len(prefixes) / (time.perf_counter() - started)
    query = text(
        "SELECT id, first_name, last_name, email FROM contacts_contact WHERE company_id = 1 AND NOT archived "
        "AND (lower(first_name) LIKE :p OR lower(last_name) LIKE :p OR lower(email) LIKE :p) "
        "ORDER BY last_name, id LIMIT 20"
    )  # fmt: skip
    started = time.perf_counter()
    with db.engine.connect() as conn:
        for prefix in prefixes:
            conn.execute(query, {"p": f"%{prefix.lower()}%"}).all()
    raw = len(prefixes) / (time.perf_counter() - started)
    return rest, raw, found / len(prefixes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--searches", type=int, default=300)
    parser.add_argument(
        "--postgres", metavar="URL", help="server URL; fresh databases are created on it"
    )
    parser.add_argument("--seed", type=int, default=20240501)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        databases = Databases(folder, args.postgres)
        try:
            print(
                f"Generating {args.accounts:,} accounts and {args.contacts:,} contacts (seed {args.seed}) ..."
            )
            generator = DemoGenerator(args.seed)
            account_rows = generator.accounts(args.accounts)
            contact_rows = generator.contacts(args.contacts, account_rows)
            accounts_csv = csv_text(ACCOUNT_COLUMNS, [account_csv_row(r) for r in account_rows])
            contacts_csv = csv_text(
                CONTACT_COLUMNS, [contact_csv_row(r, account_rows) for r in contact_rows]
            )
            imported, raw = databases.new(), databases.new()
            prepare(imported)
            prepare(raw)
            backend = imported.engine.dialect.name

            print("Importing through the import path (validation, services, audit) ...")
            import_seconds = timed_import(imported, accounts_csv, contacts_csv)
            rows = count_rows(imported)
            print("Inserting the same rows with SQLAlchemy Core executemany ...")
            raw_seconds = timed_raw_insert(imported, raw)
            assert count_rows(raw) == rows
            copy_seconds = None
            if backend == "postgresql":
                print("Copying the same rows with COPY ...")
                copied = databases.new()
                prepare(copied)
                copy_seconds = timed_raw_copy(imported, copied)
                assert count_rows(copied) == rows
                copied.dispose()

            rng = random.Random(args.seed)
            names = [r["last_name"] for r in contact_rows]
            prefixes = [
                n[: rng.choice((3, 4))] for n in rng.sample(names, min(args.searches, len(names)))
            ]
            settings = Settings.from_env(instance_path=folder / "instance", database_url=imported.url,
                                         secret_key="bench-" + "x" * 40, hot_reload=False)  # fmt: skip
            rest_rate, sql_rate, mean_items = searches(imported, settings, prefixes)

            import_rate, raw_rate = rows / import_seconds, rows / raw_seconds
            print()
            print(f"backend                 {backend}")
            print(f"rows written            {rows:,} ({args.accounts:,} accounts, {args.contacts:,} contacts, "
                  "their addresses and tag links)")  # fmt: skip
            print(f"import path             {import_seconds:8.1f} s  {import_rate:10,.0f} rows/s")
            print(f"raw Core executemany    {raw_seconds:8.1f} s  {raw_rate:10,.0f} rows/s")
            print(f"import / raw            {import_rate / raw_rate:8.3f}   (aim >= 0.25)")
            if copy_seconds is not None:
                copy_rate = rows / copy_seconds
                print(f"raw COPY                {copy_seconds:8.1f} s  {copy_rate:10,.0f} rows/s")
                print(f"import / raw COPY       {import_rate / copy_rate:8.3f}")
            print(
                f"REST search (q=prefix)  {rest_rate:8.1f} searches/s  ({mean_items:.1f} items per answer)"
            )
            print(f"raw SQL LIKE search     {sql_rate:8.1f} searches/s")
            print(f"REST / raw search       {rest_rate / sql_rate:8.3f}")
            imported.dispose()
            raw.dispose()
        finally:
            databases.drop()


if __name__ == "__main__":
    main()
