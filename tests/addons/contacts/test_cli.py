"""``mosaic contacts merge|forget|duplicates`` through the click runner, on a database of its own."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from addons.contacts import services
from addons.contacts.models import Contact
from cli.main import main
from core.lifecycle import Lifecycle
from core.models import AuditLog
from core.registry import Registry
from tests.conftest import ADMIN_EMAIL


@pytest.fixture
def deployment(empty_database, tmp_path):
    Lifecycle(empty_database, Registry.discover()).install(["contacts"])
    with empty_database.unit_of_work() as session:
        keep = services.create_contact(
            session,
            {"first_name": "Anna", "last_name": "Schmidt", "email": "anna@acme.example"},
            company_id=1,
        )
        twin = services.create_contact(
            session, {"first_name": "A.", "last_name": "Schmidt", "email": "ANNA@acme.example", "mobile": "+4915112345678"},
            company_id=1, confirm_duplicate=True,
        )  # fmt: skip
        ids = keep.id, twin.id
    env = {"MOSAIC_DATABASE_URL": empty_database.url, "MOSAIC_INSTANCE_PATH": str(tmp_path)}

    def run(*args: str, input: str | None = None):
        return CliRunner().invoke(main, list(args), env=env, input=input)

    return empty_database, ids, run


def test_duplicates_merge_and_forget_from_the_command_line(deployment):
    db, (keep, twin), run = deployment

    listed = run("contacts", "duplicates", "contact")
    assert listed.exit_code == 0, listed.output
    assert f"#{keep} Anna Schmidt" in listed.output and "same email" in listed.output

    merged = run(
        "contacts", "merge", "contact", str(twin), str(keep), "--user", ADMIN_EMAIL, "--yes"
    )
    assert merged.exit_code == 0, merged.output
    assert f"Merged contact #{twin} into #{keep}" in merged.output

    forgot = run("contacts", "forget", str(keep), "--user", ADMIN_EMAIL, input="y\n")
    assert forgot.exit_code == 0, forgot.output

    with db.unit_of_work() as session:
        assert session.get(Contact, twin) is None
        person = session.get(Contact, keep)
        assert person.is_forgotten and person.forgotten_by_id is not None
        actions = set(session.scalars(select(AuditLog.action).where(AuditLog.record_id == keep)))
        assert {"merge", "forget"} <= actions


def test_refusals_are_one_line_errors_and_change_nothing(deployment):
    db, (keep, _twin), run = deployment
    same = run("contacts", "merge", "contact", str(keep), str(keep), "--yes")
    assert same.exit_code == 1 and "into itself" in same.output
    missing = run("contacts", "merge", "account", "1", "2", "--yes")
    assert missing.exit_code == 1 and "no account #1" in missing.output
    nobody = run("contacts", "forget", str(keep), "--user", "nobody@example.com", "--yes")
    assert nobody.exit_code == 2 and "no user with e-mail" in nobody.output
    declined = run("contacts", "forget", str(keep), "--user", ADMIN_EMAIL, input="n\n")
    assert declined.exit_code == 1
    with db.unit_of_work() as session:
        assert not session.get(Contact, keep).is_forgotten
