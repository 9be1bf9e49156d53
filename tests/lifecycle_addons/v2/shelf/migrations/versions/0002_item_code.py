"""item code: a schema change and a data migration

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("shelf_item") as batch:
        batch.add_column(sa.Column("code", sa.String(length=80), server_default="", nullable=False))
    items = sa.table(
        "shelf_item",
        sa.column("id", sa.Integer),
        sa.column("name", sa.String),
        sa.column("code", sa.String),
    )
    connection = op.get_bind()
    for row in connection.execute(sa.select(items.c.id, items.c.name)):
        code = row.name.upper().replace(" ", "-")
        connection.execute(items.update().where(items.c.id == row.id).values(code=code))


def downgrade() -> None:
    with op.batch_alter_table("shelf_item") as batch:
        batch.drop_column("code")
