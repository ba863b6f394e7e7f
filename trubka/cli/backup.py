"""`trubka backup DIR` and `trubka restore DIR` (see `trubka.backup`)."""

from __future__ import annotations

from pathlib import Path

import click

from trubka.backup import BackupError, Summary
from trubka.backup import backup as take_backup
from trubka.backup import restore as restore_backup
from trubka.cli.common import settings_or_exit


def _describe(summary: Summary) -> str:
    manifest = summary.manifest
    counts = ", ".join(f"{n} {table}" for table, n in manifest["counts"].items() if n)
    recordings = manifest["recordings"]
    return (
        f"{manifest['dialect']} database ({counts or 'empty'}; "
        f"{manifest['database']['bytes']:,} bytes), "
        f"{recordings['files']} recordings ({recordings['bytes']:,} bytes)"
    )


@click.command()
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False))
def backup(folder: Path) -> None:
    """Back up the database and the recordings into FOLDER (new or empty).

    SQLite is copied consistently while Trubka runs; PostgreSQL through pg_dump."""
    settings = settings_or_exit()
    try:
        summary = take_backup(settings.database_url, settings.recordings_dir, folder)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"backed up {_describe(summary)} into {summary.folder}")


@click.command()
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--force",
    is_flag=True,
    help="Replace a database that holds data (a backup of it is taken first).",
)
def restore(folder: Path, force: bool) -> None:
    """Restore the database and the recordings from a backup FOLDER. Stop Trubka first."""
    settings = settings_or_exit()
    try:
        summary = restore_backup(
            settings.database_url, settings.recordings_dir, folder, force=force
        )
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    if summary.safety_copy is not None:
        click.echo(f"the database as it was is backed up in {summary.safety_copy}")
    click.echo(
        f"restored {_describe(summary)} from {summary.folder} "
        f"(taken {summary.manifest['created_at']})"
    )
