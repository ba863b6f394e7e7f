"""Calls are linked to contacts and companies by number, before and after they exist."""

from __future__ import annotations

from crm.call_records import CallStore
from crm.companies import CompanyService
from crm.contacts import ContactService
from crm.database import Database
from crm.linking import link_records
from crm.schemas import CompanyCreate, ContactCreate, ContactUpdate
from telephony.records import Direction
from tests.crm.kit_builders import SYSTEM, call, store_calls


async def test_creating_a_contact_links_its_past_calls(db: Database) -> None:
    past_in = call("+74951234567", ago=86400)
    past_out = call("+74951234567", direction=Direction.OUTBOUND, ago=7200)
    stranger = call("+74957654321")
    await store_calls(db, past_in, past_out, stranger)
    contact = await ContactService(db).create(
        ContactCreate(name="Иван", phones=["8 (495) 123-45-67"]), SYSTEM
    )
    store = CallStore(db)
    assert (await store.get(past_in.linkedid)).contact_id == contact["id"]  # type: ignore[union-attr]
    assert (await store.get(past_out.linkedid)).contact_id == contact["id"]  # type: ignore[union-attr]
    assert (await store.get(stranger.linkedid)).contact_id is None  # type: ignore[union-attr]


async def test_adding_and_removing_a_phone_relinks(db: Database) -> None:
    contacts = ContactService(db)
    contact = await contacts.create(ContactCreate(name="Пётр", phones=["+74951111111"]), SYSTEM)
    old = call("+74952222222", ago=500)
    await store_calls(db, old)
    updated = await contacts.update(
        contact["id"],
        ContactUpdate(version=contact["version"], phones=["+74951111111", "84952222222"]),
        SYSTEM,
    )
    store = CallStore(db)
    assert (await store.get(old.linkedid)).contact_id == contact["id"]  # type: ignore[union-attr]
    await contacts.update(
        contact["id"], ContactUpdate(version=updated["version"], phones=["+74951111111"]), SYSTEM
    )
    assert (await store.get(old.linkedid)).contact_id is None  # type: ignore[union-attr]


async def test_contact_phone_wins_over_company_phone_and_company_is_carried(db: Database) -> None:
    company = await CompanyService(db).create(
        CompanyCreate(name="ООО Ромашка", phones=["+74953333333"]), SYSTEM
    )
    switchboard = call("+74953333333", ago=900)
    await store_calls(db, switchboard)
    await link_records(db, [switchboard])
    store = CallStore(db)
    row = await store.get(switchboard.linkedid)
    assert row is not None and row.contact_id is None and row.company_id == company["id"]
    contact = await ContactService(db).create(
        ContactCreate(name="Секретарь", phones=["+7 495 333-33-33"], company_id=company["id"]),
        SYSTEM,
    )
    row = await store.get(switchboard.linkedid)
    assert row is not None and row.contact_id == contact["id"] and row.company_id == company["id"]


async def test_after_save_hook_links_new_calls(db: Database) -> None:
    contact = await ContactService(db).create(
        ContactCreate(name="Anna", phones=["+442079460000"]), SYSTEM
    )
    fresh = call("+442079460000", ago=10)
    internal = call("101", direction=Direction.INTERNAL, ago=5)
    await store_calls(db, fresh, internal)
    assert await link_records(db, [fresh, internal]) == 1
    assert (await CallStore(db).get(fresh.linkedid)).contact_id == contact["id"]  # type: ignore[union-attr]


async def test_deleting_a_contact_unlinks_and_falls_back_to_the_other_owner(db: Database) -> None:
    contacts = ContactService(db)
    first = await contacts.create(ContactCreate(name="First", phones=["+74954444444"]), SYSTEM)
    second = await contacts.create(ContactCreate(name="Second", phones=["+74954444444"]), SYSTEM)
    shared = call("+74954444444", ago=100)
    await store_calls(db, shared)
    await link_records(db, [shared])
    store = CallStore(db)
    assert (await store.get(shared.linkedid)).contact_id == first["id"]  # type: ignore[union-attr]  # oldest wins
    await contacts.delete(first["id"], SYSTEM)
    assert (await store.get(shared.linkedid)).contact_id == second["id"]  # type: ignore[union-attr]
