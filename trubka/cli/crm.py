"""`trubka user add`, `trubka import contacts`, `trubka export contacts`, `trubka seed`."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click

from crm.database import Database
from crm.errors import CrmError


def _no_pbx() -> None:
    return None


def _cli_actor() -> Any:
    import getpass

    from supervisor.audit import Actor

    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    return Actor(user_id=None, login="cli", name=f"command line ({who})", role="admin")


@click.group()
def user() -> None:
    """Users: agents, supervisors, admins."""


@user.command("add")
@click.option("--role", type=click.Choice(["agent", "supervisor", "admin"]), required=True)
@click.option("--name", required=True, help='Display name, e.g. "Иван Петров".')
@click.option("--login", required=True)
@click.option("--password", required=True, help="At least 8 characters.")
@click.option(
    "--interface",
    "interfaces",
    multiple=True,
    help="Dialable interface (PJSIP/101, Local/101@agents/n); repeat for several.",
)
@click.option("--queue", "queues", multiple=True, help="Queue membership; repeat for several.")
@click.option("--language", type=click.Choice(["ru", "en"]), default="ru", show_default=True)
def user_add(
    role: str,
    name: str,
    login: str,
    password: str,
    interfaces: tuple[str, ...],
    queues: tuple[str, ...],
    language: str,
) -> None:
    """Add a user."""
    from trubka.cli.common import run_with_db

    async def work(db: Database) -> Any:
        from crm.queue_members import QueueMemberStore
        from crm.users import UserService
        from supervisor.audit import AuditLog
        from supervisor.people import People
        from supervisor.queue_admin import QueueAdmin

        # The same audited path as the admin pages; Asterisk learns the user's queues
        # when the running Trubka next connects to it.
        users = UserService(db)
        audit = AuditLog(db)
        people = People(users, audit, QueueAdmin(QueueMemberStore(db), users, audit, None, _no_pbx))
        info, _ = await people.create(
            _cli_actor(),
            login=login,
            name=name,
            role=role,
            password=password,
            interfaces=interfaces,
            queues=queues,
            language=language,
        )
        return info

    try:
        info = run_with_db(work)
    except CrmError as exc:
        raise click.ClickException(exc.message) from exc
    extra = f", interfaces {', '.join(info.interfaces)}" if info.interfaces else ""
    click.echo(f"user {info.login} ({info.role.value}) added as #{info.id}{extra}")


@click.group("import")
def import_() -> None:
    """Import data."""


@import_.command("contacts")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--map", "mapping", default=None, help='Column mapping, e.g. "Телефон=phone,ФИО=name".'
)
@click.option("--dry-run", is_flag=True, help="Check everything, write nothing.")
@click.option(
    "--duplicates",
    type=click.Choice(["merge", "report"]),
    default="merge",
    show_default=True,
    help="A row whose number belongs to a contact: merge into it, or reject it.",
)
@click.option(
    "--encoding",
    type=click.Choice(["utf-8", "utf-8-sig", "cp1251"]),
    default=None,
    help="Default: detected.",
)
def import_contacts(
    file: Path, mapping: str | None, dry_run: bool, duplicates: str, encoding: str | None
) -> None:
    """Import contacts from a CSV file (UTF-8 or cp1251, `;` or `,` separated)."""
    from crm.csv_import import ContactImporter, parse_map
    from trubka.cli.common import run_with_db, settings_or_exit

    settings = settings_or_exit()
    try:
        columns = parse_map(mapping)
    except CrmError as exc:
        raise click.ClickException(exc.message) from exc
    size = file.stat().st_size

    async def work(db: Database) -> Any:
        with click.progressbar(length=size, label="importing", file=sys.stderr) as bar:
            return await ContactImporter(db, region=settings.default_region).run(
                file,
                mapping=columns,
                dry_run=dry_run,
                duplicates=duplicates,
                encoding=encoding,
                progress=bar.update,
            )

    try:
        report = run_with_db(work)
    except CrmError as exc:
        raise click.ClickException(exc.message) from exc
    verb = "would be" if dry_run else "were"
    click.echo(
        f"{report.rows} row(s) read ({report.encoding}, '{report.delimiter}' separated) in "
        f"{report.seconds:.1f}s: "
        f"{report.created} contact(s) {verb} created, {report.merged} merged into existing ones, "
        f"{report.companies_created} new compan{'y' if report.companies_created == 1 else 'ies'}, "
        f"{len(report.rejected)} rejected."
    )
    if dry_run:
        click.echo("dry run: nothing was written to the database")
    if report.report_path is not None:
        click.echo(f"rejected rows with line numbers and reasons: {report.report_path}")
        for item in report.rejected[:10]:
            click.echo(f"  line {item.line}: {item.reason}", err=True)
        if len(report.rejected) > 10:
            click.echo(f"  … and {len(report.rejected) - 10} more", err=True)


@click.group()
def export() -> None:
    """Export data."""


@export.command("contacts")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--delimiter", type=click.Choice([";", ","]), default=";", show_default=True)
@click.option(
    "--escape-formulas/--no-escape-formulas",
    default=True,
    show_default=True,
    help="Put an apostrophe before text a spreadsheet would run as a formula (= + - @); "
    "the importer reads either file back exactly.",
)
def export_contacts(file: Path, delimiter: str, escape_formulas: bool) -> None:
    """Export every contact to a CSV file that `trubka import contacts` reads back."""
    from crm.csv_export import export_contacts as run_export
    from trubka.cli.common import run_with_db

    async def work(db: Database) -> int:
        return await run_export(db, file, delimiter=delimiter, escape_formulas=escape_formulas)

    count = run_with_db(work)
    click.echo(f"{count} contact(s) written to {file}")


@click.command()
@click.option(
    "--contacts", type=click.IntRange(min=0, max=100_000_000), default=1000, show_default=True
)
@click.option(
    "--calls", type=click.IntRange(min=0, max=1_000_000_000), default=10_000, show_default=True
)
@click.option(
    "--agents",
    type=click.IntRange(min=1, max=900),
    default=10,
    show_default=True,
    help="Agents to create when there are none.",
)
@click.option("--random-seed", type=int, default=None, help="Repeatable data.")
def seed(contacts: int, calls: int, agents: int, random_seed: int | None) -> None:
    """Fill the database with synthetic contacts, companies and call history."""
    from crm.seed import seed as run_seed
    from trubka.cli.common import run_with_db

    last = [time.monotonic()]

    def progress(kind: str, count: int) -> None:
        if time.monotonic() - last[0] > 2:
            last[0] = time.monotonic()
            click.echo(f"  … {kind}: +{count}", err=True)

    async def work(db: Database) -> Any:
        return await run_seed(
            db,
            contacts=contacts,
            calls=calls,
            agents=agents,
            rng_seed=random_seed,
            progress=progress,
        )

    report = run_with_db(work)
    if report.agents_created:
        click.echo(
            f"agents created: {', '.join(report.agents_created)} (password: {report.password})"
        )
    click.echo(
        f"seeded {report.companies} companies, {report.contacts} contacts, {report.calls} calls "
        f"in {report.seconds:.1f}s"
    )
