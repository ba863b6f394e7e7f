"""The `trubka` command. Each command group lives in its own module here."""

from __future__ import annotations

import click

from trubka.cli.backup import backup, restore
from trubka.cli.crm import export, import_, seed, user
from trubka.cli.db import db
from trubka.cli.reconcile import reconcile
from trubka.cli.recordings import recordings
from trubka.cli.reports import reports
from trubka.cli.routing import routing
from trubka.cli.serve import demo, serve
from trubka.cli.telephony import calls, replay


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="trubka")
def main() -> None:
    """Trubka: a call-center CRM for Asterisk."""


main.add_command(replay)
main.add_command(calls)
main.add_command(reconcile)
main.add_command(db)
main.add_command(backup)
main.add_command(restore)
main.add_command(routing)
main.add_command(recordings)
main.add_command(user)
main.add_command(import_)
main.add_command(export)
main.add_command(seed)
main.add_command(reports)
main.add_command(serve)
main.add_command(demo)
