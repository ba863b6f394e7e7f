"""`trubka recordings …`: the recordings queue, retries, retention and legal holds."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click

from crm.database import Database

STATUSES = ["pending", "processing", "done", "empty", "missing", "failed", "purged"]


def _service(db: Database) -> Any:
    from recordings.config import RecordingConfig
    from recordings.service import RecordingService
    from trubka.cli.common import settings_or_exit

    return RecordingService(db, RecordingConfig.from_settings(settings_or_exit()))


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False))


@click.group()
def recordings() -> None:
    """Call recordings: the processing queue, retries, retention, legal holds."""


@recordings.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
def status(as_json: bool) -> None:
    """Jobs per state, ffmpeg and the directories. Exits 1 while ffmpeg is missing."""
    from trubka.cli.common import run_with_db

    async def show(db: Database) -> dict[str, Any]:
        service = _service(db)
        await service.check_tools()
        return {**service.status(), "jobs": await service.store.counts()}

    data = run_with_db(show)
    if as_json:
        _echo_json(data)
    else:
        click.echo(f"ffmpeg:    {data['ffmpeg'] or 'MISSING: ' + str(data['error'])}")
        click.echo(f"format:    {data['format']} at {data['bitrate_kbps']} kbit/s")
        click.echo(f"storage:   {data['storage']}")
        click.echo(f"spool:     {data['spool'] or '(none)'};  PBX dir: {data['pbx_dir']}")
        click.echo(f"retention: {data['retention']} (days)")
        click.echo("jobs:      " + ", ".join(f"{k} {v}" for k, v in data["jobs"].items()))
    if not data["enabled"]:
        sys.exit(1)


@recordings.command(name="list")
@click.option(
    "--status", "statuses", multiple=True, type=click.Choice(STATUSES), help="Only these states."
)
@click.option("--call", "linkedid", default=None, help="Only this call's recordings (linkedid).")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_jobs(statuses: tuple[str, ...], linkedid: str | None, limit: int, as_json: bool) -> None:
    """Recording jobs, newest first."""
    from recordings.jobs import JobStore
    from trubka.cli.common import run_with_db

    async def show(db: Database) -> None:
        jobs = await JobStore(db).list_jobs(
            statuses=statuses or None, linkedid=linkedid, limit=limit
        )
        for job in jobs:
            if as_json:
                _echo_json(job.describe())
                continue
            duration = (
                f"{job.duration_seconds:7.1f}s" if job.duration_seconds is not None else "       -"
            )
            hold = " HOLD" if job.legal_hold else ""
            click.echo(
                f"{job.id:>6} {job.status:<10} {job.linkedid or '-':<22} {duration} "
                f"{job.source_name}{hold}{'  ' + job.reason if job.reason else ''}"
            )

    run_with_db(show)


@recordings.command()
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(["missing", "failed"]),
    help="Which jobs to re-queue (default: missing and failed).",
)
@click.option("--id", "job_ids", multiple=True, type=int, help="Only these jobs.")
def retry(statuses: tuple[str, ...], job_ids: tuple[int, ...]) -> None:
    """Put missing/failed jobs back in the queue (a running Trubka picks them up)."""
    from recordings.jobs import JobStore
    from recordings.models import JobStatus
    from trubka.cli.common import run_with_db

    wanted = [JobStatus(s) for s in (statuses or ("missing", "failed"))]

    async def run(db: Database) -> list[int]:
        return await JobStore(db).retry(
            wanted, time.time(), job_ids=list(job_ids) or None, actor="cli"
        )

    ids = run_with_db(run)
    click.echo(f"{len(ids)} job(s) re-queued" + (f": {', '.join(map(str, ids))}" if ids else ""))


@recordings.command()
@click.option("--dry-run", is_flag=True, help="Only say what would be removed.")
def purge(dry_run: bool) -> None:
    """Apply the retention policy now (a running Trubka also does it daily)."""
    from trubka.cli.common import run_with_db

    async def run(db: Database) -> Any:
        return await _service(db).purge(dry_run=dry_run, actor="cli")

    report = run_with_db(run)
    verb = "would be purged" if dry_run else "purged"
    click.echo(
        f"{len(report.purged)} recording(s) {verb} ({report.freed_bytes} bytes), "
        f"{len(report.held)} kept on legal hold, {len(report.errors)} error(s)"
    )
    for job_id, error in report.errors.items():
        click.echo(f"  job {job_id}: {error}", err=True)
    if report.errors:
        sys.exit(1)


def _set_hold(ref: str, hold: bool, reason: str | None) -> None:
    from recordings.jobs import JobStore
    from trubka.cli.common import run_with_db

    async def run(db: Database) -> list[Any]:
        store = JobStore(db)
        jobs = await store.find(ref)
        if not jobs:
            return []
        return await store.set_hold([j.id for j in jobs], hold, reason, "cli", time.time())

    jobs = run_with_db(run)
    if not jobs:
        raise click.ClickException(f"no recording job with id or linkedid {ref!r}")
    for job in jobs:
        state = "on legal hold" if hold else "released from legal hold"
        click.echo(f"job {job.id} (call {job.linkedid or '-'}) {state}")


@recordings.command()
@click.argument("ref")
@click.option("--reason", required=True, help="Why (a case number …); kept in the audit trail.")
def hold(ref: str, reason: str) -> None:
    """Protect a recording from purging (REF: a job id or a call's linkedid)."""
    _set_hold(ref, True, reason)


@recordings.command()
@click.argument("ref")
def release(ref: str) -> None:
    """Lift a legal hold (REF: a job id or a call's linkedid)."""
    _set_hold(ref, False, None)


@recordings.command()
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--job", "job_id", type=int, default=None, help="Only this job's entries.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def audit(limit: int, job_id: int | None, as_json: bool) -> None:
    """The audit trail: purges, holds, retries (newest first)."""
    from recordings.jobs import JobStore
    from trubka.cli.common import run_with_db

    async def show(db: Database) -> None:
        for entry in await JobStore(db).audit_log(limit, job_id):
            if as_json:
                _echo_json(entry.describe())
            else:
                click.echo(
                    f"{entry.at:%Y-%m-%d %H:%M:%S} {entry.action:<8} job {entry.job_id or '-':<6} "
                    f"{entry.actor:<10} {entry.detail or ''}"
                )

    run_with_db(show)
