"""Two conversions of the same new customer at the same moment create it once.

Real parallel connections on PostgreSQL, where ``find_or_create_*`` hold an advisory lock
until their transaction ends; skipped on SQLite, where a transaction that read before another
one committed cannot write afterwards (the callers' retries look again).
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from addons.contacts import services
from addons.contacts.models import Account
from core.models import Company
from core.tenancy import company_scope

pytestmark = pytest.mark.postgres


@pytest.fixture
def contacts_database(installed_on_postgres):
    return installed_on_postgres(
        "contacts", why="advisory locks under concurrency are tested on PostgreSQL"
    )


def test_the_second_caller_waits_and_finds_what_the_first_created(contacts_database):
    db = contacts_database
    with db.session_factory() as session:
        company_id = session.scalar(select(Company.id).order_by(Company.id).limit(1))
    first, second = db.session_factory(), db.session_factory()
    outcome: dict[str, tuple[int, bool]] = {}
    try:
        with company_scope([company_id], company_id):
            mine, created = services.find_or_create_account(
                first, {"name": "Newco GmbH", "email": "hello@newco.example"}
            )
        assert created

        def theirs() -> None:
            with company_scope([company_id], company_id):
                account, made = services.find_or_create_account(
                    second, {"name": "NEWCO", "email": "Hello@Newco.example"}
                )
                second.commit()
            outcome["second"] = (account.id, made)

        worker = threading.Thread(target=theirs)
        worker.start()
        worker.join(timeout=1)
        assert worker.is_alive(), "the second look-up must wait for the first transaction"
        first.commit()
        worker.join(timeout=30)
        assert not worker.is_alive()
    finally:
        first.close()
        second.close()
    assert outcome == {"second": (mine.id, False)}
    with db.session_factory() as check:
        assert check.scalar(select(func.count()).select_from(Account)) == 1


def test_other_companies_do_not_wait_for_each_other(contacts_database):
    db = contacts_database
    with db.unit_of_work() as session:
        first_company = session.scalar(select(Company.id).order_by(Company.id).limit(1))
        other = Company(name="Other Ltd")
        session.add(other)
        session.flush()
        other_company = other.id
    first, second = db.session_factory(), db.session_factory()
    done = threading.Event()
    try:
        with company_scope([first_company], first_company):
            services.find_or_create_account(first, {"name": "Busy AG"})

        def elsewhere() -> None:
            with company_scope([other_company], other_company):
                services.find_or_create_account(second, {"name": "Busy AG"})
                second.commit()
            done.set()

        worker = threading.Thread(target=elsewhere)
        worker.start()
        assert done.wait(timeout=30), "another company's look-up must not wait"
        first.commit()
        worker.join(timeout=30)
    finally:
        first.close()
        second.close()
