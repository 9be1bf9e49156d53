"""``mosaic users ...`` and ``mosaic companies ...`` through the click runner."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from cli.main import main
from core import identity
from core.bootstrap import initialise
from core.db import Database
from core.models import ApiToken, User
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

STRONG = "Cli-Strong-Pass-9"


@pytest.fixture(scope="module")
def cli_db(database_factory):
    url = database_factory.new_url()
    database = Database(url)
    initialise(database, admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD)
    yield database
    database.dispose()


@pytest.fixture
def mosaic(cli_db, tmp_path):
    runner = CliRunner()
    env = {
        "MOSAIC_DATABASE_URL": cli_db.url,
        "MOSAIC_INSTANCE_PATH": str(tmp_path),
        "MOSAIC_DEBUG": "",
    }

    def run(*args, ok=True, input=None):
        result = runner.invoke(main, list(args), env=env, input=input, catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return run


def _user(db, email):
    with db.session_factory() as session:
        return session.scalar(select(User).where(User.email == email))


def _login_ok(db, email, password):
    with db.unit_of_work() as session:
        return identity.authenticate(session, email, password, identity.LoginPolicy()) is not None


def test_companies_create_and_list(mosaic):
    assert (
        "Created company Gamma Ltd"
        in mosaic("companies", "create", "Gamma Ltd", "--currency", "gbp").output
    )
    listed = json.loads(mosaic("companies", "list", "--json").output)
    gamma = next(c for c in listed if c["name"] == "Gamma Ltd")
    assert gamma["currency"] == "GBP" and gamma["active"] is True
    assert "Gamma Ltd" in mosaic("companies", "list").output
    duplicate = mosaic("companies", "create", "gamma ltd", ok=False)
    assert duplicate.exit_code == 1 and "already exists" in duplicate.output
    bad = mosaic("companies", "create", "Delta", "--currency", "euro", ok=False)
    assert bad.exit_code == 1 and "currency" in bad.output and "Traceback" not in bad.output


def test_users_create_list_and_login(mosaic, cli_db):
    mosaic("companies", "create", "Epsilon")
    out = mosaic("users", "create", "Erin@Example.com", "--name", "Erin", "--password", STRONG,
                 "--company", "Epsilon", "--group", "core.admin").output  # fmt: skip
    assert "Created user erin@example.com" in out and STRONG not in out
    assert _login_ok(cli_db, "erin@example.com", STRONG)
    rows = json.loads(mosaic("users", "list", "--json").output)
    erin = next(r for r in rows if r["email"] == "erin@example.com")
    assert erin["groups"] == ["core.admin"] and erin["companies"] == ["Epsilon"]
    table = mosaic("users", "list").output
    assert "erin@example.com" in table and "$argon2" not in table and STRONG not in table
    assert "$argon2" not in json.dumps(rows)


def test_users_create_refusals_are_one_line_errors(mosaic):
    weak = mosaic("users", "create", "weak@example.com", "--password", "short", ok=False)
    assert weak.exit_code == 1 and "characters" in weak.output and "Traceback" not in weak.output
    bad_email = mosaic("users", "create", "not-an-email", "--password", STRONG, ok=False)
    assert bad_email.exit_code == 1 and "e-mail" in bad_email.output
    unknown_group = mosaic(
        "users", "create", "g@example.com", "--password", STRONG, "--group", "nope.x", ok=False
    )
    assert unknown_group.exit_code == 1 and "core.admin" in unknown_group.output
    mosaic("users", "create", "twice@example.com", "--password", STRONG)
    again = mosaic("users", "create", "TWICE@example.com", "--password", STRONG, ok=False)
    assert again.exit_code == 1 and "already exists" in again.output


def test_generated_password_is_shown_once_and_works(mosaic, cli_db):
    out = mosaic("users", "create", "gen@example.com", "--generate-password").output
    password = out.split("Password (shown once): ")[1].strip()
    assert _login_ok(cli_db, "gen@example.com", password)


def test_prompted_password(mosaic, cli_db):
    mosaic("users", "create", "prompt@example.com", input=f"{STRONG}\n{STRONG}\n")
    assert _login_ok(cli_db, "prompt@example.com", STRONG)


def test_set_password_revokes_and_unlocks(mosaic, cli_db):
    mosaic("users", "create", "sp@example.com", "--password", STRONG)
    with cli_db.unit_of_work() as session:
        for _ in range(6):
            identity.authenticate(
                session, "sp@example.com", "Wrong-Pass-123", identity.LoginPolicy()
            )
    assert _user(cli_db, "sp@example.com").locked_until is not None
    out = mosaic("users", "set-password", "sp@example.com", "--password", "Brand-New-Pass-8").output
    assert "revoked" in out and "Brand-New-Pass-8" not in out
    user = _user(cli_db, "sp@example.com")
    assert user.locked_until is None and user.tokens_valid_after is not None
    assert _login_ok(cli_db, "sp@example.com", "Brand-New-Pass-8")
    assert not _login_ok(cli_db, "sp@example.com", STRONG)
    missing = mosaic("users", "set-password", "ghost@example.com", "--password", STRONG, ok=False)
    assert missing.exit_code == 1 and "no user" in missing.output


def test_disable_and_enable(mosaic, cli_db):
    mosaic("users", "create", "dis@example.com", "--password", STRONG)
    mosaic("users", "disable", "dis@example.com")
    assert not _login_ok(cli_db, "dis@example.com", STRONG)
    assert _user(cli_db, "dis@example.com").active is False
    mosaic("users", "enable", "dis@example.com")
    assert _login_ok(cli_db, "dis@example.com", STRONG)


def test_grant_groups_and_companies(mosaic, cli_db):
    mosaic("companies", "create", "Zeta")
    mosaic("users", "create", "gr@example.com", "--password", STRONG)
    out = mosaic(
        "users", "grant", "gr@example.com", "--group", "core.admin", "--company", "Zeta"
    ).output
    assert "core.admin" in out and "Zeta" in out
    with cli_db.session_factory() as session:
        user = session.scalar(select(User).where(User.email == "gr@example.com"))
        assert identity.load_permissions(session, user.id)[1] is True
    out = mosaic("users", "grant", "gr@example.com", "--group", "core.admin", "--revoke").output
    assert "groups none" in out
    assert mosaic("users", "grant", "gr@example.com", ok=False).exit_code == 2


def test_api_tokens_create_list_revoke(mosaic, cli_db):
    mosaic("users", "create", "tok@example.com", "--password", STRONG)
    out = mosaic("users", "tokens", "create", "tok@example.com", "CI bot").output
    plain = out.strip().splitlines()[-1]
    assert plain.startswith("mos_")
    with cli_db.session_factory() as session:
        assert identity.user_for_api_token(session, plain) is not None
        assert session.scalar(select(ApiToken.token_hash).where(ApiToken.name == "CI bot")) != plain
    listed = json.loads(mosaic("users", "tokens", "list", "tok@example.com", "--json").output)
    assert [t["name"] for t in listed] == ["CI bot"] and plain not in json.dumps(listed)
    assert plain not in mosaic("users", "tokens", "list", "tok@example.com").output
    mosaic("users", "tokens", "revoke", "tok@example.com", str(listed[0]["id"]))
    with cli_db.session_factory() as session:
        assert identity.user_for_api_token(session, plain) is None
    other = mosaic("users", "tokens", "revoke", ADMIN_EMAIL, str(listed[0]["id"]), ok=False)
    assert other.exit_code == 1 and "no API token" in other.output


def test_uninitialised_database_is_a_one_line_error(tmp_path):
    runner = CliRunner()
    env = {
        "MOSAIC_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}",
        "MOSAIC_INSTANCE_PATH": str(tmp_path),
    }
    result = runner.invoke(main, ["users", "list"], env=env)
    assert result.exit_code == 1 and "mosaic init" in result.output
