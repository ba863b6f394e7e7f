"""Linking calls to contacts and companies by number.

A call belongs to whoever owns the customer's number: the caller for inbound calls, the
called number for outbound ones (internal calls belong to nobody). Contact phones win
over company phones; when several contacts share a number, the oldest contact wins (a
stable, documented choice). A call linked to a contact also carries the contact's
company, so a company's timeline shows its contacts' calls too.

Two entry points:
- `link_records` — run for every `CallsStored` batch: new calls get their contact.
- `relink_numbers` — after contacts or companies gain, lose or change numbers (and after
  a contact changes company or is deleted): every call with those numbers is linked
  anew, including calls that arrived before the contact existed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm.call_records import CallRow
from crm.database import Database
from crm.models import Contact, Phone
from kernel.call_record import CallRecord, Direction

CALLS: Table = CallRow.__table__  # type: ignore[assignment]  # Core table: executemany UPDATEs with per-row WHERE values
Owner = tuple[int | None, int | None]  # (contact_id, company_id)
_CHUNK = 500


def _chunks(items: Sequence[str], size: int = _CHUNK) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def resolve_numbers(session: AsyncSession, numbers: Iterable[str]) -> dict[str, Owner]:
    """For each number that belongs to someone: (contact_id, company_id)."""
    wanted = sorted({n for n in numbers if n})
    result: dict[str, Owner] = {}
    for chunk in _chunks(wanted):
        by_contact = dict(
            (
                await session.execute(
                    select(Phone.number, func.min(Phone.contact_id))
                    .where(Phone.number.in_(chunk), Phone.contact_id.is_not(None))
                    .group_by(Phone.number)
                )
            ).all()
        )
        contact_company: dict[int, int | None] = {}
        if by_contact:
            contact_company = dict(
                (
                    await session.execute(
                        select(Contact.id, Contact.company_id).where(
                            Contact.id.in_(set(by_contact.values()))
                        )
                    )
                ).all()
            )
        rest = [n for n in chunk if n not in by_contact]
        by_company: dict[str, int | None] = {}
        if rest:
            by_company = dict(
                (
                    await session.execute(
                        select(Phone.number, func.min(Phone.company_id))
                        .where(Phone.number.in_(rest), Phone.company_id.is_not(None))
                        .group_by(Phone.number)
                    )
                ).all()
            )
        for number, contact_id in by_contact.items():
            if contact_id is not None:
                result[number] = (contact_id, contact_company.get(contact_id))
        for number, company_id in by_company.items():
            result[number] = (None, company_id)
    return result


def customer_number(direction: str, caller: str | None, called: str | None) -> str | None:
    if direction == Direction.INBOUND:
        return caller
    if direction == Direction.OUTBOUND:
        return called
    return None


async def _numbers_with_calls(session: AsyncSession, numbers: Sequence[str]) -> list[str]:
    """The numbers that have any inbound or outbound call (most new numbers have none)."""
    found: set[str] = set()
    c = CALLS.c
    for chunk in _chunks(numbers):
        for direction, column in (
            (Direction.INBOUND, c.caller_number),
            (Direction.OUTBOUND, c.called_number),
        ):
            rows = await session.execute(
                select(column).where(column.in_(chunk), c.direction == direction.value).distinct()
            )
            found.update(r[0] for r in rows)
    return sorted(found)


async def relink_numbers(session: AsyncSession, numbers: Iterable[str]) -> None:
    """Link (or unlink) every call whose customer number is one of `numbers`."""
    wanted = sorted({n for n in numbers if n})
    if not wanted:
        return
    wanted = await _numbers_with_calls(session, wanted)
    if not wanted:
        return
    owners = await resolve_numbers(session, wanted)
    params = [
        {"n": n, "c": owners.get(n, (None, None))[0], "co": owners.get(n, (None, None))[1]}
        for n in wanted
    ]
    c = CALLS.c
    for direction, column in (
        (Direction.INBOUND, c.caller_number),
        (Direction.OUTBOUND, c.called_number),
    ):
        statement = (
            update(CALLS)
            .where(
                c.direction == direction.value,
                column == bindparam("n"),
                c.contact_id.is_distinct_from(bindparam("c"))
                | c.company_id.is_distinct_from(bindparam("co")),
            )
            .values(contact_id=bindparam("c"), company_id=bindparam("co"))
        )
        for start in range(0, len(params), _CHUNK):
            await session.execute(statement, params[start : start + _CHUNK])


async def link_records(
    db: Database,
    records: Sequence[CallRecord],
    customers: dict[tuple[str, str], tuple[int | None, int | None]] | None = None,
) -> int:
    """Set `contact_id`/`company_id` on freshly stored calls; returns how many got linked.
    `customers`, when given, gets every call's (contact_id, company_id) as linked now
    (a number of no known customer keeps the record's own `contact_id`)."""
    wanted = {
        (r.linkedid, r.pbx): number
        for r in records
        if (number := customer_number(r.direction.value, r.caller_number, r.called_number))
    }
    params: list[dict[str, Any]] = []
    if wanted:
        async with db.transaction() as session:
            owners = await resolve_numbers(session, wanted.values())
            params = [
                {"l": linkedid, "p": pbx, "c": owners[number][0], "co": owners[number][1]}
                for (linkedid, pbx), number in wanted.items()
                if number in owners
            ]
            if params:
                await session.execute(
                    update(CALLS)
                    .where((CALLS.c.linkedid == bindparam("l")) & (CALLS.c.pbx == bindparam("p")))
                    .values(contact_id=bindparam("c"), company_id=bindparam("co")),
                    params,
                )
    if customers is not None:  # after the commit: a failed linking leaves it empty
        customers.update({(r.linkedid, r.pbx): (r.contact_id, None) for r in records})
        customers.update({(row["l"], row["p"]): (row["c"], row["co"]) for row in params})
    return len(params)
