"""Name search gives the newest matches first, whether the word is common among the
newest contacts or only found in old ones (PostgreSQL looks in two steps)."""

from __future__ import annotations

from crm.contacts import ContactService
from crm.database import Database
from crm.schemas import ContactCreate
from crm.search import SearchService
from tests.crm.kit_builders import SYSTEM


async def test_newest_first_among_the_newest_and_found_among_old_ones(db: Database) -> None:
    contacts = ContactService(db)
    ids = {}
    for name in ("Ёлкина Ольга", "Петров Пётр", "Ёлкин Иван", "Сидоров", "Ёлкина Анна"):
        ids[name] = (await contacts.create(ContactCreate(name=name), SYSTEM))["id"]
    for _ in range(6):  # newer contacts that do not match
        await contacts.create(ContactCreate(name="Смирнов"), SYSTEM)
    search = SearchService(db)
    search.recent_window = 3  # the old matches lie outside the newest rows

    async def names(query: str, limit: int) -> list[str]:
        found = await search.search(query, limit=limit)
        return [contact["name"] for contact in found["contacts"]]

    assert await names("елкин", 2) == ["Ёлкина Анна", "Ёлкин Иван"]
    assert await names("ёлкина", 20) == ["Ёлкина Анна", "Ёлкина Ольга"]
    assert await names("петр", 20) == ["Петров Пётр"]
    assert await names("смирн", 2) == ["Смирнов", "Смирнов"]  # found among the newest
    assert await names("нетакого", 20) == []
