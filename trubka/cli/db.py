"""`trubka db upgrade`."""

from __future__ import annotations

import click

from crm.database import Database


@click.group()
def db() -> None:
    """Database maintenance."""


@db.command()
def upgrade() -> None:
    """Apply the database migrations, up to the newest (they form one line)."""
    from trubka.cli.common import run_with_db

    async def done(database: Database) -> None:
        click.echo(f"database is up to date ({database.dialect})")

    run_with_db(done)
