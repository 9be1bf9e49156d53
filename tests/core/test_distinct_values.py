"""``distinct_values``: a column's distinct values among the rows the caller may see, sorted."""

from __future__ import annotations

from decimal import Decimal

from core.models import User
from core.resources.query import distinct_values
from core.tenancy import as_user
from tests.core.identity_world import build_world, models


def test_distinct_values_are_sorted_without_nulls_and_scoped(db_session):
    world = build_world(db_session)
    Gadget, _ = models()
    for company, currency, notes in (
        (world.company_a, "USD", "blue"), (world.company_a, "CHF", None),
        (world.company_a, "USD", "amber"), (world.company_a, "EUR", "blue"),
        (world.company_b, "JPY", "secret"),
    ):  # fmt: skip
        db_session.add(
            Gadget(name="g", price=Decimal(1), currency=currency, notes=notes, company_id=company)
        )
    db_session.flush()
    alice = db_session.get(User, world.users["alice"])
    with as_user(db_session, alice):
        # the world's own gadgets (EUR, no notes) count too
        assert distinct_values(db_session, Gadget.currency) == ["CHF", "EUR", "USD"]
        assert distinct_values(db_session, Gadget.notes) == ["amber", "blue"]
        assert distinct_values(db_session, Gadget.currency, limit=2) == ["CHF", "EUR"]
    carol = db_session.get(User, world.users["carol"])
    with as_user(db_session, carol, company_ids=[world.company_a, world.company_b]):
        assert distinct_values(db_session, Gadget.notes) == ["amber", "blue", "secret"]
