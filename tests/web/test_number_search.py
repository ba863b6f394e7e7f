"""Search by any contiguous run of a number's digits, typed the way people type it: with
or without 8 / +7, blanks, brackets, dashes (over the API and the contacts page, on
SQLite's FTS5 trigram table and PostgreSQL's pg_trgm index)."""

from __future__ import annotations

from pathlib import Path

from crm.access import Actor
from crm.csv_import import ContactImporter
from crm.schemas import CompanyCreate, ContactCreate
from tests.web.conftest import Api

TYPED = ["8 916 555", "+7 916 555", "916 555", "8 (916) 555-0", "8916555", "5550", "7916555012"]


async def test_a_number_is_found_by_its_start_or_any_run_of_its_digits(api: Api) -> None:
    crm = api.crm
    wanted = await crm.contacts.create(
        ContactCreate(name="Искомый Клиент", phones=["+79165550123"]), Actor.system()
    )
    await crm.contacts.create(
        ContactCreate(name="Другой Клиент", phones=["+74957771122"]), Actor.system()
    )
    company = await crm.companies.create(
        CompanyCreate(name="ООО Девятьсот", phones=["+7 (916) 555-99-00"]), Actor.system()
    )
    async with api.signed_in("ivan", "supervisor") as (client, _):
        for query in TYPED:
            reply = await client.get("/api/search", params={"q": query})
            assert reply.status_code == 200, reply.text
            found = reply.json()
            assert [c["id"] for c in found["contacts"]] == [wanted["id"]], (query, found)
            page = await client.get("/contacts", params={"q": query})
            assert "Искомый Клиент" in page.text and "Другой Клиент" not in page.text, query
        companies = (await client.get("/api/search", params={"q": "8 916 555"})).json()
        assert [c["id"] for c in companies["companies"]] == [company["id"]]
        for query in ("8 916 556", "916 5551", "777 555", "0123 4"):
            found = (await client.get("/api/search", params={"q": query})).json()
            assert found["contacts"] == [], (query, found)
        # the digits are data: nothing but digits reaches the index
        odd = await client.get("/api/search", params={"q": '916" OR "555'})
        assert odd.status_code == 200


async def test_a_changed_or_deleted_number_leaves_the_index(api: Api) -> None:
    crm = api.crm
    made = await crm.contacts.create(
        ContactCreate(name="Меняет Номер", phones=["+79165550123"]), Actor.system()
    )
    async with api.signed_in("olga", "supervisor") as (client, _):
        edit = {"version": made["version"], "phones": ["+74951112233"]}
        assert (await client.patch(f"/api/contacts/{made['id']}", json=edit)).status_code == 200
        assert (await client.get("/api/search", params={"q": "916 555"})).json()["contacts"] == []
        found = (await client.get("/api/search", params={"q": "8 495 111"})).json()["contacts"]
        assert [c["id"] for c in found] == [made["id"]]
        assert (await client.delete(f"/api/contacts/{made['id']}")).status_code == 204
        assert (await client.get("/api/search", params={"q": "495 111"})).json()["contacts"] == []


async def test_imported_numbers_are_found_by_a_run_and_the_index_keeps_up_after(
    api: Api, tmp_path: Path
) -> None:
    """An import feeds the number index in one statement (its insert trigger is dropped
    meanwhile, on SQLite) and puts the trigger back."""
    await api.crm.contacts.create(
        ContactCreate(name="До импорта", phones=["+74991112233"]), Actor.system()
    )
    source = tmp_path / "in.csv"
    source.write_text(
        "name;phone\nИз файла;8 (916) 555-01-23\nЕщё один;+7 903 444-55-66\n", "utf-8"
    )
    report = await ContactImporter(api.services.db).run(source)
    assert report.created == 2 and report.rejected == []
    await api.crm.contacts.create(
        ContactCreate(name="После импорта", phones=["+79265550777"]), Actor.system()
    )
    async with api.signed_in("ivan", "supervisor") as (client, _):
        for query, names in (
            ("916 555", ["Из файла"]),
            ("8 903 444", ["Ещё один"]),
            ("499 111", ["До импорта"]),
            ("555 07", ["После импорта"]),
            ("555", ["После импорта", "Из файла"]),
        ):
            found = (await client.get("/api/search", params={"q": query})).json()["contacts"]
            assert [c["name"] for c in found] == names, (query, found)
