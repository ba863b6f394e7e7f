""" "My work": an agent's open tasks and callbacks by due time, their calls today and the
missed calls of the customers they own — `GET /api/my-work` (both databases) and the
`/my` page (ru/en)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from crm.access import Actor
from crm.my_work import local_day_bounds
from crm.schemas import ContactCreate, TaskCreate, TaskUpdate
from tests.supervisor.kit_dataset import MSK, call
from tests.web.conftest import PASSWORD, Api

ANNA = "Local/101@agents"


def local(moment: datetime) -> str:
    return moment.astimezone(MSK).replace(tzinfo=None).isoformat(timespec="seconds")


async def seed(api: Api, language: str = "ru") -> dict[str, int]:
    crm, system = api.crm, Actor.system()
    anna = await crm.users.create(
        login="anna",
        name="Anna",
        role="agent",
        password=PASSWORD,
        interfaces=(ANNA,),
        language=language,
    )
    boris = await api.user("boris", interfaces=("Local/102@agents",))
    mine = await crm.contacts.create(
        ContactCreate(name="Иван <b>Мой</b>", phones=["+74951110000"], owner_id=anna.id), system
    )
    theirs = await crm.contacts.create(
        ContactCreate(name="Чужой", phones=["+74952220000"], owner_id=boris.id), system
    )
    now = datetime.now(UTC)
    start, end = local_day_bounds(now, MSK)
    earlier = max(start + timedelta(seconds=5), now - timedelta(minutes=5))
    tasks = crm.tasks

    async def task(title: str, due: datetime | None, assignee: int, kind: str = "other") -> int:
        data = TaskCreate(
            title=title, due_at=due, assignee_id=assignee, contact_id=mine["id"], kind=kind
        )
        return int((await tasks.create(data, system))["id"])

    ids = {
        "overdue": await task(
            "Перезвонить вчерашнему", now - timedelta(hours=30), anna.id, "call_back"
        ),
        "today": await task("Отправить КП", end - timedelta(seconds=1), anna.id),
        "later": await task("Встреча", end + timedelta(days=3), anna.id, "meeting"),
        "undated": await task("Без срока", None, anna.id),
        "boris": await task("Задача Бориса", now - timedelta(hours=1), boris.id),
        "anna": anna.id,
        "mine": int(mine["id"]),
    }
    done = await task("Сделано", now - timedelta(hours=2), anna.id)
    version = (await tasks.get(done))["version"]
    await tasks.update(done, TaskUpdate(version=version, status="done"), system)
    records = [
        replace(call(1, local(earlier), queue="support", agent="101", disposition="answered",
                     hold=3, talk=60), contact_id=mine["id"]),
        replace(call(2, local(earlier), queue="support", agent="102", disposition="answered",
                     hold=3, talk=60), contact_id=theirs["id"]),
        replace(call(3, local(earlier), queue="support", agent=None, disposition="abandoned",
                     hold=30), contact_id=mine["id"]),
        replace(call(4, local(now - timedelta(days=3)), queue="support", agent=None,
                     disposition="abandoned", hold=30), contact_id=mine["id"]),
        replace(call(5, local(now - timedelta(days=20)), queue="support", agent=None,
                     disposition="abandoned", hold=30), contact_id=mine["id"]),
        replace(call(6, local(earlier), queue="support", agent=None, disposition="abandoned",
                     hold=30), contact_id=theirs["id"]),
        call(7, local(start - timedelta(hours=2)), queue="support", agent="101",
             disposition="answered", hold=3, talk=30),  # yesterday
    ]  # fmt: skip
    assert await api.services.calls.save(records) == len(records)
    return ids


async def test_my_work_api(api: Api) -> None:
    ids = await seed(api)
    async with api.client() as client:
        await client.post("/api/session", json={"login": "anna", "password": PASSWORD})
        response = await client.get("/api/my-work")
    assert response.status_code == 200, response.text
    work = response.json()
    tasks = work["tasks"]
    assert [t["id"] for t in tasks["overdue"]] == [ids["overdue"]]
    assert tasks["overdue"][0]["kind"] == "call_back"
    assert tasks["overdue"][0]["contact"] == {"id": ids["mine"], "name": "Иван <b>Мой</b>"}
    assert [t["id"] for t in tasks["today"]] == [ids["today"]]
    assert [t["id"] for t in tasks["later"]] == [ids["later"], ids["undated"]]
    # today's calls: the one Anna answered (not Boris's, not yesterday's)
    assert [c["linkedid"] for c in work["calls_today"]] == ["1700000000.1"]
    assert work["calls_today"][0]["contact"]["id"] == ids["mine"]
    # missed calls of Anna's customers in the last 7 days, newest first
    assert [c["linkedid"] for c in work["missed"]] == ["1700000000.3", "1700000000.4"]
    assert work["missed_days"] == 7


async def test_my_work_needs_a_sign_in_and_is_in_openapi(api: Api) -> None:
    async with api.client() as client:
        assert (await client.get("/api/my-work")).status_code == 401
        spec = (await client.get("/api/openapi.json")).json()
    ref = spec["paths"]["/api/my-work"]["get"]["responses"]["200"]["content"]
    assert ref["application/json"]["schema"]["$ref"].endswith("/MyWorkView")


WORDS = {
    "ru": ("Моя работа", "Просрочено", "Мои звонки сегодня", "Пропущенные звонки моих клиентов"),
    "en": ("My work", "Overdue", "My calls today", "Missed calls of my customers"),
}


@pytest.mark.parametrize("lang", ["ru", "en"])
async def test_my_work_page_in_russian_and_english(api: Api, lang: str) -> None:
    ids = await seed(api, lang)
    async with api.client() as client:
        await client.post("/api/session", json={"login": "anna", "password": PASSWORD})
        page = (await client.get("/my")).text
        panel = (await client.get("/")).text
    assert '<a href="/my"' in panel  # in the navigation
    for word in WORDS[lang]:
        assert word in page
    overdue = page[page.index('id="overdue"') : page.index('id="due-today"')]
    assert "Перезвонить вчерашнему" in overdue
    assert f'href="/contacts/{ids["mine"]}">Иван &lt;b&gt;Мой&lt;/b&gt;</a>' in overdue
    calls = page[page.index('id="calls-today"') : page.index('id="missed-calls"')]
    assert calls.count('href="/calls/') == 1
    missed = page[page.index('id="missed-calls"') :]
    assert missed.count('href="/calls/') == 2
    assert "Задача Бориса" not in page and "Чужой" not in page
