"""`trubka replay` and `trubka calls`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from telephony.records import CallRecord
from telephony.reducer import ReducerConfig
from telephony.replay import replay_file


def _print_json(record: CallRecord, timeline: bool) -> None:
    click.echo(json.dumps(record.to_json(with_timeline=timeline), ensure_ascii=False))


@click.command()
@click.argument("trace", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per finished call.")
@click.option("--timeline", is_flag=True, help="Include each call's timeline (with --json).")
@click.option(
    "--region", default=None, help="Region for phone numbers (default TRUBKA_DEFAULT_REGION or RU)."
)
def replay(trace: Path, as_json: bool, timeline: bool, region: str | None) -> None:
    """Feed a recorded AMI byte stream through the codec and reducer (no network, no database)."""
    from trubka.settings import load_settings

    settings = load_settings()
    config = ReducerConfig(
        region=(region or settings.default_region).upper(),
        internal_max_digits=settings.internal_number_max_digits,
    )
    count = 0
    for record in replay_file(trace, config):
        count += 1
        if as_json:
            _print_json(record, timeline)
        else:
            answered = record.agent_name or record.agent_interface or "-"
            click.echo(
                f"{record.linkedid:<20} {record.direction.value:<8} "
                f"{record.caller_number or '-':<14} {record.queue or '-':<10} "
                f"{answered:<20} {record.disposition.value:<10} "
                f"wait {record.wait_seconds:6.1f}s talk {record.talk_seconds:6.1f}s"
            )
    if not as_json:
        click.echo(f"{count} call(s)", err=True)
    sys.stdout.flush()


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option(
    "--since",
    default=None,
    help="Only calls started at or after this ISO date/time (UTC if no zone).",
)
@click.option("--limit", type=click.IntRange(min=1), default=None)
@click.option("--timeline", is_flag=True, help="Include each call's timeline (with --json).")
def calls(as_json: bool, since: str | None, limit: int | None, timeline: bool) -> None:
    """Stored call records, oldest first."""
    from trubka.cli.common import parse_since, run_with_db

    since_dt = parse_since(since) if since else None

    async def show(db: Any) -> None:
        from crm.call_records import CallStore
        from recordings.views import recordings_for_calls

        rows = await CallStore(db).list(since=since_dt, limit=limit)
        recordings = await recordings_for_calls(db, rows) if as_json else {}
        for row in rows:
            if as_json:
                extra = {"recording": recordings.get(row.id)}
                data = row.to_json(with_timeline=timeline, extra=extra)
                click.echo(json.dumps(data, ensure_ascii=False))
            else:
                click.echo(
                    f"{row.started_at:%Y-%m-%d %H:%M:%S} {row.direction:<8} "
                    f"{row.caller_number or '-':<14} {row.queue or '-':<10} "
                    f"{row.agent_name or row.agent_interface or '-':<20} {row.disposition}"
                )

    run_with_db(show)
