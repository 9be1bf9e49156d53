"""Two people convert the same lead at the same moment: exactly one opportunity comes out.

Real parallel connections on PostgreSQL (the lead's row is locked ``FOR UPDATE``); skipped on
SQLite, where the database-wide write lock serialises writers anyway.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from addons.crm_sales import services
from addons.crm_sales.models import Lead, Opportunity
from core.models import Company

pytestmark = pytest.mark.postgres


@pytest.fixture
def sales_database(installed_on_postgres):
    return installed_on_postgres(
        "crm_sales", why="row locks under concurrency are tested on PostgreSQL"
    )


def test_concurrent_conversions_of_one_lead(sales_database):
    db = sales_database
    with db.unit_of_work() as session:
        company_id = session.scalar(select(Company.id).order_by(Company.id).limit(1))
        lead_id = services.create_lead(
            session, {"title": "Race", "contact_name": "Rita Racer", "company_name": "Race Ltd"},
            company_id=company_id,
        ).id  # fmt: skip

    first, second = db.session_factory(), db.session_factory()
    outcome: dict[str, object] = {}
    try:
        mine = first.get(Lead, lead_id)
        theirs = second.get(Lead, lead_id)  # both read "new" before anybody converts
        assert mine.status == theirs.status == "new"
        services.convert_lead(first, mine)  # holds the row lock until commit

        def convert_theirs() -> None:
            try:
                services.convert_lead(second, theirs)
                second.commit()
                outcome["second"] = "converted"
            except services.AlreadyConverted:
                second.rollback()
                outcome["second"] = "refused"

        worker = threading.Thread(target=convert_theirs)
        worker.start()
        worker.join(timeout=1)
        assert worker.is_alive(), "the second conversion must wait for the first one's lock"
        first.commit()
        worker.join(timeout=30)
        assert not worker.is_alive()
    finally:
        first.close()
        second.close()
    assert outcome == {"second": "refused"}
    with db.session_factory() as check:
        count = check.scalar(
            select(func.count())
            .select_from(Opportunity)
            .where(Opportunity.source_lead_id == lead_id)
        )
        assert count == 1
        assert check.get(Lead, lead_id).status == "converted"
