"""Trubka's settings: read once from the environment (and an optional `.env` file).

Every value has a ``TRUBKA_`` prefixed variable. Invalid values raise
:class:`SettingsError` whose message names the variable, so an admin sees
``TRUBKA_AMI_PORT: Input should be a valid integer (got 'abc')`` instead of a
traceback.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SQLITE_PATH = Path("var/trubka.db")


class SettingsError(Exception):
    """A configuration value is missing or invalid."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TRUBKA_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = Field(default=f"sqlite+aiosqlite:///{DEFAULT_SQLITE_PATH}")
    ami_host: str = "127.0.0.1"
    ami_port: int = Field(default=5038, ge=1, le=65535)
    ami_user: str = "trubka"
    ami_secret: str = ""
    ami_ping_interval: float = Field(default=10.0, gt=0)
    ami_action_timeout: float = Field(default=10.0, gt=0)
    agi_host: str = "127.0.0.1"
    agi_port: int = Field(default=4573, ge=0, le=65535)
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=0, le=65535)
    recordings_dir: Path = Path("var/recordings")
    recordings_spool: Path | None = None
    default_region: str = "RU"
    internal_number_max_digits: int = Field(default=5, ge=1, le=10)
    secret_key: str = ""
    cookie_secure: bool = False
    log_level: str = "INFO"
    # Supervisor reports: the call center's local time zone (days and hours of the
    # reports) and the service-level thresholds, in seconds of queue hold time.
    timezone: str = "Europe/Moscow"
    service_level_seconds: int = Field(default=20, ge=1, le=3600)
    queue_service_levels: str = ""  # "support=30,sales=15"

    @field_validator("default_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        region = value.strip().upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown region code {value!r} (use ISO 3166 codes such as RU, DE)")
        return region

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        return normalize_database_url(value)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        name = value.strip()
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {value!r} (use IANA names such as Europe/Moscow)"
            ) from exc
        return name

    @field_validator("queue_service_levels")
    @classmethod
    def _queue_levels(cls, value: str) -> str:
        parse_queue_service_levels(value)
        return value.strip()

    def service_levels(self) -> dict[str, int]:
        """Per-queue service-level thresholds from `TRUBKA_QUEUE_SERVICE_LEVELS`."""
        return parse_queue_service_levels(self.queue_service_levels)

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("use DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level


def parse_queue_service_levels(value: str) -> dict[str, int]:
    """`support=30,sales=15` → {"support": 30, "sales": 15}; a clear error otherwise."""
    levels: dict[str, int] = {}
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        queue, sep, seconds = item.rpartition("=")
        queue = queue.strip()
        if not sep or not queue:
            raise ValueError(f"expected QUEUE=SECONDS pairs separated by commas, got {item!r}")
        try:
            number = int(seconds.strip())
        except ValueError as exc:
            raise ValueError(
                f"{queue}: {seconds.strip()!r} is not a whole number of seconds"
            ) from exc
        if not 1 <= number <= 3600:
            raise ValueError(f"{queue}: the threshold must be between 1 and 3600 seconds")
        levels[queue] = number
    return levels


def normalize_database_url(url: str) -> str:
    """Map plain `sqlite://` and `postgresql://` URLs to their asyncio drivers."""
    url = url.strip()
    if url.startswith("sqlite:///") or url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url[len("sqlite://") :]
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    if url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        return url
    raise ValueError("expected a sqlite:/// or postgresql:// URL")


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, turning validation errors into one readable message."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"])
            variable = f"TRUBKA_{field.upper()}"
            raw = os.environ.get(variable, error.get("input"))
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{variable}: {message} (got {raw!r})")
        raise SettingsError("invalid configuration: " + "; ".join(problems)) from exc
