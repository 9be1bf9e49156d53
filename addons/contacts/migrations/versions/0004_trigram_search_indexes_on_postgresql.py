"""trigram search indexes on PostgreSQL (pg_trgm GIN on lower(col) of the searched columns)

The list search matches every word with ``lower(col) LIKE '%word%'`` on each searched
column; a B-tree cannot answer a pattern that starts with ``%``, a trigram GIN index can,
and PostgreSQL combines one per column with a ``BitmapOr``. Every searched column needs
one: a single unindexed branch of the ``OR`` sends the planner back to a full scan.

PostgreSQL only: SQLite has no trigram index, so there the revision does nothing (and the
models declare the indexes for PostgreSQL only).

The extension: ``pg_trgm`` is created when missing. It is a *trusted* extension (PG 13+),
so the database owner or any role with CREATE on the database may create it. When it is
not installed on the server (Debian: ``postgresql-contrib``) or the role may not create
it, the revision raises with instructions; the addon lifecycle runs every migration of an
operation in one transaction, so nothing is left half done. The downgrade drops the
indexes and keeps the extension: it belongs to the database, not to this addon, and other
addons or the DBA's own indexes may use it.

The indexes are built with a plain ``CREATE INDEX`` (inside the transaction), which blocks
writes to the two tables while it runs: about 2 s at 100,000 contacts.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25T17:00:00+00:00
"""

from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

COLUMNS = {
    'contacts_contact': ('first_name', 'last_name', 'name_key', 'email', 'phone', 'mobile'),
    'contacts_account': ('name', 'name_key', 'legal_name', 'email', 'phone', 'website'),
}
HELP = (
    "The contacts search indexes need the PostgreSQL extension pg_trgm ({problem}). Install "
    "the server's contrib package (Debian: postgresql-contrib) and run "
    "'CREATE EXTENSION pg_trgm' in this database as its owner or a superuser, then retry."
)


def _on_postgresql() -> bool:
    return op.get_bind().dialect.name == 'postgresql'


def _ensure_pg_trgm() -> None:
    bind = op.get_bind()
    if bind.exec_driver_sql("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'").first():
        return
    if not bind.exec_driver_sql(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'"
    ).first():
        raise RuntimeError(HELP.format(problem='it is not installed on the server'))
    try:
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
    except Exception as exc:  # the transaction is aborted: the lifecycle rolls it all back
        reason = str(getattr(exc, 'orig', None) or exc).strip().replace('\n', ' ')
        raise RuntimeError(HELP.format(problem=f'creating it failed: {reason}')) from exc


def upgrade() -> None:
    if not _on_postgresql():
        return
    _ensure_pg_trgm()
    for table, columns in COLUMNS.items():
        for column in columns:
            op.execute(
                f'CREATE INDEX ix_{table}_{column}_trgm ON {table} '
                f'USING gin (lower({column}) gin_trgm_ops)'
            )


def downgrade() -> None:
    if not _on_postgresql():
        return
    for table, columns in COLUMNS.items():
        for column in columns:
            op.execute(f'DROP INDEX IF EXISTS ix_{table}_{column}_trgm')
