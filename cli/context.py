"""What every CLI command needs, built lazily: settings, database, registry, lifecycle."""

from __future__ import annotations

from functools import cached_property

from core.config import Settings
from core.db import Database
from core.lifecycle import Lifecycle
from core.registry import Registry


class CliContext:
    @cached_property
    def settings(self) -> Settings:
        return Settings.from_env()

    @cached_property
    def db(self) -> Database:
        return Database(self.settings.database_url)

    @cached_property
    def registry(self) -> Registry:
        return Registry.discover(self.settings.addons_paths)

    @cached_property
    def lifecycle(self) -> Lifecycle:
        return Lifecycle(self.db, self.registry)

    def close(self) -> None:
        if "db" in self.__dict__:
            self.db.dispose()
