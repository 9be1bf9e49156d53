"""core tables

Revision ID: 0001
Revises: None
Create Date: 2026-11-25T11:26:56+00:00
"""

import sqlalchemy as sa
from alembic import op

import core.db

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "core_addon",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("installed_version", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("with_demo", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("installed_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_core_addon")),
    )
    op.create_table(
        "core_company",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_company")),
        sa.UniqueConstraint("name", name=op.f("uq_core_company_name")),
    )
    op.create_table(
        "core_data_record",
        sa.Column("addon", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("table_name", sa.String(length=100), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_data_record")),
        sa.UniqueConstraint("addon", "key", name=op.f("uq_core_data_record_addon_key")),
    )
    with op.batch_alter_table("core_data_record", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_core_data_record_addon"), ["addon"], unique=False)

    op.create_table(
        "core_group",
        sa.Column("addon", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("is_admin", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_group")),
        sa.UniqueConstraint("addon", "key", name=op.f("uq_core_group_addon_key")),
    )
    op.create_table(
        "core_menu",
        sa.Column("addon", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.Column("permission", sa.String(length=200), nullable=True),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("parent", sa.String(length=100), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_menu")),
    )
    with op.batch_alter_table("core_menu", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_core_menu_addon"), ["addon"], unique=False)

    op.create_table(
        "core_permission",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("addon", sa.String(length=64), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_permission")),
        sa.UniqueConstraint("name", name=op.f("uq_core_permission_name")),
    )
    with op.batch_alter_table("core_permission", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_core_permission_addon"), ["addon"], unique=False)

    op.create_table(
        "core_registry_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("changed_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_registry_state")),
    )
    op.create_table(
        "core_revoked_token",
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("expires_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("jti", name=op.f("pk_core_revoked_token")),
    )
    op.create_table(
        "core_group_permission",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("permission_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["core_group.id"],
            name=op.f("fk_core_group_permission_group_id_core_group"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["permission_id"],
            ["core_permission.id"],
            name=op.f("fk_core_group_permission_permission_id_core_permission"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", "permission_id", name=op.f("pk_core_group_permission")),
    )
    op.create_table(
        "core_sequence",
        sa.Column("addon", sa.String(length=64), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=32), nullable=False),
        sa.Column("padding", sa.Integer(), nullable=False),
        sa.Column("next_number", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["core_company.id"],
            name=op.f("fk_core_sequence_company_id_core_company"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_sequence")),
        sa.UniqueConstraint("company_id", "code", name=op.f("uq_core_sequence_company_id_code")),
    )
    with op.batch_alter_table("core_sequence", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_core_sequence_addon"), ["addon"], unique=False)

    op.create_table(
        "core_user",
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=True),
        sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False),
        sa.Column("locked_until", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("tokens_valid_after", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["core_company.id"],
            name=op.f("fk_core_user_company_id_core_company"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_user")),
        sa.UniqueConstraint("email", name=op.f("uq_core_user_email")),
    )
    op.create_table(
        "core_api_token",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=128), nullable=False),
        sa.Column("last_used_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["core_user.id"],
            name=op.f("fk_core_api_token_user_id_core_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_api_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_core_api_token_token_hash")),
    )
    with op.batch_alter_table("core_api_token", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_core_api_token_prefix"), ["prefix"], unique=False)

    op.create_table(
        "core_audit_log",
        sa.Column("table_name", sa.String(length=100), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("company_id", sa.Integer(), nullable=True),
        sa.Column("at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["core_user.id"],
            name=op.f("fk_core_audit_log_user_id_core_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_core_audit_log")),
    )
    with op.batch_alter_table("core_audit_log", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_core_audit_log_record_id"), ["record_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_core_audit_log_table_name"), ["table_name"], unique=False
        )

    op.create_table(
        "core_user_company",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["core_company.id"],
            name=op.f("fk_core_user_company_company_id_core_company"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["core_user.id"],
            name=op.f("fk_core_user_company_user_id_core_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "company_id", name=op.f("pk_core_user_company")),
    )
    op.create_table(
        "core_user_group",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["core_group.id"],
            name=op.f("fk_core_user_group_group_id_core_group"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["core_user.id"],
            name=op.f("fk_core_user_group_user_id_core_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "group_id", name=op.f("pk_core_user_group")),
    )


def downgrade() -> None:
    op.drop_table("core_user_group")
    op.drop_table("core_user_company")
    with op.batch_alter_table("core_audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_core_audit_log_table_name"))
        batch_op.drop_index(batch_op.f("ix_core_audit_log_record_id"))

    op.drop_table("core_audit_log")
    with op.batch_alter_table("core_api_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_core_api_token_prefix"))

    op.drop_table("core_api_token")
    op.drop_table("core_user")
    with op.batch_alter_table("core_sequence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_core_sequence_addon"))

    op.drop_table("core_sequence")
    op.drop_table("core_group_permission")
    op.drop_table("core_revoked_token")
    op.drop_table("core_registry_state")
    with op.batch_alter_table("core_permission", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_core_permission_addon"))

    op.drop_table("core_permission")
    with op.batch_alter_table("core_menu", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_core_menu_addon"))

    op.drop_table("core_menu")
    op.drop_table("core_group")
    with op.batch_alter_table("core_data_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_core_data_record_addon"))

    op.drop_table("core_data_record")
    op.drop_table("core_company")
    op.drop_table("core_addon")
