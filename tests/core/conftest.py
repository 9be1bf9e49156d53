"""Fixtures shared by core's tests."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from cli.main import main
from core.lifecycle import Lifecycle
from tests.conftest import FIXTURE_ADDONS


@pytest.fixture
def cli(empty_database, registry, tmp_path, monkeypatch):
    """``mosaic`` against a fresh database with the testkit addon installed."""
    Lifecycle(empty_database, registry).install(["testkit"])
    monkeypatch.setenv("MOSAIC_DATABASE_URL", empty_database.url)
    monkeypatch.setenv("MOSAIC_ADDONS_PATH", str(FIXTURE_ADDONS))
    monkeypatch.setenv("MOSAIC_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.delenv("MOSAIC_DEBUG", raising=False)
    runner = CliRunner()

    def run(*args: str, ok: bool = True):
        result = runner.invoke(main, list(args), catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    run.db = empty_database
    return run
