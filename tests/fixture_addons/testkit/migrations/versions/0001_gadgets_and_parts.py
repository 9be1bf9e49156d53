"""gadgets and parts

Revision ID: 0001
Revises: None
Create Date: 2026-11-25T11:28:50+00:00
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
        "testkit_gadget",
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("price", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("archived", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["core_company.id"],
            name=op.f("fk_testkit_gadget_company_id_core_company"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["core_user.id"],
            name=op.f("fk_testkit_gadget_created_by_id_core_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["core_user.id"],
            name=op.f("fk_testkit_gadget_updated_by_id_core_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_testkit_gadget")),
    )
    with op.batch_alter_table("testkit_gadget", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_testkit_gadget_company_id"), ["company_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_testkit_gadget_name"), ["name"], unique=False)

    op.create_table(
        "testkit_part",
        sa.Column("gadget_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=120), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["core_company.id"],
            name=op.f("fk_testkit_part_company_id_core_company"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["core_user.id"],
            name=op.f("fk_testkit_part_created_by_id_core_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["gadget_id"],
            ["testkit_gadget.id"],
            name=op.f("fk_testkit_part_gadget_id_testkit_gadget"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["core_user.id"],
            name=op.f("fk_testkit_part_updated_by_id_core_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_testkit_part")),
    )
    with op.batch_alter_table("testkit_part", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_testkit_part_company_id"), ["company_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_testkit_part_gadget_id"), ["gadget_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("testkit_part", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_testkit_part_gadget_id"))
        batch_op.drop_index(batch_op.f("ix_testkit_part_company_id"))

    op.drop_table("testkit_part")
    with op.batch_alter_table("testkit_gadget", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_testkit_gadget_name"))
        batch_op.drop_index(batch_op.f("ix_testkit_gadget_company_id"))

    op.drop_table("testkit_gadget")
