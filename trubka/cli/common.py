"""Helpers shared by the command modules: settings, a migrated database, friendly errors."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

import click

from crm.database import Database
from trubka.settings import Settings, SettingsError, load_settings

T = TypeVar("T")


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    # Migrations run at every start: their step-by-step chatter is not news.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))


def parse_since(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(
            f"{value!r} is not an ISO date or date-time (e.g. 2026-11-26 or 2026-11-26T09:00)",
            param_hint="--since",
        ) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def run_with_db(work: Callable[[Database], Awaitable[T]], *, migrate: bool = True) -> T:
    """Run `work` with a migrated database from the settings, then dispose of it."""
    settings = settings_or_exit()

    async def main() -> T:
        db = Database(settings.database_url)
        try:
            if migrate:
                await db.upgrade()
            return await work(db)
        finally:
            await db.dispose()

    return asyncio.run(main())
