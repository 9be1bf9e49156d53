"""Demo generator (deterministic, valid, duplicate-free) and the install-time reference data."""

from __future__ import annotations

import phonenumbers
import pytest
from sqlalchemy import func, select

from addons.contacts import services
from addons.contacts.data import STANDARD_TAGS, load_data
from addons.contacts.demo import LOCALES, DemoGenerator, load_demo
from addons.contacts.models import Account, Contact, Tag, name_key
from core.models import DataRecord


@pytest.fixture(scope="module")
def rows():
    generator = DemoGenerator(7)
    accounts = generator.accounts(300)
    return accounts, generator.contacts(1500, accounts)


def test_the_same_seed_gives_the_same_rows_and_another_seed_others(rows):
    accounts, contacts = rows
    again = DemoGenerator(7)
    assert again.accounts(300) == accounts
    assert again.contacts(1500, accounts) == contacts
    assert DemoGenerator(8).accounts(300) != accounts


def test_rows_cover_every_locale_and_their_phone_numbers_are_valid(rows):
    accounts, contacts = rows
    countries = {a["addresses"][0]["country"] for a in accounts}
    assert countries == {locale.country for locale in LOCALES}
    for a in accounts:
        number = phonenumbers.parse(a["phone"], a["addresses"][0]["country"])
        assert phonenumbers.is_valid_number(number), a["phone"]
    for c in contacts:
        country = accounts[c["account"]]["addresses"][0]["country"]
        for raw in (c["phone"], c["mobile"]):
            if raw:
                assert phonenumbers.is_valid_number(phonenumbers.parse(raw, country)), raw


def normalised(kind: str, row: dict, country: str) -> dict:
    phone = services.clean_phone(row.get("phone"), country)
    mobile = services.clean_phone(row.get("mobile"), country) if kind == "contact" else None
    key = (
        name_key(row["first_name"], row["last_name"])
        if kind == "contact"
        else name_key(row["name"], drop_legal_form=True)
    )
    return {**row, "email": services.clean_email(row["email"]), "phone": phone, "mobile": mobile,
            "name_key": key, "account_id": row.get("account")}  # fmt: skip


def test_generated_rows_never_look_like_duplicates(session, company_id, rows):
    accounts, contacts = rows
    account_rows = [normalised("account", a, a["addresses"][0]["country"]) for a in accounts]
    contact_rows = [
        normalised("contact", c, accounts[c["account"]]["addresses"][0]["country"])
        for c in contacts
    ]
    assert services.duplicate_report(session, "account", account_rows, company_id=company_id) == {}
    assert services.duplicate_report(session, "contact", contact_rows, company_id=company_id) == {}


def test_demo_loads_through_the_services(session, company_id):
    load_demo(session, accounts=12, contacts=30)
    assert session.scalar(select(func.count()).select_from(Account)) == 12
    people = session.scalars(select(Contact)).all()
    assert len(people) == 30
    assert all(p.account_id is not None and p.mobile.startswith("+") for p in people)
    assert all(p.email == p.email.lower() for p in people)


def test_standard_tags_are_loaded_once_and_user_changes_are_kept(session, company_id):
    load_data(session)  # already ran on install: nothing new
    names = set(session.scalars(select(Tag.name).where(Tag.company_id == company_id)))
    assert {name for name, _ in STANDARD_TAGS.values()} <= names
    vip = session.scalars(select(Tag).where(Tag.company_id == company_id, Tag.name == "VIP")).one()
    vip.name = "Very important"
    session.delete(session.scalars(select(Tag).where(Tag.name == "Prospect")).one())
    session.flush()
    load_data(session)  # an upgrade: the user's rename and delete stand
    names = set(session.scalars(select(Tag.name).where(Tag.company_id == company_id)))
    assert "Very important" in names and "VIP" not in names and "Prospect" not in names
    keys = session.scalar(
        select(func.count()).select_from(DataRecord).where(DataRecord.addon == "contacts")
    )
    assert keys == len(STANDARD_TAGS)


def test_a_new_company_gets_the_standard_tags_on_the_next_load(session, other_company_id):
    load_data(session)
    names = set(session.scalars(select(Tag.name).where(Tag.company_id == other_company_id)))
    assert names == {name for name, _ in STANDARD_TAGS.values()}
