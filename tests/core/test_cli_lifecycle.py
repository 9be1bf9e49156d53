"""The ``mosaic`` command as a user runs it: separate processes, one-line errors, exit codes.

Upgrades are tested here because a process can only import one version of an addon: the
first process installs shelf 1.0.0, the next one sees shelf 1.1.0 on its MOSAIC_ADDONS_PATH.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.db import Database
from tests.conftest import ADMIN_PASSWORD
from tests.core.lifecycle_helpers import BROKEN, V1, V2, scalar, table_names

pytestmark = pytest.mark.slow


class Mosaic:
    """Runs ``python -m cli.main`` with a given database and addons path."""

    def __init__(self, url: str, instance: Path) -> None:
        self.url, self.instance = url, instance

    def __call__(self, *args: str, addons: list[Path] | None = None, env: dict[str, str] | None = None,
                 ok: bool = True) -> subprocess.CompletedProcess:  # fmt: skip
        environ = {
            **os.environ,
            "MOSAIC_DATABASE_URL": self.url,
            "MOSAIC_INSTANCE_PATH": str(self.instance),
            "MOSAIC_ADDONS_PATH": os.pathsep.join(
                str(p) for p in (addons if addons is not None else [V1, BROKEN])
            ),
            "MOSAIC_TEST_WOBBLY_FAIL": "none",
            **(env or {}),
        }
        environ.pop("MOSAIC_DEBUG", None)
        result = subprocess.run(
            [sys.executable, "-m", "cli.main", *args], env=environ, capture_output=True, text=True,
            cwd=Path(__file__).resolve().parents[2], timeout=120,
        )  # fmt: skip
        if ok and result.returncode != 0:
            raise AssertionError(
                f"mosaic {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
            )
        return result


@pytest.fixture
def mosaic(database_factory, tmp_path) -> Mosaic:
    cli = Mosaic(database_factory.new_url(), tmp_path / "instance")
    cli("init", "--admin-email", "boss@example.com", "--admin-password", ADMIN_PASSWORD)
    return cli


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [ln for ln in result.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_upgrade_runs_schema_change_data_migration_and_hooks(mosaic):
    mosaic("addons", "install", "shelf", addons=[V1])
    db = Database(mosaic.url)
    with db.engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO shelf_item (name) VALUES ('blue box')")

    listed = json.loads(mosaic("addons", "list", "--json", addons=[V2]).stdout)
    shelf = next(a for a in listed if a["name"] == "shelf")
    assert (shelf["version"], shelf["installed_version"], shelf["state"]) == (
        "1.1.0",
        "1.0.0",
        "upgradable",
    )

    plan = mosaic("addons", "upgrade", "--all", "--dry-run", addons=[V2]).stdout
    assert "shelf 1.0.0 -> 1.1.0" in plan and "0002: item code" in plan
    mosaic("addons", "upgrade", "shelf", addons=[V2])

    with db.engine.connect() as conn:
        rows = dict(conn.exec_driver_sql("SELECT name, code FROM shelf_item").all())
        perms = set(
            conn.exec_driver_sql("SELECT name FROM core_permission WHERE addon='shelf'").scalars()
        )
        group = conn.exec_driver_sql("SELECT label FROM core_group WHERE addon='shelf'").scalar()
        version = conn.exec_driver_sql(
            "SELECT installed_version FROM core_addon WHERE name='shelf'"
        ).scalar()
    db.dispose()
    assert rows["blue box"] == "BLUE-BOX"  # data migration filled the new column
    assert rows["first shelf item"] == "FIRST-SHELF-ITEM"
    assert rows["upgraded 1.0.0 to 1.1.0"] == "UPGRADE-NOTE"  # post-upgrade hook
    assert perms == {"shelf.item.read", "shelf.item.create", "shelf.item.count"}
    assert group == "Shelf / Clerk"
    assert version == "1.1.0"
    assert "Everything is up to date." in mosaic("addons", "upgrade", "--all", addons=[V2]).stdout


def test_downgrade_is_refused(mosaic):
    mosaic("addons", "install", "shelf", addons=[V2])
    result = mosaic("addons", "upgrade", "shelf", addons=[V1], ok=False)
    assert_one_line_error(result, "newer than the available code 1.0.0")


def test_failed_install_through_the_cli_names_the_step_and_leaves_no_trace(mosaic):
    db = Database(mosaic.url)
    before = table_names(db)
    result = mosaic(
        "addons", "install", "wobbly", env={"MOSAIC_TEST_WOBBLY_FAIL": "migration"}, ok=False
    )
    assert_one_line_error(result, "wobbly: migrations:", "nothing was changed")
    assert table_names(db) == before
    assert scalar(db, "SELECT count(*) FROM core_addon") == 0
    db.dispose()


def test_uninstall_without_yes_asks_and_dry_run_changes_nothing(mosaic):
    mosaic("addons", "install", "wobbly")
    refused = mosaic("addons", "uninstall", "shelf", "--yes", ok=False)
    assert_one_line_error(refused, "wobbly depend on it", "--cascade")
    dry = mosaic("addons", "uninstall", "shelf", "--cascade", "--dry-run").stdout
    assert "wobbly, shelf" in dry and "shelf_item" in dry
    aborted = mosaic("addons", "uninstall", "wobbly", ok=False)  # no tty: confirmation aborts
    assert aborted.returncode != 0
    mosaic("addons", "uninstall", "shelf", "--cascade", "--yes")
    db = Database(mosaic.url)
    assert not {t for t in table_names(db) if t.startswith(("shelf_", "wobbly_"))}
    db.dispose()


@pytest.mark.parametrize(
    "args, fragments",
    [
        (["addons", "install", "nope"], ["unknown addon 'nope'", "mosaic addons list"]),
        (["addons", "uninstall", "shelf", "--yes"], ["not installed: shelf"]),
        (["addons", "upgrade"], ["give addon names or --all"]),
        (["users-that-do-not-exist"], ["No such command"]),
    ],
)
def test_wrong_input_gets_a_one_line_error(mosaic, args, fragments):
    result = mosaic(*args, ok=False)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr


def test_already_installed(mosaic):
    mosaic("addons", "install", "shelf")
    assert_one_line_error(
        mosaic("addons", "install", "shelf", ok=False), "already installed: shelf"
    )


def test_uninitialised_database_and_bad_urls(tmp_path):
    fresh = Mosaic(f"sqlite:///{tmp_path / 'never.db'}", tmp_path / "i")
    assert_one_line_error(fresh("addons", "install", "shelf", ok=False), "run 'mosaic init' first")
    bad = Mosaic("not a url at all", tmp_path / "i")
    assert_one_line_error(bad("addons", "list", ok=False), "MOSAIC_DATABASE_URL")
    down = Mosaic("postgresql+psycopg://nobody@127.0.0.1:1/none", tmp_path / "i")
    assert_one_line_error(down("addons", "list", ok=False), "cannot reach the database")


def test_init_is_non_interactive_and_rejects_weak_passwords(database_factory, tmp_path):
    cli = Mosaic(database_factory.new_url(), tmp_path / "i")
    weak = cli("init", "--admin-email", "a@example.com", "--admin-password", "short", ok=False)
    assert_one_line_error(weak, "at least 10 characters")
    generated = cli("init").stdout
    assert "Admin password (shown once):" in generated
    again = cli("init").stdout
    assert "already initialised" in again and "password" not in again.lower()


def test_version_and_help():
    cli = Mosaic("sqlite://", Path("/tmp"))
    assert cli("--version").stdout.startswith("mosaic, version ")
    help_text = cli("addons", "install", "--help").stdout
    assert "--with-demo" in help_text and "--dry-run" in help_text


def test_every_shipped_addon_through_the_cli(mosaic):
    """Install everything with demo data, upgrade all, uninstall all (no table left), reinstall."""
    shipped = [a["name"] for a in json.loads(mosaic("addons", "list", "--json", addons=[]).stdout)]
    if not shipped:
        pytest.skip("no shipped addon yet")
    db = Database(mosaic.url)
    before = table_names(db)
    mosaic("addons", "install", *shipped, "--with-demo", addons=[])
    mosaic("addons", "upgrade", *shipped, addons=[])
    mosaic("addons", "uninstall", *shipped, "--cascade", "--yes", addons=[])
    assert table_names(db) == before
    mosaic("addons", "install", *shipped, addons=[])
    states = {
        a["name"]: a["state"]
        for a in json.loads(mosaic("addons", "list", "--json", addons=[]).stdout)
    }
    assert set(states.values()) == {"installed"}
    db.dispose()


def test_jobs_commands(mosaic):
    assert "Ran 0 job(s)." in mosaic("jobs", "work", "--once").stdout
    assert mosaic("jobs", "list").stdout.startswith("    ID STATE")
    assert_one_line_error(mosaic("jobs", "retry", "999", ok=False), "no job 999")
