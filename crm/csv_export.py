"""Exporting contacts to CSV (`trubka export contacts FILE.csv`), readable by the importer.

Columns: name, phone (valid numbers in E.164, `; `-separated), phone_unverified
(numbers that do not parse, as entered), email, company, owner (login), tags, then one
`custom.KEY` column per custom field in use. UTF-8 with a BOM (Excel opens it), `;`
separated by default. Importing the file into an empty database and exporting again
gives the same file. Text a spreadsheet would run as a formula (`=`, `+`, `-`, `@` …)
is escaped with an apostrophe, which the importer removes (`crm.csv_cells`);
`escape_formulas=False` writes such text as it is (for programs, not spreadsheets).
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from sqlalchemy import select

from crm.csv_cells import escape_cell
from crm.database import Database
from crm.models import Company, Contact, ContactTag, Phone, User

HEADER = ["name", "phone", "phone_unverified", "email", "company", "owner", "tags"]
CHUNK = 5000


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


async def export_contacts(
    db: Database,
    path: Path,
    *,
    delimiter: str = ";",
    progress: Callable[[int], None] | None = None,
    escape_formulas: bool = True,
) -> int:
    """Write every contact to `path`; returns how many."""

    def safe(row: list[str]) -> list[str]:
        return [escape_cell(cell, formulas=escape_formulas) for cell in row]

    async with db.session() as session:
        custom_keys: dict[str, None] = {}
        last = 0
        while True:
            rows = (
                await session.execute(
                    select(Contact.id, Contact.custom)
                    .where(Contact.id > last)
                    .order_by(Contact.id)
                    .limit(CHUNK)
                )
            ).all()
            if not rows:
                break
            for _, custom in rows:
                for key in custom or {}:
                    custom_keys.setdefault(key, None)
            last = rows[-1][0]
        keys = sorted(custom_keys)
        logins = dict((await session.execute(select(User.id, User.login))).all())
        tmp = path.with_name(path.name + ".part")
        count = 0
        with tmp.open("w", encoding="utf-8-sig", newline="") as out:
            writer = csv.writer(out, delimiter=delimiter)
            writer.writerow(safe(HEADER + [f"custom.{k}" for k in keys]))
            last = 0
            while True:
                contacts = list(
                    (
                        await session.scalars(
                            select(Contact)
                            .where(Contact.id > last)
                            .order_by(Contact.id)
                            .limit(CHUNK)
                        )
                    ).all()
                )
                if not contacts:
                    break
                ids = [c.id for c in contacts]
                phones: dict[int, list[tuple[str, bool]]] = {}
                for contact_id, number, valid in await session.execute(
                    select(Phone.contact_id, Phone.number, Phone.valid)
                    .where(Phone.contact_id.in_(ids))
                    .order_by(Phone.contact_id, Phone.position, Phone.id)
                ):
                    phones.setdefault(cast(int, contact_id), []).append((number, valid))
                tags: dict[int, list[str]] = {}
                for contact_id, tag in await session.execute(
                    select(ContactTag.contact_id, ContactTag.tag)
                    .where(ContactTag.contact_id.in_(ids))
                    .order_by(ContactTag.tag)
                ):
                    tags.setdefault(contact_id, []).append(tag)
                company_ids = {c.company_id for c in contacts if c.company_id}
                companies = (
                    dict(
                        (
                            await session.execute(
                                select(Company.id, Company.name).where(Company.id.in_(company_ids))
                            )
                        ).all()
                    )
                    if company_ids
                    else {}
                )
                for c in contacts:
                    numbers = phones.get(c.id, [])
                    writer.writerow(
                        safe(
                            [
                                c.name,
                                "; ".join(n for n, valid in numbers if valid),
                                "; ".join(n for n, valid in numbers if not valid),
                                "; ".join(c.emails or []),
                                companies.get(c.company_id, "") if c.company_id else "",
                                logins.get(c.owner_id, "") if c.owner_id else "",
                                "; ".join(tags.get(c.id, [])),
                                *[_cell((c.custom or {}).get(k)) for k in keys],
                            ]
                        )
                    )
                count += len(contacts)
                if progress is not None:
                    progress(len(contacts))
                last = contacts[-1].id
                session.expunge_all()
        tmp.replace(path)
    return count
