"""`trubka reports …`: rebuild the report rollups, print reports."""

from __future__ import annotations

import json
from typing import Any

import click

from crm.database import Database
from supervisor.config import ReportConfig
from supervisor.errors import ReportParameterError
from supervisor.export import columns_of, to_csv
from supervisor.periods import ReportPeriod, parse_period


def _config() -> ReportConfig:
    from trubka.cli.common import settings_or_exit

    settings = settings_or_exit()
    return ReportConfig.create(
        settings.timezone, settings.service_level_seconds, settings.service_levels()
    )


def _period(start: str, end: str | None) -> ReportPeriod:
    try:
        return parse_period(start, end)
    except ReportParameterError as exc:
        raise click.BadParameter(exc.reason, param_hint=f"--{exc.parameter}") from exc


async def _catch_up(db: Database, config: ReportConfig) -> None:
    """Roll up calls stored since the last roll-up (e.g. while Trubka was not running)."""
    from supervisor.rollups import RollupStore

    await RollupStore(db, config).catch_up()


@click.group()
def reports() -> None:
    """Supervisor reports (see docs/reports.md for the definitions)."""


@reports.command()
@click.option("--start", required=True, help="First local day, YYYY-MM-DD.")
@click.option("--end", default=None, help="Last local day, YYYY-MM-DD (default: --start).")
def rebuild(start: str, end: str | None) -> None:
    """Recompute the hourly rollups of these days from the stored calls.

    Needed after changing a service-level threshold (the new one then applies to these
    days too); the rollups otherwise keep themselves up to date.
    """
    from trubka.cli.common import run_with_db

    period = _period(start, end)
    config = _config()

    async def work(db: Database) -> int:
        from supervisor.rollups import RollupStore

        return await RollupStore(db, config).rebuild(period)

    rows = run_with_db(work)
    click.echo(f"rebuilt {period.days} day(s) in {config.timezone.key}: {rows} rollup row(s)")


def _print(rows: list[dict[str, Any]], first: list[str], as_csv: bool) -> None:
    if as_csv:
        click.echo(to_csv(rows, columns_of(rows, first)).lstrip("\ufeff"), nl=False)
        return
    for row in rows:
        click.echo(json.dumps(row, ensure_ascii=False))


@reports.command()
@click.option("--start", required=True, help="First local day, YYYY-MM-DD.")
@click.option("--end", default=None, help="Last local day, YYYY-MM-DD (default: --start).")
@click.option("--queue", default=None, help="Only this queue.")
@click.option(
    "--group", type=click.Choice(["total", "day", "hour", "hour_of_day"]), default="total"
)
@click.option("--csv", "as_csv", is_flag=True, help="CSV instead of one JSON object per line.")
def queues(start: str, end: str | None, queue: str | None, group: str, as_csv: bool) -> None:
    """The queue report: offered, answered, abandoned, service level, ASA, AHT."""
    from supervisor.reports import Group, ReportService
    from trubka.cli.common import run_with_db

    period = _period(start, end)
    config = _config()

    async def work(db: Database) -> list[dict[str, Any]]:
        await _catch_up(db, config)
        return await ReportService(db, config).queues(period, queue=queue, group=Group(group))

    _print(run_with_db(work), ["queue"], as_csv)


@reports.command()
@click.option("--start", required=True, help="First local day, YYYY-MM-DD.")
@click.option("--end", default=None, help="Last local day, YYYY-MM-DD (default: --start).")
@click.option("--agent", default=None, help="Only this agent interface.")
@click.option("--queue", default=None, help="Only calls of this queue.")
@click.option(
    "--group", type=click.Choice(["total", "day", "hour", "hour_of_day"]), default="total"
)
@click.option("--csv", "as_csv", is_flag=True, help="CSV instead of one JSON object per line.")
def agents(
    start: str, end: str | None, agent: str | None, queue: str | None, group: str, as_csv: bool
) -> None:
    """The agent report: answered calls, talk time, AHT, time per state."""
    from supervisor.reports import Group, ReportService
    from trubka.cli.common import run_with_db

    period = _period(start, end)
    config = _config()

    async def work(db: Database) -> list[dict[str, Any]]:
        await _catch_up(db, config)
        return await ReportService(db, config).agents(
            period, agent=agent, queue=queue, group=Group(group)
        )

    _print(run_with_db(work), ["agent_interface", "agent_name"], as_csv)
