"""CSV import of accounts and contacts: the sample files, row-numbered errors, the duplicate report."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from addons.contacts.api import accounts, contacts
from addons.contacts.models import Account, Contact
from cli.main import main
from core.lifecycle import Lifecycle
from core.registry import Registry
from core.resources.csv_io import import_csv
from core.tenancy import company_scope

SAMPLES = Path(__file__).resolve().parents[3] / "docs" / "samples"


def load(session, resource, text: str, **flags):
    return import_csv(session, resource, io.BytesIO(text.encode()), **flags)


@pytest.fixture
def scoped(session, company_id, admin_id):
    with company_scope([company_id], company_id, user_id=admin_id):
        yield session


def test_the_sample_files_import_cleanly(scoped):
    first = load(scoped, accounts, (SAMPLES / "accounts.csv").read_text())
    assert (first.errors, first.created) == ([], 10)
    second = load(scoped, contacts, (SAMPLES / "contacts.csv").read_text())
    assert (second.errors, second.created) == ([], 25)
    braun = scoped.scalars(select(Account).where(Account.name == "Braun Fabrics KG")).one()
    assert (braun.phone, braun.default_address("billing").city) == ("+493020104729", "Bremen")
    assert {t.name for t in braun.tags} == {"Key account", "Trade fair 2024"}
    lukas = scoped.scalars(
        select(Contact).where(Contact.email == "lukas.schroder@braun-fabrics.de")
    ).one()
    assert (lukas.account_id, lukas.mobile) == (braun.id, "+4915120104729")
    # a national number is read in the country of the account's billing address
    isabelle = scoped.scalars(select(Contact).where(Contact.first_name == "Isabelle")).one()
    assert isabelle.phone == "+33143912648"


def test_importing_again_reports_every_row_as_a_duplicate_with_its_line(scoped):
    text = (SAMPLES / "accounts.csv").read_text()
    load(scoped, accounts, text)
    again = load(scoped, accounts, text, skip_errors=True)
    assert again.created == 0 and [e.line for e in again.errors] == list(range(2, 12))
    report = again.errors[0].describe()
    assert report.startswith("line 2: confirm_duplicate: Looks like account #")
    assert "(same email, phone, name)" in report


def test_duplicates_inside_one_file_and_the_confirm_column(scoped):
    text = (
        "first_name,last_name,email,confirm_duplicate\n"
        "Anna,Schmidt,anna@example.com,\n"
        "Annie,Schmidt,ANNA@example.com,\n"
        "Anna,Schmidt,other@example.com,true\n"
    )
    result = load(scoped, contacts, text, skip_errors=True)
    assert result.created == 2
    assert [e.line for e in result.errors] == [3]
    assert scoped.scalar(select(func.count()).select_from(Contact)) == 2


def test_bad_rows_are_reported_by_line_and_nothing_is_saved(scoped):
    text = (
        "first_name,last_name,phone,account_name,language\n"
        "Ok,Person,+49 30 1234567,,de\n"
        "Bad,Phone,12,,\n"
        "No,Account,,Nobody Ltd,\n"
        "Odd,Language,,,klingon\n"
    )
    result = load(scoped, contacts, text)
    assert result.failed
    by_line = {e.line: set(e.errors) for e in result.errors}
    assert by_line == {3: {"phone"}, 4: {"account_name"}, 5: {"language"}}


def test_mosaic_import_from_the_command_line(empty_database, tmp_path):
    Lifecycle(empty_database, Registry.discover()).install(["contacts"])
    env = {"MOSAIC_DATABASE_URL": empty_database.url, "MOSAIC_INSTANCE_PATH": str(tmp_path)}
    runner = CliRunner()
    done = runner.invoke(
        main, ["import", "contacts.accounts", str(SAMPLES / "accounts.csv")], env=env
    )
    assert done.exit_code == 0, done.output
    people = runner.invoke(
        main, ["import", "contacts.contacts", str(SAMPLES / "contacts.csv")], env=env
    )
    assert people.exit_code == 0, people.output
    again = runner.invoke(
        main, ["import", "contacts.contacts", str(SAMPLES / "contacts.csv")], env=env
    )
    assert again.exit_code != 0
    assert "line 2: confirm_duplicate: Looks like contact #" in again.output
    with empty_database.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == 25
