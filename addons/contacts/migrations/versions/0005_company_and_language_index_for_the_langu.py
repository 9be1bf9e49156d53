"""company and language index for the language filter's choices

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25T18:20:38+00:00
"""

from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('contacts_contact', schema=None) as batch_op:
        batch_op.create_index('ix_contacts_contact_company_language', ['company_id', 'language'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('contacts_contact', schema=None) as batch_op:
        batch_op.drop_index('ix_contacts_contact_company_language')
