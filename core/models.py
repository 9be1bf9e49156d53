"""Core tables: addon state, companies, identity, menus, audit trail, sequences.

Every core table that holds rows on behalf of an addon has an ``addon`` column; uninstalling
the addon deletes those rows, which is how an uninstall leaves nothing behind.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, IdMixin, TimestampMixin, UTCDateTime, utcnow


class AddonState(Base):
    """One row per installed addon. No row means not installed."""

    __tablename__ = "core_addon"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    installed_version: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default="installed")
    with_demo: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    installed_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RegistryState(Base):
    """A single row whose ``version`` grows with every install, upgrade or uninstall.

    Running workers compare it on each request with the version they were built for, and
    rebuild their application when it moved (see ``core.app.ReloadingApp``).
    """

    __tablename__ = "core_registry_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Company(IdMixin, TimestampMixin, Base):
    __tablename__ = "core_company"

    name: Mapped[str] = mapped_column(String(200), unique=True)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


user_group = Table(
    "core_user_group",
    Base.metadata,
    Column("user_id", ForeignKey("core_user.id", ondelete="CASCADE"), primary_key=True),
    Column("group_id", ForeignKey("core_group.id", ondelete="CASCADE"), primary_key=True),
)

user_company = Table(
    "core_user_company",
    Base.metadata,
    Column("user_id", ForeignKey("core_user.id", ondelete="CASCADE"), primary_key=True),
    Column("company_id", ForeignKey("core_company.id", ondelete="CASCADE"), primary_key=True),
)

group_permission = Table(
    "core_group_permission",
    Base.metadata,
    Column("group_id", ForeignKey("core_group.id", ondelete="CASCADE"), primary_key=True),
    Column("permission_id", ForeignKey("core_permission.id", ondelete="CASCADE"), primary_key=True),
)


class User(IdMixin, TimestampMixin, Base):
    __tablename__ = "core_user"

    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_company.id", ondelete="SET NULL"), nullable=True
    )
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(nullable=True)
    # Tokens issued before this instant are refused: a password change or a disable sets it.
    tokens_valid_after: Mapped[datetime | None] = mapped_column(nullable=True)

    company: Mapped[Company | None] = relationship(foreign_keys=[company_id])
    companies: Mapped[list[Company]] = relationship(secondary=user_company)
    groups: Mapped[list[Group]] = relationship(secondary=user_group, back_populates="users")


class Group(IdMixin, Base):
    __tablename__ = "core_group"
    __table_args__ = (UniqueConstraint("addon", "key"),)

    addon: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    users: Mapped[list[User]] = relationship(secondary=user_group, back_populates="groups")
    permissions: Mapped[list[Permission]] = relationship(secondary=group_permission)


class Permission(IdMixin, Base):
    """A permission named ``<addon>.<resource>.<action>``."""

    __tablename__ = "core_permission"

    name: Mapped[str] = mapped_column(String(200), unique=True)
    addon: Mapped[str] = mapped_column(String(64), index=True)
    description: Mapped[str] = mapped_column(String(255), default="")


class Menu(IdMixin, Base):
    __tablename__ = "core_menu"

    addon: Mapped[str] = mapped_column(String(64), index=True)
    label: Mapped[str] = mapped_column(String(100))
    path: Mapped[str] = mapped_column(String(255))
    permission: Mapped[str | None] = mapped_column(String(200), nullable=True)
    sequence: Mapped[int] = mapped_column(Integer, default=100)
    parent: Mapped[str | None] = mapped_column(String(100), nullable=True)


class AuditLog(IdMixin, Base):
    """Who changed which fields of which record, written in the same transaction."""

    __tablename__ = "core_audit_log"
    # One index for "the history of this record" (and "the entries of these tables", its
    # leading column): every audited write inserts into it, so one is cheaper than two.
    __table_args__ = (Index("ix_core_audit_log_record", "table_name", "record_id"),)

    table_name: Mapped[str] = mapped_column(String(100))
    record_id: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))
    changes: Mapped[dict] = mapped_column(JSON, default=dict)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("core_user.id", ondelete="SET NULL"), nullable=True
    )
    company_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class RevokedToken(Base):
    """JWT ids that must no longer be accepted (logout, rotated refresh tokens)."""

    __tablename__ = "core_revoked_token"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ApiToken(IdMixin, TimestampMixin, Base):
    """A personal token for integrations; only its hash is stored."""

    __tablename__ = "core_api_token"

    user_id: Mapped[int] = mapped_column(ForeignKey("core_user.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    last_used_at: Mapped[datetime | None] = mapped_column(nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)


class Sequence(IdMixin, Base):
    """Gap-free document numbers per company (orders, invoices, tickets)."""

    __tablename__ = "core_sequence"
    __table_args__ = (UniqueConstraint("company_id", "code"),)

    addon: Mapped[str] = mapped_column(String(64), index=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("core_company.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(64))
    prefix: Mapped[str] = mapped_column(String(32), default="")
    padding: Mapped[int] = mapped_column(Integer, default=5)
    next_number: Mapped[int] = mapped_column(Integer, default=1)


class DataRecord(IdMixin, Base):
    """Records an addon loaded as data (stable key -> row), so upgrades update in place."""

    __tablename__ = "core_data_record"
    __table_args__ = (UniqueConstraint("addon", "key"),)

    addon: Mapped[str] = mapped_column(String(64), index=True)
    key: Mapped[str] = mapped_column(String(128))
    table_name: Mapped[str] = mapped_column(String(100))
    record_id: Mapped[int] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)


class Job(IdMixin, TimestampMixin, Base):
    """A background job, stored in the database so that it is enqueued in the same
    transaction as the change that asked for it (no job for a rolled-back change)."""

    __tablename__ = "core_job"

    addon: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(128))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    run_after: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    company_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    worker: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)
