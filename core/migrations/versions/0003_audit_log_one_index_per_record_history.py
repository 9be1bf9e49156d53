"""audit log: one index per record history

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07T13:14:38+00:00
"""

from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('core_audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_core_audit_log_record_id'))
        batch_op.drop_index(batch_op.f('ix_core_audit_log_table_name'))
        batch_op.create_index('ix_core_audit_log_record', ['table_name', 'record_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('core_audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_core_audit_log_record')
        batch_op.create_index(batch_op.f('ix_core_audit_log_table_name'), ['table_name'], unique=False)
        batch_op.create_index(batch_op.f('ix_core_audit_log_record_id'), ['record_id'], unique=False)
