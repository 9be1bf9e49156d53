"""fails halfway

Revision ID: 0002
Revises: 0001
"""

import os

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("wobbly_extra", sa.Column("id", sa.Integer(), primary_key=True))
    if os.environ.get("MOSAIC_TEST_WOBBLY_FAIL", "migration") == "migration":
        op.execute("INSERT INTO no_such_table (id) VALUES (1)")


def downgrade() -> None:
    op.drop_table("wobbly_extra")
