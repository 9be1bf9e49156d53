"""single-column look-up indexes again; look-ups filter the company outside the index branch

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25T13:56:23+00:00
"""

from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('contacts_account', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contacts_account_company_email'))
        batch_op.drop_index(batch_op.f('ix_contacts_account_company_name_key'))
        batch_op.drop_index(batch_op.f('ix_contacts_account_company_phone'))
        batch_op.create_index(batch_op.f('ix_contacts_account_email'), ['email'], unique=False)
        batch_op.create_index(batch_op.f('ix_contacts_account_name_key'), ['name_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_contacts_account_phone'), ['phone'], unique=False)

    with op.batch_alter_table('contacts_contact', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contacts_contact_company_email'))
        batch_op.drop_index(batch_op.f('ix_contacts_contact_company_mobile'))
        batch_op.drop_index(batch_op.f('ix_contacts_contact_company_name_key'))
        batch_op.drop_index(batch_op.f('ix_contacts_contact_company_phone'))
        batch_op.create_index(batch_op.f('ix_contacts_contact_email'), ['email'], unique=False)
        batch_op.create_index(batch_op.f('ix_contacts_contact_mobile'), ['mobile'], unique=False)
        batch_op.create_index(batch_op.f('ix_contacts_contact_name_key'), ['name_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_contacts_contact_phone'), ['phone'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('contacts_contact', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contacts_contact_phone'))
        batch_op.drop_index(batch_op.f('ix_contacts_contact_name_key'))
        batch_op.drop_index(batch_op.f('ix_contacts_contact_mobile'))
        batch_op.drop_index(batch_op.f('ix_contacts_contact_email'))
        batch_op.create_index(batch_op.f('ix_contacts_contact_company_phone'), ['company_id', 'phone'], unique=False)
        batch_op.create_index(batch_op.f('ix_contacts_contact_company_name_key'), ['company_id', 'name_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_contacts_contact_company_mobile'), ['company_id', 'mobile'], unique=False)
        batch_op.create_index(batch_op.f('ix_contacts_contact_company_email'), ['company_id', 'email'], unique=False)

    with op.batch_alter_table('contacts_account', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contacts_account_phone'))
        batch_op.drop_index(batch_op.f('ix_contacts_account_name_key'))
        batch_op.drop_index(batch_op.f('ix_contacts_account_email'))
        batch_op.create_index(batch_op.f('ix_contacts_account_company_phone'), ['company_id', 'phone'], unique=False)
        batch_op.create_index(batch_op.f('ix_contacts_account_company_name_key'), ['company_id', 'name_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_contacts_account_company_email'), ['company_id', 'email'], unique=False)
