"""The screen-pop card: the same on the worker-thread path (SQLite) and the async path."""

from __future__ import annotations

from sqlalchemy import select

from crm.call_records import CallRow
from crm.companies import CompanyService
from crm.contacts import ContactService
from crm.database import Database
from crm.deals import DealService
from crm.linking import link_records
from crm.notes import NoteService
from crm.schemas import CompanyCreate, ContactCreate, DealCreate, NoteCreate, TaskCreate
from crm.services import CrmServices
from crm.tasks import TaskService
from crm.timeline import call_json, call_select
from tests.crm.kit_builders import SYSTEM, call, store_calls


async def test_card_paths_agree_and_call_json_matches_the_record(db: Database) -> None:
    crm = CrmServices.create(db)
    agent = await crm.users.create(
        login="a101",
        name="Анна",
        role="agent",
        password="long password",
        interfaces=["Local/101@agents/n"],
    )
    company = await CompanyService(db).create(
        CompanyCreate(name="ООО Карта", phones=["+74955550000"]), SYSTEM
    )
    contact = await ContactService(db).create(
        ContactCreate(
            name="Карточкин", phones=["+79165550000"], company_id=company["id"], owner_id=agent.id
        ),
        SYSTEM,
    )
    records = [call("+79165550000", ago=3600 * i) for i in range(1, 8)] + [
        call("+74955550000", ago=90)
    ]
    await store_calls(db, *records)
    await link_records(db, records)
    await NoteService(db).create(NoteCreate(contact_id=contact["id"], body="заметка"), SYSTEM)
    await TaskService(db).create(TaskCreate(contact_id=contact["id"], title="Перезвонить"), SYSTEM)
    await DealService(db).create(
        DealCreate(contact_id=contact["id"], title="Сделка", amount="99.90"), SYSTEM
    )

    agents, _ = await crm.directory.snapshot()
    for number in ("+79165550000", "+74955550000", "+79990000000"):
        threaded = await crm.cards.for_number(number, timeline=5)
        async with db.session() as session:
            direct = await crm.cards._for_number(session, number, 5, agents)
        assert threaded == direct, number
    card = await crm.cards.for_contact(contact["id"], timeline=50)
    assert card["owner"] == {"id": agent.id, "name": "Анна"}
    assert len(card["last_calls"]) == 7 and card["last_calls"][0]["agent"]["name"] == "Анна"
    assert [d["amount"] for d in card["deals"]] == ["99.90"]
    assert [i["kind"] for i in card["timeline"]["items"]][:3] == ["deal", "task", "note"]
    by_company = await crm.cards.for_number("+74955550000")
    assert by_company["contact"] is None and by_company["company"]["id"] == company["id"]
    assert len(by_company["last_calls"]) == 8  # the switchboard call and the contact's calls

    async with db.session() as session:
        orm_rows = (await session.scalars(select(CallRow).order_by(CallRow.id))).all()
        plain_rows = (await session.execute(call_select().order_by(CallRow.id))).all()
    for orm_row, plain in zip(orm_rows, plain_rows, strict=True):
        expected = orm_row.to_json() | {"company_id": orm_row.company_id}
        got = call_json(plain, agents)
        assert {k: v for k, v in got.items() if k not in ("agent", "recording")} == expected


async def test_card_lists_are_the_same_with_any_timeline_size(db: Database) -> None:
    """The card takes its last calls and notes from the timeline's reads when it has one:
    whatever the timeline's size, they are the lists of a card without a timeline."""
    crm = CrmServices.create(db)
    company = await CompanyService(db).create(
        CompanyCreate(name="ООО Лента", phones=["+74955551111"]), SYSTEM
    )
    contact = await ContactService(db).create(
        ContactCreate(name="Лентин", phones=["+79165551111"], company_id=company["id"]), SYSTEM
    )
    records = [call("+79165551111", ago=600 * i) for i in range(1, 13)]
    await store_calls(db, *records)
    await link_records(db, records)
    for i in range(7):
        await NoteService(db).create(NoteCreate(contact_id=contact["id"], body=f"n{i}"), SYSTEM)
        await NoteService(db).create(NoteCreate(company_id=company["id"], body=f"c{i}"), SYSTEM)
    await TaskService(db).create(TaskCreate(contact_id=contact["id"], title="Позвонить"), SYSTEM)

    plain = await crm.cards.for_contact(contact["id"])
    assert "timeline" not in plain
    assert len(plain["last_calls"]) == 10 and [n["body"] for n in plain["notes"]] == [
        "n6",
        "n5",
        "n4",
        "n3",
        "n2",
    ]
    for size in (1, 3, 9, 10, 50):
        card = await crm.cards.for_contact(contact["id"], timeline=size)
        page = await crm.timeline.contact(contact["id"], limit=size)
        assert card.pop("timeline") == page, size
        assert card == plain, size
    by_company = await crm.cards.for_number("+74955551111")
    assert [n["body"] for n in by_company["notes"]] == ["c6", "c5", "c4", "c3", "c2"]
    for size in (2, 50):
        card = await crm.cards.for_number("+74955551111", timeline=size)
        assert card.pop("timeline") == await crm.timeline.company(company["id"], limit=size)
        assert card == by_company, size
