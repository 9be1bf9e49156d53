"""stages, leads, opportunities and stage history

Revision ID: 0001
Revises: None
Create Date: 2026-11-25T11:37:47+00:00
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
        "crm_sales_stage",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("probability", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("is_won", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("is_lost", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("folded", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("archived", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.CheckConstraint("NOT (is_won AND is_lost)", name=op.f("ck_crm_sales_stage_won_or_lost")),
        sa.CheckConstraint(
            "probability >= 0 AND probability <= 100",
            name=op.f("ck_crm_sales_stage_probability_range"),
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["core_company.id"],
            name=op.f("fk_crm_sales_stage_company_id_core_company"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["core_user.id"],
            name=op.f("fk_crm_sales_stage_created_by_id_core_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["core_user.id"],
            name=op.f("fk_crm_sales_stage_updated_by_id_core_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_sales_stage")),
        sa.UniqueConstraint("company_id", "name", name=op.f("uq_crm_sales_stage_company_id_name")),
    )
    with op.batch_alter_table("crm_sales_stage", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_crm_sales_stage_company_id"), ["company_id"], unique=False
        )

    op.create_table(
        "crm_sales_lead",
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("contact_name", sa.String(length=200), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("company_name", sa.String(length=200), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("disqualify_reason", sa.Text(), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("converted_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint(
            "source IN ('web', 'referral', 'campaign', 'import', 'email', 'phone', 'event', 'partner', 'other')",
            name=op.f("ck_crm_sales_lead_source"),
        ),
        sa.CheckConstraint(
            "status IN ('new', 'qualified', 'disqualified', 'converted')",
            name=op.f("ck_crm_sales_lead_status"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["contacts_account.id"],
            name=op.f("fk_crm_sales_lead_account_id_contacts_account"),
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["core_company.id"],
            name=op.f("fk_crm_sales_lead_company_id_core_company"),
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts_contact.id"],
            name=op.f("fk_crm_sales_lead_contact_id_contacts_contact"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["core_user.id"],
            name=op.f("fk_crm_sales_lead_created_by_id_core_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["core_user.id"],
            name=op.f("fk_crm_sales_lead_owner_id_core_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["core_user.id"],
            name=op.f("fk_crm_sales_lead_updated_by_id_core_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_sales_lead")),
    )
    with op.batch_alter_table("crm_sales_lead", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_crm_sales_lead_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_crm_sales_lead_company_id"), ["company_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_crm_sales_lead_contact_id"), ["contact_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_crm_sales_lead_email"), ["email"], unique=False)
        batch_op.create_index(batch_op.f("ix_crm_sales_lead_owner_id"), ["owner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_crm_sales_lead_status"), ["status"], unique=False)

    op.create_table(
        "crm_sales_opportunity",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("stage_id", sa.Integer(), nullable=False),
        sa.Column("expected_revenue", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("probability", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("probability_manual", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("expected_close_date", sa.Date(), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("next_activity_date", sa.Date(), nullable=True),
        sa.Column("next_activity_note", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("lost_reason", sa.Text(), nullable=True),
        sa.Column("closed_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("source_lead_id", sa.Integer(), nullable=True),
        sa.Column("stage_entered_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'won', 'lost')", name=op.f("ck_crm_sales_opportunity_status")
        ),
        sa.CheckConstraint(
            "expected_revenue >= 0", name=op.f("ck_crm_sales_opportunity_revenue_not_negative")
        ),
        sa.CheckConstraint(
            "probability >= 0 AND probability <= 100",
            name=op.f("ck_crm_sales_opportunity_probability_range"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["contacts_account.id"],
            name=op.f("fk_crm_sales_opportunity_account_id_contacts_account"),
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["core_company.id"],
            name=op.f("fk_crm_sales_opportunity_company_id_core_company"),
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts_contact.id"],
            name=op.f("fk_crm_sales_opportunity_contact_id_contacts_contact"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["core_user.id"],
            name=op.f("fk_crm_sales_opportunity_created_by_id_core_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["core_user.id"],
            name=op.f("fk_crm_sales_opportunity_owner_id_core_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["source_lead_id"],
            ["crm_sales_lead.id"],
            name=op.f("fk_crm_sales_opportunity_source_lead_id_crm_sales_lead"),
        ),
        sa.ForeignKeyConstraint(
            ["stage_id"],
            ["crm_sales_stage.id"],
            name=op.f("fk_crm_sales_opportunity_stage_id_crm_sales_stage"),
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["core_user.id"],
            name=op.f("fk_crm_sales_opportunity_updated_by_id_core_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_sales_opportunity")),
        sa.UniqueConstraint("source_lead_id", name=op.f("uq_crm_sales_opportunity_source_lead_id")),
    )
    with op.batch_alter_table("crm_sales_opportunity", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_crm_sales_opportunity_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_crm_sales_opportunity_company_id"), ["company_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_crm_sales_opportunity_contact_id"), ["contact_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_crm_sales_opportunity_expected_close_date"),
            ["expected_close_date"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_crm_sales_opportunity_name"), ["name"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_crm_sales_opportunity_owner_id"), ["owner_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_crm_sales_opportunity_stage_id"), ["stage_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_crm_sales_opportunity_status"), ["status"], unique=False
        )

    op.create_table(
        "crm_sales_stage_history",
        sa.Column("opportunity_id", sa.Integer(), nullable=False),
        sa.Column("stage_id", sa.Integer(), nullable=False),
        sa.Column("entered_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("left_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
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
            name=op.f("fk_crm_sales_stage_history_company_id_core_company"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["core_user.id"],
            name=op.f("fk_crm_sales_stage_history_created_by_id_core_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["opportunity_id"],
            ["crm_sales_opportunity.id"],
            name=op.f("fk_crm_sales_stage_history_opportunity_id_crm_sales_opportunity"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["stage_id"],
            ["crm_sales_stage.id"],
            name=op.f("fk_crm_sales_stage_history_stage_id_crm_sales_stage"),
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["core_user.id"],
            name=op.f("fk_crm_sales_stage_history_updated_by_id_core_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_sales_stage_history")),
    )
    with op.batch_alter_table("crm_sales_stage_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_crm_sales_stage_history_company_id"), ["company_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_crm_sales_stage_history_opportunity_id"),
            ["opportunity_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_crm_sales_stage_history_stage_id"), ["stage_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("crm_sales_stage_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crm_sales_stage_history_stage_id"))
        batch_op.drop_index(batch_op.f("ix_crm_sales_stage_history_opportunity_id"))
        batch_op.drop_index(batch_op.f("ix_crm_sales_stage_history_company_id"))

    op.drop_table("crm_sales_stage_history")
    with op.batch_alter_table("crm_sales_opportunity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crm_sales_opportunity_status"))
        batch_op.drop_index(batch_op.f("ix_crm_sales_opportunity_stage_id"))
        batch_op.drop_index(batch_op.f("ix_crm_sales_opportunity_owner_id"))
        batch_op.drop_index(batch_op.f("ix_crm_sales_opportunity_name"))
        batch_op.drop_index(batch_op.f("ix_crm_sales_opportunity_expected_close_date"))
        batch_op.drop_index(batch_op.f("ix_crm_sales_opportunity_contact_id"))
        batch_op.drop_index(batch_op.f("ix_crm_sales_opportunity_company_id"))
        batch_op.drop_index(batch_op.f("ix_crm_sales_opportunity_account_id"))

    op.drop_table("crm_sales_opportunity")
    with op.batch_alter_table("crm_sales_lead", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crm_sales_lead_status"))
        batch_op.drop_index(batch_op.f("ix_crm_sales_lead_owner_id"))
        batch_op.drop_index(batch_op.f("ix_crm_sales_lead_email"))
        batch_op.drop_index(batch_op.f("ix_crm_sales_lead_contact_id"))
        batch_op.drop_index(batch_op.f("ix_crm_sales_lead_company_id"))
        batch_op.drop_index(batch_op.f("ix_crm_sales_lead_account_id"))

    op.drop_table("crm_sales_lead")
    with op.batch_alter_table("crm_sales_stage", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crm_sales_stage_company_id"))

    op.drop_table("crm_sales_stage")
