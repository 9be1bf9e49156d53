"""``mosaic init``: create the database, core tables, default company and the first admin."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from core.db import Database, make_engine
from core.lifecycle import LifecycleError
from core.migrations import MigrationTarget, upgrade
from core.models import Company, Group, RegistryState, User
from core.passwords import check_strength, generate_password, hash_password

ADMIN_GROUP_KEY = "admin"


@dataclass
class InitResult:
    admin_email: str
    generated_password: str | None
    created: bool


def ensure_database_exists(url: str) -> None:
    """On PostgreSQL, create the database named in ``url`` if it does not exist yet."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return
    admin_engine = make_engine(
        parsed.set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    try:
        with admin_engine.connect() as conn:
            exists = conn.exec_driver_sql(
                "SELECT 1 FROM pg_database WHERE datname = %s", (parsed.database,)
            ).scalar()
            if not exists:
                conn.exec_driver_sql(f'CREATE DATABASE "{parsed.database}"')
    finally:
        admin_engine.dispose()


def initialise(
    db: Database,
    *,
    admin_email: str = "admin@example.com",
    admin_password: str | None = None,
    company_name: str = "My Company",
) -> InitResult:
    """Create core tables and the first admin; run again it only applies new core migrations."""
    generated = None
    if admin_password is None:
        generated = admin_password = generate_password()
    else:
        check_strength(admin_password, email=admin_email)
    try:
        ensure_database_exists(db.url)
        with db.engine.begin() as conn:
            upgrade(conn, MigrationTarget.core())
            session = Session(bind=conn)
            if session.get(RegistryState, 1) is not None:
                session.close()
                return InitResult(admin_email, None, created=False)
            session.add(RegistryState(id=1, version=1))
            company = Company(name=company_name)
            admins = Group(addon="core", key=ADMIN_GROUP_KEY, label="Administrator", is_admin=True)
            admin = User(
                email=admin_email.strip().lower(),
                name="Administrator",
                password_hash=hash_password(admin_password),
                company=company,
                companies=[company],
                groups=[admins],
            )
            session.add_all([company, admins, admin])
            session.flush()
            session.close()
    except SQLAlchemyError as exc:
        raise LifecycleError(f"cannot initialise the database: {exc.__class__.__name__}: "
                             f"{str(getattr(exc, 'orig', exc)).splitlines()[0]}") from exc  # fmt: skip
    return InitResult(admin_email, generated, created=True)


def default_company(session: Session) -> Company:
    company = session.scalars(select(Company).order_by(Company.id)).first()
    if company is None:
        raise LookupError("no company exists; run 'mosaic init'")
    return company
