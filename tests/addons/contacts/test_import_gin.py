"""After a large import the trigram indexes hold the new rows in their main structure.

GIN indexes queue new rows in a pending list that every search reads through until VACUUM
merges it; core merges it at the end of an import of ``ANALYZE_AFTER_ROWS`` rows or more
(``core.bulk.refresh_statistics``). ``gin_clean_pending_list`` answers how many pending
pages it merged: none left after the import, some after the same rows inserted otherwise.
PostgreSQL only (the indexes exist only there).
"""

from __future__ import annotations

import io

import pytest
from sqlalchemy import text

from addons.contacts import services
from addons.contacts.api import contacts
from core.resources import csv_io
from core.tenancy import company_scope

pytestmark = pytest.mark.postgres

INDEX = "ix_contacts_contact_email_trgm"


def pending_pages(session) -> int:
    return session.execute(
        text("SELECT gin_clean_pending_list(CAST(:index AS regclass))"), {"index": INDEX}
    ).scalar()


@pytest.fixture
def postgres(session):
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("the trigram (GIN) indexes exist on PostgreSQL only")
    pending_pages(session)  # start from an empty pending list
    return session


def rows(prefix: str, count: int) -> str:
    return "first_name,last_name,email\n" + "".join(
        f"P{i},{prefix}{i},{prefix.lower()}{i}@gin.example\n" for i in range(count)
    )


def test_a_large_import_leaves_nothing_pending(postgres, company_id, monkeypatch):
    monkeypatch.setattr(csv_io, "ANALYZE_AFTER_ROWS", 50)
    with company_scope([company_id], company_id):
        result = csv_io.import_csv(postgres, contacts, io.BytesIO(rows("Imported", 60).encode()))
    assert (result.created, result.errors) == (60, [])
    assert pending_pages(postgres) == 0


def test_rows_written_otherwise_wait_in_the_pending_list(postgres, company_id):
    """The control: without the merge the same rows are pending (the check can tell)."""
    with company_scope([company_id], company_id):
        for i in range(60):
            services.create_contact(
                postgres,
                {"first_name": f"P{i}", "last_name": f"Plain{i}", "email": f"plain{i}@gin.example"},
            )
    assert pending_pages(postgres) > 0
