"""``find_or_create_account`` / ``find_or_create_contact``: link the customer a dependent
already has, create one only when nothing identifies it. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from addons.contacts import services
from addons.contacts.models import Account, Contact
from core.tenancy import company_scope


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def make_account(session, company_id, **data) -> Account:
    data.setdefault("name", "Acme GmbH")
    return services.create_account(session, data, company_id=company_id, confirm_duplicate=True)


def make_contact(session, company_id, **data) -> Contact:
    data.setdefault("first_name", "Anna")
    data.setdefault("last_name", "Schmidt")
    return services.create_contact(session, data, company_id=company_id, confirm_duplicate=True)


# --------------------------------------------------------------------------- accounts


@pytest.mark.parametrize(
    "data",
    [
        {"name": "ACME S.p.A."},  # same name without legal form, case and accents
        {"name": "Something else", "email": "Info@ACME.example"},
        {"name": "Something else", "phone": "+49 30 1234567"},
    ],
)
def test_an_account_is_found_by_name_email_or_phone(session, company_id, data):
    firm = make_account(session, company_id, email="info@acme.example", phone="+49 30 1234567")
    before = count(session, Account)
    found, created = services.find_or_create_account(session, data, company_id=company_id)
    assert (found.id, created) == (firm.id, False)
    assert found.name == "Acme GmbH"  # the data does not update what was found
    assert count(session, Account) == before


def test_an_unknown_account_is_created_with_the_data(session, company_id):
    make_account(session, company_id)
    made, created = services.find_or_create_account(
        session, {"name": "Initech", "is_customer": True, "email": "hello@initech.example"},
        company_id=company_id,
    )  # fmt: skip
    assert created and made.id is not None
    assert (made.name, made.is_customer, made.email) == ("Initech", True, "hello@initech.example")
    assert session.get(Account, made.id) is made


def test_an_email_match_beats_a_name_match(session, company_id):
    make_account(session, company_id, name="Acme GmbH")
    by_mail = make_account(session, company_id, name="Road Runner Ltd", email="beep@acme.example")
    found, created = services.find_or_create_account(
        session, {"name": "Acme", "email": "beep@acme.example"}, company_id=company_id
    )
    assert (found.id, created) == (by_mail.id, False)


def test_several_equally_good_matches_make_a_new_account(session, company_id):
    existing = {
        make_account(session, company_id, name="Acme GmbH").id,
        make_account(session, company_id, name="ACME Ltd").id,
    }
    made, created = services.find_or_create_account(
        session, {"name": "Acme"}, company_id=company_id
    )
    assert created and made.id not in existing


def test_a_live_account_wins_over_an_archived_one(session, company_id):
    old = make_account(session, company_id, name="Acme AG")
    services.set_archived(session, old)
    live = make_account(session, company_id, name="Acme GmbH")
    found, created = services.find_or_create_account(
        session, {"name": "acme"}, company_id=company_id
    )
    assert (found.id, created) == (live.id, False)
    # the archived one alone is still the customer: it is found, not copied
    services.delete_record(session, live)
    found, created = services.find_or_create_account(
        session, {"name": "acme"}, company_id=company_id
    )
    assert (found.id, created) == (old.id, False)


def test_another_companys_account_is_never_found(session, company_id, other_company_id):
    theirs = make_account(session, other_company_id, email="info@acme.example")
    found, created = services.find_or_create_account(
        session, {"name": "Acme GmbH", "email": "info@acme.example"}, company_id=company_id
    )
    assert created and found.id != theirs.id and found.company_id == company_id


def test_the_company_defaults_to_the_current_one(session, company_id):
    firm = make_account(session, company_id)
    with company_scope([company_id], company_id):
        found, created = services.find_or_create_account(session, {"name": "ACME"})
    assert (found.id, created) == (firm.id, False)


def test_invalid_data_is_refused_before_anything_is_looked_up_or_made(session, company_id):
    before = count(session, Account)
    with pytest.raises(services.InvalidData) as excinfo:
        services.find_or_create_account(
            session, {"name": "", "email": "not an e-mail"}, company_id=company_id
        )
    assert {"name", "email"} <= set(excinfo.value.errors)
    assert count(session, Account) == before


# --------------------------------------------------------------------------- contacts


def test_a_contact_is_found_by_email_even_under_another_name(session, company_id):
    person = make_contact(session, company_id, email="anna@acme.example")
    found, created = services.find_or_create_contact(
        session, {"first_name": "A.", "last_name": "Schmidt-Meyer", "email": "ANNA@acme.example"},
        company_id=company_id,
    )  # fmt: skip
    assert (found.id, created) == (person.id, False)


def test_a_contact_is_found_by_mobile_number(session, company_id):
    person = make_contact(session, company_id, mobile="+49 151 23456789")
    found, created = services.find_or_create_contact(
        session, {"last_name": "Whoever", "phone": "+4915123456789"}, company_id=company_id
    )
    assert (found.id, created) == (person.id, False)


def test_a_name_identifies_a_person_only_at_the_same_account(session, company_id):
    firm = make_account(session, company_id)
    other = make_account(session, company_id, name="Initech")
    at_firm = make_contact(session, company_id, account_id=firm.id)
    make_contact(session, company_id)  # an Anna Schmidt without a firm
    found, created = services.find_or_create_contact(
        session, {"first_name": "Anna", "last_name": "Schmidt", "account_id": firm.id},
        company_id=company_id,
    )  # fmt: skip
    assert (found.id, created) == (at_firm.id, False)
    found, created = services.find_or_create_contact(
        session, {"first_name": "anna", "last_name": "SCHMIDT", "account_name": "ACME GmbH"},
        company_id=company_id,
    )  # fmt: skip
    assert (found.id, created) == (at_firm.id, False)
    # another firm, or no firm at all: a namesake, not the same person
    made, created = services.find_or_create_contact(
        session, {"first_name": "Anna", "last_name": "Schmidt", "account_id": other.id},
        company_id=company_id,
    )  # fmt: skip
    assert created and made.account_id == other.id
    made, created = services.find_or_create_contact(
        session, {"first_name": "Anna", "last_name": "Schmidt"}, company_id=company_id
    )
    assert created and made.account_id is None


def test_two_people_sharing_an_email_make_a_new_contact(session, company_id):
    make_contact(session, company_id, first_name="Ann", email="team@acme.example")
    make_contact(session, company_id, first_name="Bob", email="team@acme.example")
    made, created = services.find_or_create_contact(
        session, {"first_name": "Cleo", "last_name": "Team", "email": "team@acme.example"},
        company_id=company_id,
    )  # fmt: skip
    assert created and made.first_name == "Cleo"


def test_a_forgotten_person_is_never_found(session, company_id):
    person = make_contact(session, company_id, email="anna@acme.example")
    services.forget_contact(session, person)
    made, created = services.find_or_create_contact(
        session, {"first_name": "Anna", "last_name": "Schmidt", "email": "anna@acme.example"},
        company_id=company_id,
    )  # fmt: skip
    assert created and made.id != person.id


def test_an_invalid_contact_is_refused_per_field(session, company_id):
    before = count(session, Contact)
    with pytest.raises(services.InvalidData) as excinfo:
        services.find_or_create_contact(
            session,
            {"first_name": "", "last_name": "", "account_id": 987654},
            company_id=company_id,
        )
    assert {"last_name", "account_id"} <= set(excinfo.value.errors)
    assert count(session, Contact) == before
