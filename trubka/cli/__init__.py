"""The `trubka` command. Each command group lives in its own module here."""

from __future__ import annotations

import click

from trubka.cli.db import db
from trubka.cli.serve import demo, serve
from trubka.cli.telephony import calls, replay


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="trubka")
def main() -> None:
    """Trubka: a call-center CRM for Asterisk."""


main.add_command(replay)
main.add_command(calls)
main.add_command(db)
main.add_command(serve)
main.add_command(demo)
