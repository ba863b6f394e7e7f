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
    ami_enabled: bool = True  # false: a web-only node that does not consume AMI
    ami_connect_timeout: float = Field(default=5.0, gt=0)
    ami_reconnect_max: float = Field(default=30.0, gt=0)  # backoff cap, seconds
    ami_md5_login: bool = False  # Challenge/MD5 login instead of sending the secret
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

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("use DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level


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
