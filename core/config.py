"""Settings read from ``MOSAIC_*`` environment variables, with embedded defaults.

The embedded default is a SQLite file under the instance folder, so that a new user gets a
working system with no server to set up. The secret key is generated once and persisted in
the instance folder: it must survive restarts (tokens stay valid) and must never be hard-coded.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

ENV_PREFIX = "MOSAIC_"


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(ENV_PREFIX + name)
    return value if value not in (None, "") else default


def _env_int(name: str, default: int) -> int:
    raw = _env(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{ENV_PREFIX}{name} must be a whole number, got {raw!r}") from exc


class ConfigError(ValueError):
    """A setting has a value Mosaic cannot use; the message names the variable."""


def default_instance_path() -> Path:
    return Path(_env("INSTANCE_PATH") or Path.cwd() / "instance").resolve()


def normalise_database_url(url: str) -> str:
    """Accept the URLs people paste (``postgres://``, ``postgresql://``) and pick psycopg 3."""
    for plain in ("postgres://", "postgresql://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url[len(plain) :]
    return url


def _load_or_create_secret(instance_path: Path) -> str:
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


@dataclass(frozen=True)
class Settings:
    """Everything configurable about one Mosaic deployment."""

    instance_path: Path
    database_url: str
    secret_key: str
    addons_paths: tuple[Path, ...] = ()
    redis_url: str | None = None
    access_token_minutes: int = 15
    refresh_token_days: int = 14
    login_max_failures: int = 5
    login_lock_minutes: int = 15
    login_rate_limit: str = "10 per minute"
    smtp_url: str | None = None
    mail_sender: str = "mosaic@localhost"
    hot_reload: bool = True
    max_request_bytes: int = 2 * 1024 * 1024
    prefix_overrides: dict[str, str] = field(default_factory=dict)
    testing: bool = False

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        instance_path = Path(str(overrides.pop("instance_path", default_instance_path())))
        database_url = _env("DATABASE_URL") or f"sqlite:///{instance_path / 'mosaic.db'}"
        raw_paths = _env("ADDONS_PATH") or ""
        values: dict[str, object] = dict(
            instance_path=instance_path,
            database_url=normalise_database_url(database_url),
            secret_key=_env("SECRET_KEY") or "",
            addons_paths=tuple(Path(p).resolve() for p in raw_paths.split(os.pathsep) if p),
            redis_url=_env("REDIS_URL"),
            access_token_minutes=_env_int("ACCESS_TOKEN_MINUTES", 15),
            refresh_token_days=_env_int("REFRESH_TOKEN_DAYS", 14),
            login_max_failures=_env_int("LOGIN_MAX_FAILURES", 5),
            login_lock_minutes=_env_int("LOGIN_LOCK_MINUTES", 15),
            login_rate_limit=_env("LOGIN_RATE_LIMIT", "10 per minute"),
            smtp_url=_env("SMTP_URL"),
            mail_sender=_env("MAIL_SENDER", "mosaic@localhost"),
            hot_reload=(_env("HOT_RELOAD", "1") or "1").lower() not in ("0", "false", "no"),
            max_request_bytes=_env_int("MAX_REQUEST_BYTES", 2 * 1024 * 1024),
            prefix_overrides={
                key[len(ENV_PREFIX + "PREFIX_") :].lower(): value
                for key, value in os.environ.items()
                if key.startswith(ENV_PREFIX + "PREFIX_") and value
            },
        )
        values.update(overrides)
        if "database_url" in overrides:
            values["database_url"] = normalise_database_url(str(values["database_url"]))
        if not values["secret_key"]:
            values["secret_key"] = _load_or_create_secret(instance_path)
        return cls(**values)  # type: ignore[arg-type]

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
