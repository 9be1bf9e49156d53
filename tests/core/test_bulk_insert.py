"""New records written as audited ORM bulk INSERTs (``core.bulk.insert_new``).

``insert_new`` skips the unit of work, so everything a flush does for new rows has to happen
another way: ids (``core.bulk.new_ids``), column defaults and authors plus one ``create``
entry per row (``core.bulk_statements``), the company stamped and references checked
(``core.tenancy``). These tests hold the two paths side by side: what a flush stores and
records is what ``insert_new`` must store and record.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, insert, inspect, select
from sqlalchemy.exc import IntegrityError

from addons.contacts.models import Account, Address, Contact, Tag, account_tag, contact_tag
from core.audit import init_audit
from core.bulk import insert_new
from core.bulk_statements import init_bulk_statements
from core.models import AuditLog
from core.tenancy import (
    CompanyAccessError,
    CompanyRequiredError,
    InvisibleReferenceError,
    company_scope,
    unscoped,
)
from tests.core.identity_world import World, build_world, models, settle
from tests.core.resources_support import count_statements

#: Columns that differ between two stores of the same record by nature.
VOLATILE = frozenset({"id", "created_at", "updated_at"})


@pytest.fixture
def world(db_session) -> World:
    init_audit()  # as the app does; idempotent (a test run alone may not have imported it)
    init_bulk_statements()
    return build_world(db_session)


@pytest.fixture
def tag_ids(db_session, world) -> dict[str, int]:
    """Two tags of company A, stored by a plain flush."""
    tags = [Tag(name=name, company_id=world.company_a) for name in ("Prospect", "VIP")]
    db_session.add_all(tags)
    db_session.flush()
    ids = {tag.name: tag.id for tag in tags}
    settle(db_session)
    return ids


@contextlib.contextmanager
def working_as(world: World, name: str = "alice", company: str = "a") -> Iterator[None]:
    """A restricted scope: the user works in one company (as a request of theirs would)."""
    company_id = world.company_a if company == "a" else world.company_b
    with company_scope([company_id], company_id, user_id=world.users[name]):
        yield


def tags_of(session, tag_ids: dict[str, int]) -> list[Tag]:
    return list(session.scalars(select(Tag).where(Tag.id.in_(tag_ids.values()))))


def addresses() -> list[Address]:
    return [
        Address(kind="billing", is_default=True, street1="Hauptstr. 1", city="Berlin"),
        Address(kind="shipping", street1="Hafen 2", city="Hamburg", country="de"),
    ]


def build_account(name: str, tags: list[Tag]) -> Account:
    """An account as an import builds it: two addresses, two tags."""
    account = Account(
        name=f"{name} GmbH",
        email=f" Info@{name}.example ",
        phone="+49 30 1234567",
        industry="Software",
        is_customer=True,
    )
    account.addresses.extend(addresses())
    account.tags = list(tags)
    return account


def build_contact(name: str, tags: list[Tag], account_id: int | None = None) -> Contact:
    """A contact as an import builds it: of a stored account, two addresses, two tags."""
    contact = Contact(
        first_name=" Jos\u00e9 ",
        last_name=name,
        email=f"JOSE@{name}.example",
        mobile="+41 79 123 45 67",
        language="de-CH",
        account_id=account_id,
    )
    contact.addresses.extend(addresses())
    contact.tags = list(tags)
    return contact


def stored_row(session, model: type, record_id: int) -> dict[str, Any]:
    """The row as stored (a Core read: no company filter, nothing from the identity map)."""
    table = model.__table__
    return dict(session.execute(select(table).where(table.c.id == record_id)).mappings().one())


def without(row: dict[str, Any], keys: frozenset[str] | set[str]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in keys}


def address_rows(session, owner: Account | Contact) -> list[dict[str, Any]]:
    table = Address.__table__
    column = table.c.account_id if isinstance(owner, Account) else table.c.contact_id
    rows = session.execute(select(table).where(column == owner.id).order_by(table.c.kind))
    return [dict(row) for row in rows.mappings()]


def linked_tags(session, owner: Account | Contact) -> set[int]:
    if isinstance(owner, Account):
        table, own = account_tag, account_tag.c.account_id
    else:
        table, own = contact_tag, contact_tag.c.contact_id
    return set(session.scalars(select(table.c.tag_id).where(own == owner.id)))


def created_entries(session, model: type, record_id: int) -> list[AuditLog]:
    return list(
        session.scalars(
            select(AuditLog)
            .where(
                AuditLog.table_name == model.__table__.name,
                AuditLog.record_id == record_id,
                AuditLog.action == "create",
            )
            .order_by(AuditLog.id)
        )
    )


def count(session, model_or_table: Any) -> int:
    table = getattr(model_or_table, "__table__", model_or_table)
    return session.scalar(select(func.count()).select_from(table))


def audit_count(session) -> int:
    return count(session, AuditLog)


# --------------------------------------------------------------------------- equivalence


@pytest.mark.parametrize("kind", ["account", "contact"])
def test_insert_new_stores_and_records_what_a_flush_does(db_session, world, tag_ids, kind):
    with working_as(world):
        employer = Account(name="Employer")
        db_session.add(employer)
        db_session.flush()

        def build() -> Account | Contact:
            tags = tags_of(db_session, tag_ids)
            if kind == "account":
                return build_account("Same", tags)
            return build_contact("Same", tags, employer.id)

        flushed = build()
        db_session.add(flushed)
        db_session.flush()
        inserted = build()
        insert_new(db_session, [inserted])
    model = type(flushed)
    assert inserted.id is not None and inserted.id != flushed.id

    # the record's row, its addresses and its tag links
    ours = stored_row(db_session, model, flushed.id)
    theirs = stored_row(db_session, model, inserted.id)
    assert without(theirs, VOLATILE) == without(ours, VOLATILE)
    assert theirs["created_at"] is not None and theirs["updated_at"] is not None
    flushed_addresses = address_rows(db_session, flushed)
    inserted_addresses = address_rows(db_session, inserted)
    assert len(inserted_addresses) == 2
    owner_key = f"{kind}_id"
    strip = VOLATILE | {owner_key}
    assert [without(r, strip) for r in inserted_addresses] == [
        without(r, strip) for r in flushed_addresses
    ]
    assert linked_tags(db_session, inserted) == linked_tags(db_session, flushed)
    assert linked_tags(db_session, inserted) == set(tag_ids.values())

    # one create entry each, with the same changes (the owner's id aside), user and company
    [flushed_entry] = created_entries(db_session, model, flushed.id)
    [inserted_entry] = created_entries(db_session, model, inserted.id)
    assert inserted_entry.changes == flushed_entry.changes
    assert (inserted_entry.user_id, inserted_entry.company_id) == (
        flushed_entry.user_id,
        flushed_entry.company_id,
    )
    for ours_row, theirs_row in zip(flushed_addresses, inserted_addresses, strict=True):
        [ours_entry] = created_entries(db_session, Address, ours_row["id"])
        [theirs_entry] = created_entries(db_session, Address, theirs_row["id"])
        assert theirs_entry.changes.pop(owner_key) == {"old": None, "new": inserted.id}
        assert ours_entry.changes.pop(owner_key) == {"old": None, "new": flushed.id}
        assert theirs_entry.changes == ours_entry.changes
        assert (theirs_entry.user_id, theirs_entry.company_id) == (
            ours_entry.user_id,
            ours_entry.company_id,
        )


def test_children_get_the_new_parent_id_and_objects_stay_out_of_the_session(
    db_session, world, tag_ids
):
    with working_as(world):
        accounts = [build_account(f"Child{i}", tags_of(db_session, tag_ids)) for i in range(3)]
        insert_new(db_session, accounts)
    ids = [account.id for account in accounts]
    assert None not in ids and len(set(ids)) == 3
    for account in accounts:
        assert inspect(account).transient and account not in db_session
        address_ids = {a.id for a in account.addresses}
        assert None not in address_ids and len(address_ids) == 2
        for address in account.addresses:
            assert inspect(address).transient and address not in db_session
            assert address.account_id == account.id
            assert stored_row(db_session, Address, address.id)["account_id"] == account.id
        assert {a["id"] for a in address_rows(db_session, account)} == address_ids
        assert linked_tags(db_session, account) == set(tag_ids.values())
        assert stored_row(db_session, Account, account.id)["name"] == account.name


def test_a_reference_given_as_an_id_to_a_loaded_row_is_kept(db_session, world):
    with working_as(world):
        account = Account(name="Stored")
        db_session.add(account)
        db_session.flush()
        contact = Contact(first_name="Ada", last_name="Lovelace", account_id=account.id)
        insert_new(db_session, [contact])
        db_session.flush()  # nothing pending is left behind
    assert stored_row(db_session, Contact, contact.id)["account_id"] == account.id
    assert inspect(contact).transient


def test_a_many_to_one_target_that_is_stored_gives_its_id(db_session, world):
    """A contact of an account loaded in the session: its ``account_id`` comes from it."""
    with working_as(world):
        account = Account(name="Stored")
        db_session.add(account)
        db_session.flush()
        contact = Contact(first_name="Ada", last_name="Lovelace", account=account)
        insert_new(db_session, [contact])
        db_session.flush()
    assert stored_row(db_session, Contact, contact.id)["account_id"] == account.id


# --------------------------------------------------------------------------- defaults


def test_defaults_and_authors_are_filled_as_a_flush_fills_them(db_session, world):
    Gadget, _ = models()
    with working_as(world):
        gadget = Gadget(name="defaults")
        insert_new(db_session, [gadget])
    row = stored_row(db_session, Gadget, gadget.id)
    assert row["version"] == 1
    assert row["archived"] is False
    assert row["price"] == Decimal("0") and row["currency"] == "EUR"
    assert row["created_at"] is not None and row["updated_at"] is not None
    assert row["created_by_id"] == row["updated_by_id"] == world.users["alice"]
    [entry] = created_entries(db_session, Gadget, gadget.id)
    assert entry.user_id == world.users["alice"]
    assert entry.company_id == world.company_a
    assert entry.changes == {
        "name": {"old": None, "new": "defaults"},
        "price": {"old": None, "new": "0"},
        "currency": {"old": None, "new": "EUR"},
        "archived": {"old": None, "new": False},
        "company_id": {"old": None, "new": world.company_a},
    }


def test_values_given_explicitly_win_over_defaults(db_session, world):
    Gadget, _ = models()
    with working_as(world):
        gadget = Gadget(
            name="explicit",
            price=Decimal("5.50"),
            currency="USD",
            archived=True,
            created_by_id=world.users["dave"],
        )
        insert_new(db_session, [gadget])
    row = stored_row(db_session, Gadget, gadget.id)
    assert (row["price"], row["currency"], row["archived"]) == (Decimal("5.50"), "USD", True)
    assert row["created_by_id"] == world.users["dave"]
    assert row["updated_by_id"] == world.users["alice"]
    [entry] = created_entries(db_session, Gadget, gadget.id)
    assert entry.user_id == world.users["dave"]  # as the flush: the author given wins
    assert entry.changes["archived"] == {"old": None, "new": True}


def test_an_orm_insert_statement_gets_ids_defaults_and_entries(db_session, world):
    Gadget, _ = models()
    with working_as(world):
        db_session.execute(insert(Gadget), [{"name": "stmt one"}, {"name": "stmt two"}])
    rows = db_session.execute(
        select(Gadget.__table__).where(Gadget.__table__.c.name.like("stmt %"))
    ).mappings()
    rows = sorted(rows, key=lambda r: r["name"])
    assert [r["name"] for r in rows] == ["stmt one", "stmt two"]
    for row in rows:
        assert (row["version"], row["archived"], row["company_id"]) == (1, False, world.company_a)
        assert row["created_by_id"] == row["updated_by_id"] == world.users["alice"]
        [entry] = created_entries(db_session, Gadget, row["id"])
        assert entry.changes["name"] == {"old": None, "new": row["name"]}


def test_a_none_given_for_a_column_with_a_default_stores_the_default_as_a_flush_does(
    db_session, world
):
    Gadget, _ = models()
    values = {"currency": None, "price": None, "archived": None}
    with working_as(world):
        flushed = Gadget(name="nones", **values)
        db_session.add(flushed)
        db_session.flush()
        inserted = Gadget(name="nones", **values)
        insert_new(db_session, [inserted])
    expected = without(stored_row(db_session, Gadget, flushed.id), VOLATILE)
    assert (expected["currency"], expected["price"], expected["archived"]) == ("EUR", 0, False)
    assert without(stored_row(db_session, Gadget, inserted.id), VOLATILE) == expected


@pytest.mark.parametrize(
    "order",
    [
        "parent first",
        "child first",
    ],
)
def test_a_parent_and_its_child_of_the_same_table_in_one_system_batch(db_session, world, order):
    def pair(suffix: str) -> list[Account]:
        parent = Account(name=f"Holding {suffix}", company_id=world.company_a)
        child = Account(name=f"Subsidiary {suffix}", company_id=world.company_a, parent=parent)
        return [parent, child] if order == "parent first" else [child, parent]

    with unscoped(world.users["carol"]):
        db_session.add_all(pair("flushed"))  # the reference: the flush takes either order
        db_session.flush()
        batch = pair("inserted")
        insert_new(db_session, batch)
    child, parent = (batch[1], batch[0]) if order == "parent first" else batch
    assert stored_row(db_session, Account, child.id)["parent_id"] == parent.id


def test_a_parent_and_its_child_of_the_same_table_in_one_restricted_batch(db_session, world):
    with working_as(world):
        parent = Account(name="Holding")
        child = Account(name="Subsidiary", parent=parent)
        insert_new(db_session, [parent, child])
    assert stored_row(db_session, Account, child.id)["parent_id"] == parent.id


def test_an_orm_insert_of_one_dict_and_one_with_returning_are_audited(db_session, world):
    Gadget, _ = models()
    with working_as(world):
        db_session.execute(insert(Gadget), {"name": "single"})
        returned = db_session.scalars(
            insert(Gadget).returning(Gadget.id), [{"name": "ret one"}, {"name": "ret two"}]
        ).all()
    single = db_session.scalar(select(Gadget.id).where(Gadget.name == "single"))
    assert len(returned) == 2 and None not in returned
    for gadget_id in [single, *returned]:
        row = stored_row(db_session, Gadget, gadget_id)
        assert (row["company_id"], row["version"]) == (world.company_a, 1)
        assert row["created_by_id"] == world.users["alice"]
        assert len(created_entries(db_session, Gadget, gadget_id)) == 1


# --------------------------------------------------------------------------- company


def test_the_company_is_stamped_from_the_scope(db_session, world):
    Gadget, Part = models()
    with working_as(world, "carol", "b"):
        gadget = Gadget(name="stamped", parts=[Part(label="stamped part")])
        insert_new(db_session, [gadget])
    assert stored_row(db_session, Gadget, gadget.id)["company_id"] == world.company_b
    part_id = gadget.parts[0].id
    assert stored_row(db_session, Part, part_id)["company_id"] == world.company_b
    assert stored_row(db_session, Part, part_id)["gadget_id"] == gadget.id
    [entry] = created_entries(db_session, Part, part_id)
    assert entry.company_id == world.company_b


def test_another_company_is_refused_and_nothing_is_written(db_session, world):
    Gadget, _ = models()
    gadgets, entries = count(db_session, Gadget), audit_count(db_session)
    with working_as(world), pytest.raises(CompanyAccessError):
        insert_new(
            db_session,
            [Gadget(name="mine"), Gadget(name="smuggled", company_id=world.company_b)],
        )
    assert (count(db_session, Gadget), audit_count(db_session)) == (gadgets, entries)


@pytest.mark.parametrize("scope", ["two companies, none current", "system"])
def test_no_company_to_stamp_is_refused(db_session, world, scope):
    Gadget, _ = models()
    gadgets, entries = count(db_session, Gadget), audit_count(db_session)
    if scope == "system":
        context = unscoped(world.users["carol"])
    else:
        context = company_scope([world.company_a, world.company_b], user_id=world.users["carol"])
    with context, pytest.raises(CompanyRequiredError):
        insert_new(db_session, [Gadget(name="homeless")])
    assert (count(db_session, Gadget), audit_count(db_session)) == (gadgets, entries)


# --------------------------------------------------------------------------- references


@pytest.mark.parametrize(
    "given_as",
    [
        "id",
        "object",
    ],
)
def test_a_reference_to_another_companys_row_is_refused(db_session, world, given_as):
    Gadget, Part = models()
    foreign = world.gadgets["b"]
    parts, gadgets, entries = (
        count(db_session, Part),
        count(db_session, Gadget),
        audit_count(db_session),
    )
    if given_as == "object":
        with unscoped():
            target = db_session.get(Gadget, foreign)  # loaded before the restricted work
    # The savepoint first: its flush would meet the stray part queued on the loaded
    # gadget's collection (the backref) before insert_new could take it off.
    with working_as(world), pytest.raises(InvisibleReferenceError), db_session.begin_nested():
        stray = (
            Part(label="stray", gadget_id=foreign)
            if given_as == "id"
            else Part(label="stray", gadget=target)
        )
        # a new gadget first: written before the part is refused, so the savepoint matters
        batch = [Gadget(name="new", parts=[Part(label="fine")]), stray]
        insert_new(db_session, batch)
    assert count(db_session, Part) == parts
    assert count(db_session, Gadget) == gadgets
    assert audit_count(db_session) == entries


def test_references_to_the_callers_rows_pass(db_session, world):
    _, Part = models()
    with working_as(world):
        part = Part(label="mine", gadget_id=world.gadgets["a"])
        insert_new(db_session, [part])
    assert stored_row(db_session, Part, part.id)["gadget_id"] == world.gadgets["a"]


def test_a_contact_of_another_companys_account_is_refused(db_session, world):
    with unscoped():
        theirs = Account(name="Theirs", company_id=world.company_b)
        db_session.add(theirs)
        settle(db_session)
    contacts, entries = count(db_session, Contact), audit_count(db_session)
    with working_as(world):
        contact = Contact(first_name="Eve", account_id=theirs.id)
        with pytest.raises(InvisibleReferenceError), db_session.begin_nested():
            insert_new(db_session, [contact])
    assert (count(db_session, Contact), audit_count(db_session)) == (contacts, entries)


# --------------------------------------------------------------------------- all or nothing


def test_a_failing_insert_leaves_neither_rows_nor_entries(db_session, world, tag_ids):
    """Two default billing addresses: the accounts go in, then the addresses fail."""
    accounts, addresses, links = (
        count(db_session, Account),
        count(db_session, Address),
        count(db_session, account_tag),
    )
    entries = audit_count(db_session)
    with working_as(world):
        fine = build_account("Fine", tags_of(db_session, tag_ids))
        broken = build_account("Broken", [])
        broken.addresses.append(Address(kind="billing", is_default=True, city="Bonn"))
        with pytest.raises(IntegrityError), db_session.begin_nested():
            insert_new(db_session, [fine, broken])
    assert count(db_session, Account) == accounts
    assert count(db_session, Address) == addresses
    assert count(db_session, account_tag) == links
    assert audit_count(db_session) == entries


def test_a_duplicate_tag_rolls_back_with_its_batch(db_session, world, tag_ids):
    tags, entries = count(db_session, Tag), audit_count(db_session)
    with working_as(world):
        batch = [Tag(name="New"), Tag(name="VIP")]  # "VIP" exists already in company A
        with pytest.raises(IntegrityError), db_session.begin_nested():
            insert_new(db_session, batch)
        with db_session.begin_nested():  # the session goes on working after the rollback
            insert_new(db_session, [Tag(name="New")])
    assert count(db_session, Tag) == tags + 1
    assert audit_count(db_session) == entries + 1


# --------------------------------------------------------------------------- refusals


def test_objects_already_in_the_session_are_refused(db_session, world):
    Gadget, _ = models()
    with working_as(world):
        loaded = db_session.get(Gadget, world.gadgets["a"])
        with pytest.raises(ValueError, match="new objects only"):
            insert_new(db_session, [loaded])
        pending = Gadget(name="pending")
        db_session.add(pending)
        with pytest.raises(ValueError, match="new objects only"):
            insert_new(db_session, [pending])
        assert inspect(pending).pending  # refused before anything was written or flushed
        db_session.flush()
    assert len(created_entries(db_session, Gadget, pending.id)) == 1  # the flush's only


def test_a_child_already_in_the_session_is_refused(db_session, world):
    Gadget, Part = models()
    with working_as(world):
        part = db_session.get(Part, world.parts["a"])
        gadget = Gadget(name="adopts")
        gadget.parts.append(part)
        with pytest.raises(ValueError, match="new objects only"):
            insert_new(db_session, [gadget])


@pytest.mark.parametrize(
    "kind", ["part of a new gadget", "contact of a new account", "tag never stored"]
)
def test_a_target_without_id_is_refused_before_anything_is_written(db_session, world, kind):
    Gadget, Part = models()
    tables = (Part, Contact, Account, Tag, account_tag)
    before = [count(db_session, t) for t in tables] + [audit_count(db_session)]
    with working_as(world):
        if kind == "part of a new gadget":
            orphan = Part(label="orphan", gadget=Gadget(name="never stored"))
        elif kind == "contact of a new account":
            orphan = Contact(first_name="Orphan", account=Account(name="never stored"))
        else:
            orphan = Account(name="Tagged", tags=[Tag(name="never stored")])
        with pytest.raises(ValueError, match="store it before referring to it"):
            insert_new(db_session, [orphan])
    assert [count(db_session, t) for t in tables] + [audit_count(db_session)] == before


def test_an_insert_without_parameter_rows_is_refused(db_session, world):
    Gadget, _ = models()
    with pytest.raises(TypeError, match="parameter"):
        db_session.execute(insert(Gadget).values(name="values", company_id=world.company_a))
    source = select(Gadget.name, Gadget.company_id).where(Gadget.id == world.gadgets["a"])
    with pytest.raises(TypeError, match="parameter"):
        db_session.execute(insert(Gadget).from_select(["name", "company_id"], source))
    assert not db_session.scalars(select(Gadget.id).where(Gadget.name == "values")).all()


def test_a_restricted_insert_without_parameter_rows_is_refused_by_the_scoping(db_session, world):
    """Refused too, but by the company scoping, which runs first (hence not ``TypeError``)."""
    Gadget, _ = models()
    with working_as(world), pytest.raises(CompanyAccessError):
        db_session.execute(insert(Gadget).values(name="values"))


def test_an_insert_without_parameter_rows_may_opt_out_of_the_audit(db_session, world):
    Gadget, _ = models()
    entries = audit_count(db_session)
    db_session.execute(
        insert(Gadget)
        .values(name="unaudited", company_id=world.company_a)
        .execution_options(mosaic_audit=False)
    )
    [gadget_id] = db_session.scalars(select(Gadget.id).where(Gadget.name == "unaudited")).all()
    assert audit_count(db_session) == entries
    assert created_entries(db_session, Gadget, gadget_id) == []


def test_an_opted_out_insert_with_rows_writes_no_entry(db_session, world):
    Gadget, _ = models()
    entries = audit_count(db_session)
    with working_as(world):
        db_session.execute(
            insert(Gadget).execution_options(mosaic_audit=False),
            [{"name": "quiet one"}, {"name": "quiet two"}],
        )
        stored = db_session.scalars(select(Gadget.company_id).where(Gadget.name.like("quiet %")))
        assert list(stored) == [world.company_a] * 2  # still stamped by the scoping
    assert audit_count(db_session) == entries


# --------------------------------------------------------------------------- cost


def test_the_statement_count_does_not_grow_with_the_batch(db_session, world, tag_ids):
    engine = db_session.connection().engine
    counts = []
    with working_as(world):
        tags = tags_of(db_session, tag_ids)
        for size in (10, 200):
            batch = [build_account(f"Batch{size}x{i}", tags) for i in range(size)]
            with count_statements(engine) as statements:
                insert_new(db_session, batch)
            counts.append(len(statements))
            # accounts, their entries, addresses, their entries, tag links: one each
            # (an INSERT executemany, or a COPY on PostgreSQL: core.bulk_write)
            writes = [q for q in statements if q.lstrip().upper().startswith(("INSERT", "COPY"))]
            assert len(writes) == 5, writes
            assert count(db_session, account_tag) >= 2 * size
    assert counts[0] == counts[1], counts
