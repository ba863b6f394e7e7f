"""Number search by a middle run of digits gives the same matches in the same order on
SQLite (FTS5 trigram table, newest first) and PostgreSQL (the newest phones first, then
the trigram index), also when more phones match than a page holds; and the phone
lookup finds the number itself first, then the numbers ending with its digits."""

from __future__ import annotations

from typing import Any

import pytest

from crm.access import Actor
from crm.companies import CompanyService
from crm.contacts import ContactService
from crm.database import Database
from crm.schemas import CompanyCreate, ContactCreate
from crm.search import SearchService
from tests.crm.kit_builders import SYSTEM


async def _numbers_found(search: SearchService, query: str, limit: int) -> list[str]:
    found = await search.search(query, Actor.system(), limit=limit)
    return [
        phone["number"] for row in found["contacts"] + found["companies"] for phone in row["phones"]
    ]


async def test_a_middle_run_finds_the_newest_numbers_first_in_either_step(db: Database) -> None:
    contacts = ContactService(db)
    made = []
    for index, code in enumerate(("916", "903", "926", "905", "915", "999", "985", "977")):
        # the run `555 01` in the middle of each, then numbers that do not hold it
        number = f"+7{code}55501{index:02d}"
        await contacts.create(ContactCreate(name=f"Клиент {index}", phones=[number]), SYSTEM)
        made.append(number)
        await contacts.create(
            ContactCreate(name=f"Другой {index}", phones=[f"+7{code}4440{index}{index}{index}"]),
            SYSTEM,
        )
    company = await CompanyService(db).create(
        CompanyCreate(name="ООО Пятьсот", phones=["+74955550177"]), SYSTEM
    )
    newest_first = made[::-1]
    search = SearchService(db)
    for window in (1, 7, 1000):
        # PostgreSQL asks for 4 phones a contact: with a window of 1 the newest phones
        # hold one match and the index finds the rest; with 7 they hold exactly the 4
        # newest matches (a page of 1), with 1000 all of them
        search.recent_phones = window
        assert await _numbers_found(search, "555 01", 20) == [*newest_first, "+74955550177"]
        assert await _numbers_found(search, "555 01", 1) == [newest_first[0], "+74955550177"]
        page = await search.search("555-01", limit=3)
        assert [c["name"] for c in page["contacts"]] == ["Клиент 7", "Клиент 6", "Клиент 5"]
        assert [c["id"] for c in page["companies"]] == [company["id"]]
        # a leading 8 is also read as the country code: `8 905 555` is `+7 905 555…`
        assert await _numbers_found(search, "8 905 555", 20) == ["+79055550103"]
        assert await _numbers_found(search, "915 5550", 20) == ["+79155550104"]
        assert await _numbers_found(search, "4440", 2) == ["+79774440777", "+79854440666"]
        assert await _numbers_found(search, "555 02", 20) == []


async def test_the_phone_lookup_finds_the_number_then_the_numbers_ending_with_it(
    db: Database,
) -> None:
    contacts = ContactService(db)
    ids = {}
    for name, phone in (
        ("Старый", "+79161110042"),
        ("Точный", "+79261110042"),
        ("Новый", "+79031110042"),
        ("Девятки", "+79039999999"),
    ):
        ids[name] = (await contacts.create(ContactCreate(name=name, phones=[phone]), SYSTEM))["id"]
    await CompanyService(db).create(
        CompanyCreate(name="ООО Тот Же Конец", phones=["+74951110042"]), SYSTEM
    )
    search = SearchService(db)
    try:
        found = await search.contact_ids_by_number("8 (926) 111-00-42")
        assert found == [ids["Точный"]]
        ending = await search.contact_ids_by_number("111-00-42")
        assert sorted(ending) == sorted([ids["Старый"], ids["Точный"], ids["Новый"]])
        assert await search.contact_ids_by_number("+7 926 111-00-42", limit=1) == [ids["Точный"]]
        assert len(await search.contact_ids_by_number("0042", limit=2)) == 2
        assert await search.contact_ids_by_number("99-99") == [ids["Девятки"]]  # no upper bound
        assert await search.contact_ids_by_number("42") == []  # too short for an ending
        assert await search.contact_ids_by_number("нет цифр") == []
    finally:
        search.reader.close()


@pytest.mark.postgres
async def test_a_phone_lookup_sends_postgresql_one_statement(db: Database) -> None:
    """One statement for the number and its ending, and no reset of the connection after
    it (asyncpg's pool sends one unless told otherwise): one round trip a lookup."""
    if db.dialect != "postgresql":
        pytest.skip("SQLite's reader has no round trips")
    wanted = await ContactService(db).create(
        ContactCreate(name="Один", phones=["+79161234567"]), SYSTEM
    )
    search = SearchService(db)
    assert await search.contact_ids_by_number("8 (916) 123-45-67") == [wanted["id"]]
    sent: list[str] = []

    def log(query: Any) -> None:
        sent.append(query.query)

    pool = await db.raw_pool()
    async with pool.acquire() as connection:
        assert pool.get_size() == 1  # sequential reads share this one connection
        connection.add_query_logger(log)
    sent.clear()
    assert await search.contact_ids_by_number("916 123-45-67") == [wanted["id"]]
    assert await search.contact_ids_by_number("45-67") == [wanted["id"]]
    assert len(sent) == 2 and all("UNION ALL" in query for query in sent), sent
