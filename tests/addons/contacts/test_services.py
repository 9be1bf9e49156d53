"""Business rules of the contacts addon, through its services, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, inspect, select, text
from sqlalchemy.exc import IntegrityError

from addons.contacts import services
from addons.contacts.models import Account, Address, Contact, Tag, name_key, normalise_phone
from core.models import AuditLog
from core.plugins import hookimpl
from core.tenancy import company_scope

# --------------------------------------------------------------------------- helpers


def contact(session, company_id, **data):
    data.setdefault("first_name", "Anna")
    data.setdefault("last_name", "Schmidt")
    return services.create_contact(session, data, company_id=company_id)


def account(session, company_id, **data):
    data.setdefault("name", "Acme GmbH")
    return services.create_account(session, data, company_id=company_id)


def berlin(**extra):
    return {"kind": "billing", "street1": "Hauptstraße 1", "city": "Berlin", "postal_code": "10115",
            "country": "DE", **extra}  # fmt: skip


# --------------------------------------------------------------------------- normalisation


def test_email_is_stored_trimmed_and_lower_case(session, company_id):
    c = contact(session, company_id, email="  Anna.Schmidt@Example.COM ")
    assert c.email == "anna.schmidt@example.com"


def test_phone_becomes_e164_when_the_address_gives_the_country(session, company_id):
    c = contact(
        session, company_id, phone="030 1234567", mobile="0151 23456789", addresses=[berlin()]
    )
    assert (c.phone, c.mobile) == ("+49301234567", "+4915123456789")


def test_contact_phone_uses_its_accounts_country(session, company_id):
    firm = account(session, company_id, addresses=[berlin()])
    c = contact(session, company_id, phone="(030) 123-4567", account_id=firm.id)
    assert c.phone == "+49301234567"


def test_international_numbers_are_normalised_without_a_country(session, company_id):
    c = contact(session, company_id, phone="0044 20 7946 0958", mobile="+1 415-555-2671 ext. 12")
    assert c.phone == "+442079460958"
    assert c.mobile == "+14155552671;ext=12"


def test_national_number_without_country_is_kept_as_digits(session, company_id):
    c = contact(session, company_id, phone="030 / 123 45-67")
    assert c.phone == "0301234567"


@pytest.mark.parametrize(
    ("phone", "addresses"),
    [("12", []), ("call me maybe", []), ("+49 1", []), ("12345", [berlin(country="US")])],
)
def test_impossible_phone_numbers_are_refused_per_field(session, company_id, phone, addresses):
    with pytest.raises(services.InvalidData) as caught:
        contact(session, company_id, phone=phone, addresses=addresses)
    assert set(caught.value.errors) == {"phone"}
    assert caught.value.status == 422


def test_bad_email_country_and_language_are_reported_together(session, company_id):
    with pytest.raises(services.InvalidData) as caught:
        contact(session, company_id, email="not-an-email", language="klingon",
                addresses=[berlin(country="XX")])  # fmt: skip
    assert set(caught.value.errors) == {"email", "language", "addresses.0.country"}
    assert session.scalar(select(func.count()).select_from(Contact)) == 0


def test_country_codes_are_iso_3166_and_alpha3_is_converted(session, company_id):
    c = contact(
        session,
        company_id,
        addresses=[berlin(country="deu"), berlin(kind="shipping", country="aq")],
    )
    assert [a.country for a in c.addresses] == [
        "DE",
        "AQ",
    ]  # Antarctica: no phone plan, still a country


def test_language_tags_are_normalised(session, company_id):
    assert services.clean_language("de_ch") == "de-CH"
    assert services.clean_language("PT") == "pt"
    with pytest.raises(services.InvalidData):
        services.clean_language("de-XX")


def test_a_contact_needs_a_name_and_an_account_needs_one_too(session, company_id):
    with pytest.raises(services.InvalidData) as caught:
        services.create_contact(
            session, {"first_name": " ", "last_name": ""}, company_id=company_id
        )
    assert "last_name" in caught.value.errors
    with pytest.raises(services.InvalidData) as caught:
        services.create_account(session, {"name": "  "}, company_id=company_id)
    assert "name" in caught.value.errors


def test_name_keys_ignore_accents_case_punctuation_and_legal_forms():
    assert name_key("José", "Müller-Lüdenscheidt") == "jose muller ludenscheidt"
    assert name_key("ACME GmbH & Co. KG", drop_legal_form=True) == "acme"
    assert name_key("Smith & Co", drop_legal_form=True) == "smith"
    assert (
        name_key("Rossi S.p.A.", drop_legal_form=True)
        == name_key("ROSSI SpA", drop_legal_form=True)
        == "rossi"
    )
    assert name_key("Ltd", drop_legal_form=True) == "ltd"  # never empty because of the rule
    assert normalise_phone("  ") is None


def test_references_to_other_companies_or_missing_rows_are_field_errors(
    session, company_id, other_company_id
):
    foreign = account(session, other_company_id, name="Elsewhere Inc")
    with pytest.raises(services.InvalidData) as caught:
        contact(session, company_id, account_id=foreign.id, owner_id=999999)
    assert set(caught.value.errors) == {"account_id", "owner_id"}


def test_an_account_cannot_become_its_own_ancestor(session, company_id):
    top = account(session, company_id, name="Top Holding")
    middle = account(session, company_id, name="Middle Division", parent_id=top.id)
    leaf = account(session, company_id, name="Leaf Branch", parent_id=middle.id)
    with pytest.raises(services.InvalidData) as caught:
        services.update_account(session, top, {"parent_id": leaf.id})
    assert "parent_id" in caught.value.errors
    with pytest.raises(services.InvalidData):
        services.update_account(session, top, {"parent_id": top.id})


def test_tags_are_shared_by_name_and_created_on_first_use(session, company_id):
    a = contact(session, company_id, tags=["VIP", "Newsletter"])
    b = account(session, company_id, tags=["vip", " Partner "])
    assert {t.name for t in a.tags} == {"VIP", "Newsletter"}
    assert {t.name for t in b.tags} == {"VIP", "Partner"}
    assert (
        session.scalar(select(func.count()).select_from(Tag).where(func.lower(Tag.name) == "vip"))
        == 1
    )
    # beyond ASCII too (SQLite's lower() would not match these)
    first = contact(session, company_id, first_name="Ute", tags=["Über-Kunde"])
    second = contact(session, company_id, first_name="Udo", tags=["ÜBER-KUNDE"])
    assert first.tags == second.tags


def test_tags_deleted_in_the_session_are_made_again(session, company_id):
    fresh = contact(session, company_id, tags=["Fresh"]).tags[0]
    session.delete(fresh)
    session.flush()
    again = contact(session, company_id, first_name="Other", tags=["Fresh"]).tags[0]
    assert again is not fresh and inspect(again).persistent


# --------------------------------------------------------------------------- addresses


def test_each_kind_has_exactly_one_default_address(session, company_id):
    firm = account(session, company_id, addresses=[
        berlin(), berlin(city="Potsdam", postal_code="14467"), berlin(kind="shipping", city="Hamburg"),
    ])  # fmt: skip
    assert [a.is_default for a in firm.addresses] == [True, False, True]
    assert firm.default_address("billing").city == "Berlin"
    assert firm.default_address("other") is None


def test_a_new_default_takes_over_and_the_index_never_sees_two(session, company_id):
    firm = account(session, company_id, addresses=[berlin()])
    old = firm.addresses[0]
    new = services.add_address(session, firm, berlin(city="Munich", is_default=True))
    assert (old.is_default, new.is_default) == (False, True)
    # moving it back through an update of the lower id exercises the two-phase write
    services.update_address(session, old, {"is_default": True})
    assert (old.is_default, new.is_default) == (True, False)


def test_replacing_addresses_updates_adds_and_removes(session, company_id):
    firm = account(session, company_id, addresses=[berlin(), berlin(kind="shipping")])
    keep = firm.addresses[0]
    services.update_account(session, firm, {"addresses": [
        {"id": keep.id, "kind": "billing", "city": "Köln", "is_default": False},
        {"kind": "billing", "city": "Bonn", "country": "DE", "is_default": True},
    ]})  # fmt: skip
    session.expire_all()
    cities = {(a.city, a.is_default) for a in session.get(Account, firm.id).addresses}
    assert cities == {("Köln", False), ("Bonn", True)}
    assert (
        session.scalar(select(func.count()).select_from(Address).where(Address.kind == "shipping"))
        == 0
    )


def test_deleting_the_default_promotes_another(session, company_id):
    firm = account(session, company_id, addresses=[berlin(), berlin(city="Potsdam")])
    first, second = firm.addresses
    services.delete_address(session, first)
    assert second.is_default


def test_address_of_an_unknown_id_is_a_field_error(session, company_id):
    firm = account(session, company_id, addresses=[berlin()])
    with pytest.raises(services.InvalidData) as caught:
        services.update_account(session, firm, {"addresses": [{"id": 987654, "city": "X"}]})
    assert "addresses.0.id" in caught.value.errors


def test_the_database_refuses_an_address_with_two_owners_or_none(session, company_id):
    firm = account(session, company_id)
    person = contact(session, company_id)
    for owners in ({"account_id": firm.id, "contact_id": person.id}, {}):
        with pytest.raises(IntegrityError), session.begin_nested():
            session.add(Address(company_id=company_id, kind="billing", **owners))
            session.flush()


# --------------------------------------------------------------------------- duplicates


def test_same_email_in_another_case_is_a_duplicate(session, company_id):
    first = contact(session, company_id, email="anna@example.com")
    with pytest.raises(services.DuplicateError) as caught:
        contact(session, company_id, first_name="Annie", last_name="S.", email="ANNA@example.com ")
    [candidate] = caught.value.candidates
    assert (candidate.id, candidate.reasons) == (first.id, ("email",))
    assert caught.value.status == 409
    assert session.scalar(select(func.count()).select_from(Contact)) == 1


def test_the_same_phone_typed_differently_is_a_duplicate(session, company_id):
    first = contact(session, company_id, mobile="+49 151 23456789")
    with pytest.raises(services.DuplicateError) as caught:
        contact(
            session, company_id, first_name="Bert", phone="0151/234 567 89", addresses=[berlin()]
        )
    assert caught.value.candidates[0].id == first.id
    assert caught.value.candidates[0].reasons == ("phone",)


def test_same_name_is_a_duplicate_only_at_the_same_firm(session, company_id):
    acme = account(session, company_id)
    globex = account(session, company_id, name="Globex Corporation")
    contact(session, company_id, first_name="Anna", last_name="Schmidt", account_id=acme.id)
    contact(
        session, company_id, first_name="Anna", last_name="Schmidt", account_id=globex.id
    )  # fine
    with pytest.raises(services.DuplicateError) as caught:
        contact(session, company_id, first_name="ANNA", last_name="schmidt", account_id=acme.id)
    assert caught.value.candidates[0].reasons == ("name",)
    # someone with no firm may be either of them
    with pytest.raises(services.DuplicateError) as caught:
        contact(session, company_id, first_name="Anna", last_name="Schmidt")
    assert len(caught.value.candidates) == 2


def test_account_names_match_without_legal_form(session, company_id):
    acme = account(session, company_id, name="ACME GmbH")
    with pytest.raises(services.DuplicateError) as caught:
        account(session, company_id, name="Acme")
    assert caught.value.candidates[0].id == acme.id


def test_confirming_creates_the_duplicate_and_archived_ones_are_flagged(session, company_id):
    first = contact(session, company_id, email="anna@example.com")
    services.set_archived(session, first, True)
    with pytest.raises(services.DuplicateError) as caught:
        contact(session, company_id, email="anna@example.com")
    assert caught.value.candidates[0].archived is True
    again = services.create_contact(session, {"last_name": "Schmidt", "email": "anna@example.com"},
                                    company_id=company_id, confirm_duplicate=True)  # fmt: skip
    assert again.id != first.id


def test_duplicates_are_looked_for_in_the_same_company_only(session, company_id, other_company_id):
    contact(session, company_id, email="anna@example.com")
    assert (
        contact(session, other_company_id, email="anna@example.com").company_id == other_company_id
    )


def test_forgotten_contacts_are_never_duplicates(session, company_id, admin_id):
    ghost = contact(session, company_id, email="anna@example.com")
    services.forget_contact(session, ghost, user_id=admin_id)
    assert contact(session, company_id, email="anna@example.com").id != ghost.id


def test_duplicate_report_checks_the_database_and_earlier_rows(session, company_id):
    existing = contact(session, company_id, email="anna@example.com")
    rows = [
        {"first_name": "Anna", "last_name": "S", "email": "anna@example.com", "name_key": "anna s"},
        {
            "first_name": "Carl",
            "last_name": "Meyer",
            "phone": "+4930111222",
            "name_key": "carl meyer",
        },
        {
            "first_name": "Carla",
            "last_name": "Meyer",
            "mobile": "+4930111222",
            "name_key": "carla meyer",
        },
        {"first_name": "Dora", "last_name": "Lang", "name_key": "dora lang"},
    ]
    report = services.duplicate_report(session, "contact", rows, company_id=company_id, first_row=2)
    assert sorted(report) == [2, 4]
    assert report[2][0].id == existing.id and report[2][0].reasons == ("email",)
    assert (report[4][0].row, report[4][0].reasons) == (3, ("phone",))
    assert "row 3" in report[4][0].describe()


def test_duplicate_groups_list_existing_look_alikes(session, company_id):
    a = account(session, company_id, name="Acme GmbH")
    b = services.create_account(
        session, {"name": "ACME Ltd"}, company_id=company_id, confirm_duplicate=True
    )
    account(session, company_id, name="Initech LLC")
    [(record, candidates)] = services.duplicate_groups(session, "account", company_id=company_id)
    assert record.id == a.id and [c.id for c in candidates] == [b.id]


# --------------------------------------------------------------------------- delete and references


@pytest.fixture
def foreign_link(session):
    """A table of some other addon pointing at contacts and accounts (created in the test's transaction)."""
    session.execute(text(
        "CREATE TABLE zzref_link (id INTEGER PRIMARY KEY, "
        "contact_id INTEGER REFERENCES contacts_contact(id), "
        "account_id INTEGER REFERENCES contacts_account(id) ON DELETE SET NULL)"
    ))  # fmt: skip
    return "zzref_link"


def link(session, **ids):
    cols = ", ".join(ids)
    session.execute(
        text(f"INSERT INTO zzref_link ({cols}) VALUES ({', '.join(':' + k for k in ids)})"), ids
    )


def test_an_unreferenced_record_is_deleted(session, company_id):
    c = contact(session, company_id, addresses=[berlin()], tags=["VIP"])
    services.delete_record(session, c)
    assert session.scalar(select(func.count()).select_from(Address)) == 0


def test_deleting_a_referenced_account_says_what_refers_to_it(session, company_id, foreign_link):
    firm = account(session, company_id)
    contact(session, company_id, account_id=firm.id)
    link(session, id=1, account_id=firm.id)
    with pytest.raises(services.ReferencedError) as caught:
        services.delete_record(session, firm)
    found = {(r.table, r.column, r.count) for r in caught.value.references}
    # a SET NULL link still counts: deleting would silently cut it
    assert found == {("contacts_contact", "account_id", 1), ("zzref_link", "account_id", 1)}
    assert "1 contacts_contact row (account_id)" in caught.value.message
    services.set_archived(session, firm)
    assert session.get(Account, firm.id).archived


# --------------------------------------------------------------------------- merge


class Repointer:
    """What an addon referring to contacts implements (see addons.contacts.hookspecs)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int]] = []

    @hookimpl
    def contacts_merge_records(self, session, kind, source_id, target_id):
        self.calls.append((kind, source_id, target_id))
        column = f"{kind}_id"
        moved = session.execute(
            text(f"UPDATE zzref_link SET {column} = :t WHERE {column} = :s"),
            {"s": source_id, "t": target_id},
        ).rowcount
        return {"zzref_link": moved}


def test_merge_contacts_moves_everything_and_fills_blanks(session, company_id, admin_id, pm):
    firm = account(session, company_id)
    target = contact(session, company_id, email="anna@acme.example", tags=["VIP"],
                     addresses=[berlin()], notes="Prefers e-mail.")  # fmt: skip
    source = services.create_contact(session, {
        "first_name": "Anna", "last_name": "Schmidt", "email": "a.schmidt@home.example", "mobile": "+4915112345678",
        "title": "Buyer", "account_id": firm.id, "tags": ["Newsletter"], "notes": "Met at the fair.",
        "addresses": [berlin(city="Potsdam"), berlin(kind="shipping", city="Hamburg")],
    }, company_id=company_id, confirm_duplicate=True)  # fmt: skip
    source_id = source.id
    result = services.merge_contacts(session, source, target, pm=pm, user_id=admin_id)

    assert session.get(Contact, source_id) is None
    assert (target.mobile, target.title, target.account_id) == ("+4915112345678", "Buyer", firm.id)
    assert target.email == "anna@acme.example"  # the target's own value wins
    assert "a.schmidt@home.example" in target.notes and "Met at the fair." in target.notes
    assert {t.name for t in target.tags} == {"VIP", "Newsletter"}
    kinds = sorted((a.kind, a.city, a.is_default) for a in target.addresses)
    assert kinds == [
        ("billing", "Berlin", True),
        ("billing", "Potsdam", False),
        ("shipping", "Hamburg", True),
    ]
    assert result.moved == {"addresses": 2}
    entry = session.scalars(select(AuditLog).where(AuditLog.action == "merge")).one()
    assert (entry.table_name, entry.record_id, entry.user_id) == (
        "contacts_contact",
        target.id,
        admin_id,
    )
    assert entry.changes["merged"]["new"] == {"id": source_id, "name": "Anna Schmidt"}


def test_merge_repoints_other_addons_rows_through_the_hook(session, company_id, pm, foreign_link):
    source, target = (
        contact(session, company_id),
        contact(session, company_id, first_name="Ann", last_name="Smith"),
    )
    link(session, id=1, contact_id=source.id)
    link(session, id=2, contact_id=source.id)
    plugin = Repointer()
    pm.register(plugin, name="zzref")
    result = services.merge_contacts(session, source, target, pm=pm)
    assert plugin.calls == [("contact", source.id, target.id)]
    assert result.repointed == {"zzref_link": 2}
    assert (
        session.scalar(
            text("SELECT count(*) FROM zzref_link WHERE contact_id = :t"), {"t": target.id}
        )
        == 2
    )


def test_merge_is_refused_when_a_row_would_be_left_behind(session, company_id, pm, foreign_link):
    source, target = (
        contact(session, company_id),
        contact(session, company_id, first_name="Ann", last_name="Smith"),
    )
    link(session, id=1, contact_id=source.id)
    with pytest.raises(services.MergeError, match="zzref_link"), session.begin_nested():
        services.merge_contacts(
            session, source, target, pm=pm
        )  # nobody implements the hook for zzref
    session.expire_all()
    assert session.get(Contact, source.id) is not None


@pytest.mark.parametrize("case", ["itself", "other company", "forgotten target"])
def test_merges_that_make_no_sense_are_refused(
    session, company_id, other_company_id, admin_id, case
):
    a = contact(session, company_id)
    b = {
        "itself": a,
        "other company": contact(session, other_company_id),
        "forgotten target": contact(session, company_id, first_name="Zed", last_name="Zulu"),
    }[case]
    if case == "forgotten target":
        services.forget_contact(session, b, user_id=admin_id)
    with pytest.raises(services.MergeError):
        services.merge_contacts(session, a, b)


def test_merge_accounts_moves_contacts_children_and_combines_flags(session, company_id, pm):
    holding = account(session, company_id, name="Holding AG")
    target = account(session, company_id, name="Acme GmbH", is_customer=True, addresses=[berlin()])
    source = services.create_account(session, {
        "name": "ACME Ltd", "is_vendor": True, "website": "https://acme.example", "parent_id": holding.id,
        "addresses": [berlin(city="London", country="GB", postal_code="EC1A 1BB")], "tags": ["Partner"],
    }, company_id=company_id, confirm_duplicate=True)  # fmt: skip
    people = [
        contact(session, company_id, first_name=n, account_id=source.id) for n in ("Ann", "Ben")
    ]
    branch = account(session, company_id, name="Acme Branch", parent_id=source.id)
    result = services.merge_accounts(session, source, target, pm=pm)
    assert (target.is_customer, target.is_vendor) == (True, True)
    assert (target.website, target.parent_id) == ("https://acme.example", holding.id)
    assert all(p.account_id == target.id for p in people)
    assert branch.parent_id == target.id
    assert result.moved == {"addresses": 1, "contacts": 2, "children": 1}
    assert [t.name for t in target.tags] == ["Partner"]


def test_merging_an_account_into_its_own_subsidiary_makes_no_cycle(session, company_id):
    top = account(session, company_id, name="Top Holding")
    parent = account(session, company_id, name="Parent Group", parent_id=top.id)
    middle = account(session, company_id, name="Middle Division", parent_id=parent.id)
    leaf = account(session, company_id, name="Leaf Branch", parent_id=middle.id)
    services.merge_accounts(session, parent, leaf)
    assert (leaf.parent_id, middle.parent_id) == (top.id, leaf.id)


# --------------------------------------------------------------------------- forget


class Forgetter:
    def __init__(self) -> None:
        self.forgotten: list[int] = []

    @hookimpl
    def contacts_forget_person(self, session, contact_id):
        self.forgotten.append(contact_id)


def test_forget_blanks_personal_data_keeps_the_row_and_says_who(session, company_id, admin_id, pm):
    firm = account(session, company_id)
    c = contact(session, company_id, email="anna@example.com", phone="+49 30 1234567", title="Buyer",
                notes="Allergic to nuts", account_id=firm.id, addresses=[berlin()], tags=["VIP"])  # fmt: skip
    # the trail holds her data from before (written by core.audit when it is active, or by hand here)
    session.add(AuditLog(table_name="contacts_contact", record_id=c.id, action="update", company_id=company_id,
                         changes={"email": {"old": "anna@old.example", "new": "anna@example.com"}}))  # fmt: skip
    address_id = c.addresses[0].id
    session.add(AuditLog(table_name="contacts_address", record_id=address_id, action="create",
                         changes={"street1": {"old": None, "new": "Hauptstraße 1"}}))  # fmt: skip
    session.flush()
    plugin = Forgetter()
    pm.register(plugin, name="forgetter")

    services.forget_contact(session, c, user_id=admin_id, pm=pm)

    session.expire_all()
    c = session.get(Contact, c.id)
    assert (c.first_name, c.last_name, c.email, c.phone, c.title, c.notes) == (
        "",
        "",
        None,
        None,
        None,
        None,
    )
    assert c.name == f"Forgotten contact #{c.id}" and c.is_forgotten
    assert (c.forgotten_by_id, c.account_id, [t.name for t in c.tags]) == (
        admin_id,
        firm.id,
        ["VIP"],
    )
    assert c.addresses == [] and session.get(Address, address_id) is None
    assert plugin.forgotten == [c.id]
    trail = session.scalars(
        select(AuditLog).where(AuditLog.table_name.in_(["contacts_contact", "contacts_address"]))
    ).all()
    dumped = repr([t.changes for t in trail])
    for secret in ("anna@", "Hauptstraße", "Allergic", "Schmidt", "schmidt"):
        assert secret not in dumped
    forget_entry = next(t for t in trail if t.action == "forget")
    assert forget_entry.user_id == admin_id


def test_forgetting_twice_changes_nothing(session, company_id, admin_id):
    c = contact(session, company_id)
    services.forget_contact(session, c, user_id=admin_id)
    when = c.forgotten_at
    services.forget_contact(session, c, user_id=None)
    assert (c.forgotten_at, c.forgotten_by_id) == (when, admin_id)
    assert (
        session.scalar(
            select(func.count()).select_from(AuditLog).where(AuditLog.action == "forget")
        )
        == 1
    )


def test_company_and_user_default_to_the_callers_scope(session, company_id, admin_id):
    with company_scope([company_id], user_id=admin_id):
        c = services.create_contact(session, {"first_name": "Scoped", "last_name": "Person"})
        services.forget_contact(session, c)
    assert (c.company_id, c.created_by_id, c.forgotten_by_id) == (company_id, admin_id, admin_id)
    with company_scope([]), pytest.raises(services.ContactsError, match="current company"):
        services.create_contact(session, {"last_name": "Nowhere"})
