"""things

Revision ID: 0001
Revises: None
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wobbly_thing",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wobbly_thing")),
    )
    op.execute("INSERT INTO wobbly_thing (name) VALUES ('half done')")


def downgrade() -> None:
    op.drop_table("wobbly_thing")
