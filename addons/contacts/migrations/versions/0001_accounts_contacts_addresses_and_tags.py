"""accounts, contacts, addresses and tags

Revision ID: 0001
Revises: None
Create Date: 2026-11-25T11:33:00+00:00
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
        "contacts_account",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_key", sa.String(length=200), nullable=False),
        sa.Column("legal_name", sa.String(length=200), nullable=True),
        sa.Column("tax_id", sa.String(length=64), nullable=True),
        sa.Column("website", sa.String(length=255), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("industry", sa.String(length=100), nullable=True),
        sa.Column("size", sa.String(length=16), nullable=True),
        sa.Column("is_customer", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("is_vendor", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("parent_id", sa.Integer(), nullable=True),
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
            name=op.f("fk_contacts_account_company_id_core_company"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["core_user.id"],
            name=op.f("fk_contacts_account_created_by_id_core_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["core_user.id"],
            name=op.f("fk_contacts_account_owner_id_core_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["contacts_account.id"],
            name=op.f("fk_contacts_account_parent_id_contacts_account"),
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["core_user.id"],
            name=op.f("fk_contacts_account_updated_by_id_core_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts_account")),
    )
    with op.batch_alter_table("contacts_account", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contacts_account_company_id"), ["company_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_contacts_account_email"), ["email"], unique=False)
        batch_op.create_index(batch_op.f("ix_contacts_account_name"), ["name"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_contacts_account_name_key"), ["name_key"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_contacts_account_owner_id"), ["owner_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_contacts_account_parent_id"), ["parent_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_contacts_account_phone"), ["phone"], unique=False)

    op.create_table(
        "contacts_tag",
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("color", sa.String(length=7), nullable=True),
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
            name=op.f("fk_contacts_tag_company_id_core_company"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["core_user.id"],
            name=op.f("fk_contacts_tag_created_by_id_core_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["core_user.id"],
            name=op.f("fk_contacts_tag_updated_by_id_core_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts_tag")),
        sa.UniqueConstraint("company_id", "name", name=op.f("uq_contacts_tag_company_id_name")),
    )
    with op.batch_alter_table("contacts_tag", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contacts_tag_company_id"), ["company_id"], unique=False
        )

    op.create_table(
        "contacts_account_tag",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["contacts_account.id"],
            name=op.f("fk_contacts_account_tag_account_id_contacts_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tag_id"],
            ["contacts_tag.id"],
            name=op.f("fk_contacts_account_tag_tag_id_contacts_tag"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", "tag_id", name=op.f("pk_contacts_account_tag")),
    )
    with op.batch_alter_table("contacts_account_tag", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contacts_account_tag_tag_id"), ["tag_id"], unique=False
        )

    op.create_table(
        "contacts_contact",
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("name_key", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("mobile", sa.String(length=40), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("forgotten_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("forgotten_by_id", sa.Integer(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("archived", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["contacts_account.id"],
            name=op.f("fk_contacts_contact_account_id_contacts_account"),
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["core_company.id"],
            name=op.f("fk_contacts_contact_company_id_core_company"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["core_user.id"],
            name=op.f("fk_contacts_contact_created_by_id_core_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["forgotten_by_id"],
            ["core_user.id"],
            name=op.f("fk_contacts_contact_forgotten_by_id_core_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["core_user.id"],
            name=op.f("fk_contacts_contact_owner_id_core_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["core_user.id"],
            name=op.f("fk_contacts_contact_updated_by_id_core_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts_contact")),
    )
    with op.batch_alter_table("contacts_contact", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contacts_contact_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_contacts_contact_company_id"), ["company_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_contacts_contact_email"), ["email"], unique=False)
        batch_op.create_index(batch_op.f("ix_contacts_contact_mobile"), ["mobile"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_contacts_contact_name_key"), ["name_key"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_contacts_contact_owner_id"), ["owner_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_contacts_contact_phone"), ["phone"], unique=False)

    op.create_table(
        "contacts_address",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("is_default", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("street1", sa.String(length=200), nullable=True),
        sa.Column("street2", sa.String(length=200), nullable=True),
        sa.Column("city", sa.String(length=100), nullable=True),
        sa.Column("postal_code", sa.String(length=20), nullable=True),
        sa.Column("region", sa.String(length=100), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint(
            "kind IN ('billing', 'shipping', 'other')", name=op.f("ck_contacts_address_kind")
        ),
        sa.CheckConstraint(
            "(account_id IS NULL) <> (contact_id IS NULL)",
            name=op.f("ck_contacts_address_one_owner"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["contacts_account.id"],
            name=op.f("fk_contacts_address_account_id_contacts_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["core_company.id"],
            name=op.f("fk_contacts_address_company_id_core_company"),
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts_contact.id"],
            name=op.f("fk_contacts_address_contact_id_contacts_contact"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["core_user.id"],
            name=op.f("fk_contacts_address_created_by_id_core_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["core_user.id"],
            name=op.f("fk_contacts_address_updated_by_id_core_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts_address")),
    )
    with op.batch_alter_table("contacts_address", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contacts_address_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_contacts_address_company_id"), ["company_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_contacts_address_contact_id"), ["contact_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_contacts_address_country"), ["country"], unique=False)
        batch_op.create_index(
            "uq_contacts_address_account_default",
            ["account_id", "kind"],
            unique=True,
            sqlite_where=sa.text("is_default AND account_id IS NOT NULL"),
            postgresql_where=sa.text("is_default AND account_id IS NOT NULL"),
        )
        batch_op.create_index(
            "uq_contacts_address_contact_default",
            ["contact_id", "kind"],
            unique=True,
            sqlite_where=sa.text("is_default AND contact_id IS NOT NULL"),
            postgresql_where=sa.text("is_default AND contact_id IS NOT NULL"),
        )

    op.create_table(
        "contacts_contact_tag",
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts_contact.id"],
            name=op.f("fk_contacts_contact_tag_contact_id_contacts_contact"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tag_id"],
            ["contacts_tag.id"],
            name=op.f("fk_contacts_contact_tag_tag_id_contacts_tag"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("contact_id", "tag_id", name=op.f("pk_contacts_contact_tag")),
    )
    with op.batch_alter_table("contacts_contact_tag", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contacts_contact_tag_tag_id"), ["tag_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("contacts_contact_tag", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contacts_contact_tag_tag_id"))

    op.drop_table("contacts_contact_tag")
    with op.batch_alter_table("contacts_address", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_contacts_address_contact_default",
            sqlite_where=sa.text("is_default AND contact_id IS NOT NULL"),
            postgresql_where=sa.text("is_default AND contact_id IS NOT NULL"),
        )
        batch_op.drop_index(
            "uq_contacts_address_account_default",
            sqlite_where=sa.text("is_default AND account_id IS NOT NULL"),
            postgresql_where=sa.text("is_default AND account_id IS NOT NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_contacts_address_country"))
        batch_op.drop_index(batch_op.f("ix_contacts_address_contact_id"))
        batch_op.drop_index(batch_op.f("ix_contacts_address_company_id"))
        batch_op.drop_index(batch_op.f("ix_contacts_address_account_id"))

    op.drop_table("contacts_address")
    with op.batch_alter_table("contacts_contact", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contacts_contact_phone"))
        batch_op.drop_index(batch_op.f("ix_contacts_contact_owner_id"))
        batch_op.drop_index(batch_op.f("ix_contacts_contact_name_key"))
        batch_op.drop_index(batch_op.f("ix_contacts_contact_mobile"))
        batch_op.drop_index(batch_op.f("ix_contacts_contact_email"))
        batch_op.drop_index(batch_op.f("ix_contacts_contact_company_id"))
        batch_op.drop_index(batch_op.f("ix_contacts_contact_account_id"))

    op.drop_table("contacts_contact")
    with op.batch_alter_table("contacts_account_tag", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contacts_account_tag_tag_id"))

    op.drop_table("contacts_account_tag")
    with op.batch_alter_table("contacts_tag", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contacts_tag_company_id"))

    op.drop_table("contacts_tag")
    with op.batch_alter_table("contacts_account", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contacts_account_phone"))
        batch_op.drop_index(batch_op.f("ix_contacts_account_parent_id"))
        batch_op.drop_index(batch_op.f("ix_contacts_account_owner_id"))
        batch_op.drop_index(batch_op.f("ix_contacts_account_name_key"))
        batch_op.drop_index(batch_op.f("ix_contacts_account_name"))
        batch_op.drop_index(batch_op.f("ix_contacts_account_email"))
        batch_op.drop_index(batch_op.f("ix_contacts_account_company_id"))

    op.drop_table("contacts_account")
