"""Contacts imported in batches (``services.import_contacts``/``import_accounts``).

The batch path must store exactly what the one-row-at-a-time path stores, apply the same
rules per row, and cost a fixed number of statements per batch.
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import pytest
from sqlalchemy import select

from addons.contacts.api import accounts, contacts
from addons.contacts.models import Account, Contact, Tag
from core.models import AuditLog
from core.resources import csv_io
from core.resources.csv_io import import_csv
from core.tenancy import company_scope
from tests.core.resources_support import count_statements

SAMPLES = Path(__file__).resolve().parents[3] / "docs" / "samples"


@pytest.fixture
def scoped(session, company_id, admin_id):
    with company_scope([company_id], company_id, user_id=admin_id):
        yield session


def load(session, resource, text: str, **flags):
    return import_csv(session, resource, io.BytesIO(text.encode()), **flags)


def one_by_one(resource):
    """The same resource without its batch path: every row through ``create``."""
    return dataclasses.replace(resource, create_many=None)


def stored(session) -> list[tuple]:
    """What an import left in the database, without ids and timestamps."""
    out = []
    for account in session.scalars(select(Account).order_by(Account.name)):
        out.append((
            "account", account.name, account.name_key, account.email, account.phone,
            account.industry, account.size, account.is_customer, account.is_vendor,
            sorted(t.name for t in account.tags),
            sorted((a.kind, a.is_default, a.street1, a.city, a.country) for a in account.addresses),
        ))  # fmt: skip
    for contact in session.scalars(select(Contact).order_by(Contact.email, Contact.last_name)):
        out.append((
            "contact", contact.first_name, contact.last_name, contact.name_key, contact.email,
            contact.phone, contact.mobile, contact.language,
            contact.account.name if contact.account else None,
            sorted(t.name for t in contact.tags),
        ))  # fmt: skip
    return out


def audited(session) -> list[str]:
    """The import's ``create`` entries in the audit trail, without ids (they differ per run)."""
    rows = session.execute(
        select(AuditLog.table_name, AuditLog.user_id, AuditLog.company_id, AuditLog.changes).where(
            AuditLog.action == "create", AuditLog.table_name.like("contacts_%")
        )
    )
    entries = []
    for table, user_id, company_id, changes in rows:
        kept = {k: v for k, v in changes.items() if not k.endswith("_id") or k == "company_id"}
        entries.append(repr((table, user_id, company_id, sorted(kept.items()))))
    return sorted(entries)


def import_samples(session, account_resource, contact_resource) -> None:
    for resource, name in ((account_resource, "accounts.csv"), (contact_resource, "contacts.csv")):
        result = load(session, resource, (SAMPLES / name).read_text())
        assert result.errors == [], result.errors[0].describe()


def test_batches_store_exactly_what_one_row_at_a_time_stores(scoped, monkeypatch):
    monkeypatch.setattr(csv_io, "BATCH_SIZE", 4)  # several batches per file
    with scoped.begin_nested() as first:
        import_samples(scoped, accounts, contacts)
        in_batches, batch_trail = stored(scoped), audited(scoped)
        first.rollback()
    with scoped.begin_nested() as second:
        import_samples(scoped, one_by_one(accounts), one_by_one(contacts))
        row_by_row, flush_trail = stored(scoped), audited(scoped)
        second.rollback()
    assert len(in_batches) == 35
    assert in_batches == row_by_row
    # The batches are written with core.bulk.insert_new, the rows one by one with a flush:
    # the trail must not tell them apart (an entry per account, contact and address).
    assert len(batch_trail) > len(in_batches)
    assert batch_trail == flush_trail


def test_a_new_tag_named_by_several_rows_of_a_batch_is_made_once(scoped):
    text = (
        "first_name,last_name,email,tags\n"
        "Ada,One,ada@example.com,Brand new; VIP\n"
        "Bob,Two,bob@example.com,brand new\n"
        "Cy,Three,cy@example.com,Brand New;Other\n"
    )
    result = load(scoped, contacts, text)
    assert (result.errors, result.created) == ([], 3)
    tags = scoped.scalars(select(Tag).where(Tag.name.in_(["Brand new", "brand new", "Brand New"])))
    (tag,) = tags.all()
    people = scoped.scalars(select(Contact).where(Contact.id.in_(result.created_ids))).all()
    assert all(tag in person.tags for person in people)


def test_duplicates_are_found_in_the_same_batch_and_in_earlier_batches(scoped, monkeypatch):
    monkeypatch.setattr(csv_io, "BATCH_SIZE", 2)
    text = (
        "first_name,last_name,email,phone\n"
        "Anna,Schmidt,anna@example.com,\n"  # line 2
        "Anne,Schmidt,ANNA@example.com,\n"  # line 3: same batch as line 2
        "Carl,Meyer,carl@example.com,+49 30 1112223\n"  # line 4
        "Zoe,Zimmer,zoe@example.com,\n"  # line 5
        "Carla,Meyer,carla@example.com,0049 30 1112223\n"  # line 6: the batch after line 4's
    )
    result = load(scoped, contacts, text, skip_errors=True)
    assert result.created == 3
    assert [e.line for e in result.errors] == [3, 6]
    assert "row 2" in result.errors[0].describe()
    carl = scoped.scalars(select(Contact).where(Contact.email == "carl@example.com")).one()
    assert f"contact #{carl.id}" in result.errors[1].describe()
    assert "(same phone)" in result.errors[1].describe()


def test_a_refused_row_is_not_a_duplicate_candidate_for_later_rows(scoped):
    text = (
        "first_name,last_name,email,language\n"
        "Dora,Lang,dora@example.com,klingon\n"  # refused: bad language
        "Dora,Lang,dora@example.com,de\n"  # so this one is not a duplicate of it
    )
    result = load(scoped, contacts, text, skip_errors=True)
    assert [(e.line, set(e.errors)) for e in result.errors] == [(2, {"language"})]
    assert result.created == 1


def test_contacts_are_imported_with_a_fixed_number_of_statements_per_batch(db, scoped):
    load(scoped, accounts, (SAMPLES / "accounts.csv").read_text())
    names = [a.name for a in scoped.scalars(select(Account).order_by(Account.id))]

    def rows(count: int, start: int) -> str:
        lines = ["first_name,last_name,email,phone,account_name,tags"]
        for i in range(start, start + count):
            lines.append(
                f"P{i},Person{i},p{i}@example.com,+49 30 {5550000 + i},{names[i % len(names)]},New tag {i % 3}"
            )
        return "\n".join(lines) + "\n"

    counts = []
    for count, start in ((10, 0), (120, 100)):
        with scoped.begin_nested() as attempt:  # the same start for both (caches dropped too)
            with count_statements(db.engine) as statements:
                result = load(scoped, contacts, rows(count, start))
            assert (result.errors, result.created) == ([], count)
            counts.append(len(statements))
            attempt.rollback()
    assert counts[0] == counts[1], counts


def test_a_name_is_a_duplicate_only_at_the_same_firm(scoped):
    load(scoped, accounts, "name\nAlpha GmbH\nBeta Ltd\n")
    first = load(scoped, contacts, "first_name,last_name,account_name\nAnna,Schmidt,Alpha GmbH\n")
    assert first.created == 1
    text = (
        "first_name,last_name,account_name\n"
        "Anna,Schmidt,Beta Ltd\n"  # another firm: another person
        "Anna,Schmidt,Alpha GmbH\n"  # the same firm: likely the same person
        "Anna,Schmidt,\n"  # no firm: could be either
    )
    result = load(scoped, contacts, text, skip_errors=True)
    assert result.created == 1
    assert [e.line for e in result.errors] == [3, 4]
    assert all("(same name)" in e.describe() for e in result.errors)


def test_a_batch_the_database_refuses_leaves_nothing_and_is_redone_row_by_row(scoped, monkeypatch):
    """The batch's rows, links and audit entries go with its savepoint; the rows come back."""
    from sqlalchemy.exc import IntegrityError

    from addons.contacts import services

    monkeypatch.setattr(csv_io, "BATCH_SIZE", 4)
    written = services.insert_new

    def refused_after_writing(session, records):
        written(session, records)  # the rows and their audit entries are in the savepoint
        if any(getattr(r, "last_name", None) == "Refused" for r in records):
            raise IntegrityError("INSERT ...", {}, Exception("refused by the database"))

    monkeypatch.setattr(services, "insert_new", refused_after_writing)
    text = (
        "first_name,last_name,email,tags\n"
        "Ann,Able,ann@example.com,VIP\n"
        "Bob,Refused,bob@example.com,VIP\n"
        "Cy,Cole,cy@example.com,\n"
        "Di,Dunn,di@example.com,VIP\n"
        "Ed,Eton,ed@example.com,\n"
    )
    result = load(scoped, contacts, text)
    assert (result.created, result.errors) == (5, [])
    names = scoped.scalars(select(Contact.last_name).order_by(Contact.last_name)).all()
    assert names == ["Able", "Cole", "Dunn", "Eton", "Refused"]  # each once
    tagged = scoped.scalars(select(Contact.last_name).where(Contact.tags.any(Tag.name == "VIP")))
    assert sorted(tagged) == ["Able", "Dunn", "Refused"]
    entries = scoped.scalars(
        select(AuditLog.record_id).where(
            AuditLog.table_name == "contacts_contact", AuditLog.action == "create"
        )
    ).all()
    assert sorted(entries) == sorted(result.created_ids)  # one entry per stored contact
