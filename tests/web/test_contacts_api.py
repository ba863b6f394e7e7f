"""Contacts and companies over HTTP: normalization, validation, locking, roles, timeline, search."""

from __future__ import annotations

from tests.crm.kit_builders import call, store_calls
from tests.web.conftest import Api


async def test_contact_numbers_are_normalized(api: Api) -> None:
    """(A typed number that is not one is refused: tests/web/test_phone_refusal.py; an
    import keeps it, flagged.)"""
    async with api.signed_in("ivan") as (client, user):
        response = await client.post(
            "/api/contacts",
            json={
                "name": "Иван Петров",
                "phones": [
                    "8 (495) 123-45-67",
                    {"number": "+7 495 1234567", "label": "дубль"},
                    "84951234568",
                ],
                "emails": ["ivan@example.ru"],
                "tags": ["VIP", "vip", " опт "],
                "custom": {"ИНН": "7701234567", "lead": True},
            },
        )
        assert response.status_code == 201, response.text
        contact = response.json()
        assert [p["number"] for p in contact["phones"]] == ["+74951234567", "+74951234568"]
        assert [p["valid"] for p in contact["phones"]] == [True, True]
        assert contact["phones"][1]["raw"] == "84951234568"
        assert contact["tags"] == ["VIP", "опт"]
        assert contact["owner"] == {"id": user.id, "name": "Ivan"}
        assert contact["custom"] == {"ИНН": "7701234567", "lead": True}
        fetched = (await client.get(f"/api/contacts/{contact['id']}")).json()
        assert fetched == contact


async def test_validation_errors_name_the_field(api: Api) -> None:
    async with api.signed_in("olga") as (client, _):
        cases = [
            ({"name": ""}, "name"),
            ({"name": "x" * 256}, "name"),
            ({"name": "A", "nickname": "B"}, "nickname"),
            ({"name": "A", "phones": [{"number": "1" * 65}]}, "phones.0.number"),
            ({"name": "A", "emails": ["not an email"]}, "emails.0"),
            ({"name": "A", "company_id": "abc"}, "company_id"),
            ({"name": "A", "tags": ["t" * 65]}, "tags.0"),
            ({"name": 5}, "name"),
            ({"phones": []}, "name"),
        ]
        for body, field in cases:
            response = await client.post("/api/contacts", json=body)
            assert response.status_code == 422, (body, response.text)
            error = response.json()
            assert error["code"] == "validation_error"
            assert error["field"] == field, (body, error)
        unknown = await client.post("/api/contacts", json={"name": "A", "nickname": "B"})
        assert "unknown field" in unknown.json()["message"]
        missing_company = await client.post("/api/contacts", json={"name": "A", "company_id": 999})
        assert missing_company.status_code == 422
        assert missing_company.json() == {
            "code": "invalid",
            "message": "company 999 does not exist",
            "field": "company_id",
        }
        assert (await client.get("/api/contacts/424242")).json()["code"] == "not_found"
        assert (await client.get("/api/contacts?limit=0")).json()["field"] == "limit"


async def test_second_writer_gets_a_conflict(api: Api) -> None:
    async with (
        api.signed_in("sup", "supervisor") as (first, _),
        api.signed_in("sup2", "supervisor") as (second, _),
    ):
        contact = (await first.post("/api/contacts", json={"name": "Мария"})).json()
        one = await first.patch(
            f"/api/contacts/{contact['id']}",
            json={"version": contact["version"], "name": "Мария И."},
        )
        assert one.status_code == 200 and one.json()["version"] == contact["version"] + 1
        two = await second.patch(
            f"/api/contacts/{contact['id']}",
            json={"version": contact["version"], "name": "Мария П."},
        )
        assert two.status_code == 409
        body = two.json()
        assert body["code"] == "conflict" and body["current_version"] == contact["version"] + 1
        assert (await first.get(f"/api/contacts/{contact['id']}")).json()["name"] == "Мария И."
        missing_version = await second.patch(f"/api/contacts/{contact['id']}", json={"name": "X"})
        assert missing_version.status_code == 422 and missing_version.json()["field"] == "version"


async def test_agents_edit_own_and_shared_records_only(api: Api) -> None:
    async with (
        api.signed_in("a1") as (agent1, u1),
        api.signed_in("a2") as (agent2, u2),
        api.signed_in("boss", "supervisor") as (boss, _),
    ):
        mine = (await agent1.post("/api/contacts", json={"name": "Клиент 1"})).json()
        shared = (
            await agent1.post("/api/contacts", json={"name": "Общий", "owner_id": None})
        ).json()
        assert mine["owner_id"] == u1.id and shared["owner_id"] is None
        # agent2 reads but cannot edit agent1's contact
        seen = (await agent2.get(f"/api/contacts/{mine['id']}")).json()
        assert seen["editable"] is False
        denied = await agent2.patch(
            f"/api/contacts/{mine['id']}", json={"version": 1, "name": "Чужой"}
        )
        assert denied.status_code == 403 and denied.json()["code"] == "forbidden"
        # a shared record: agent2 may edit it and take it, not give it away
        gift = await agent2.patch(
            f"/api/contacts/{shared['id']}", json={"version": 1, "owner_id": u1.id}
        )
        assert gift.status_code == 403 and gift.json()["field"] == "owner_id"
        took = await agent2.patch(
            f"/api/contacts/{shared['id']}", json={"version": 1, "owner_id": u2.id}
        )
        assert took.status_code == 200 and took.json()["owner_id"] == u2.id
        # notes on someone else's contact are fine
        note = await agent2.post(
            "/api/notes", json={"contact_id": mine["id"], "body": "Звонил, просил перезвонить"}
        )
        assert note.status_code == 201
        # only supervisors delete; they edit everything
        assert (await agent1.delete(f"/api/contacts/{mine['id']}")).status_code == 403
        moved = await boss.patch(
            f"/api/contacts/{mine['id']}", json={"version": 1, "owner_id": u2.id}
        )
        assert moved.status_code == 200
        assert (await boss.delete(f"/api/contacts/{mine['id']}")).status_code == 204
        assert (await boss.get(f"/api/contacts/{mine['id']}")).status_code == 404


async def test_timeline_has_calls_from_before_the_contact_newest_first_with_cursor(
    api: Api,
) -> None:
    records = [call("+74997000001", ago=86400 * (10 - i)) for i in range(5)]
    await store_calls(api.services.db, *records)
    async with api.signed_in("tl") as (client, _):
        contact = (
            await client.post(
                "/api/contacts", json={"name": "История", "phones": ["+7 499 700-00-01"]}
            )
        ).json()
        await client.post("/api/notes", json={"contact_id": contact["id"], "body": "note"})
        await client.post("/api/tasks", json={"contact_id": contact["id"], "title": "Перезвонить"})
        await client.post(
            "/api/deals", json={"contact_id": contact["id"], "title": "Сделка", "amount": "10.5"}
        )
        seen = []
        cursor = None
        while True:
            url = f"/api/contacts/{contact['id']}/timeline?limit=3" + (
                f"&before={cursor}" if cursor else ""
            )
            page = (await client.get(url)).json()
            seen.extend(page["items"])
            cursor = page["next"]
            if cursor is None:
                break
        kinds = [item["kind"] for item in seen]
        assert sorted(kinds) == ["call"] * 5 + ["deal", "note", "task"]
        assert kinds[-5:] == ["call"] * 5  # the calls are older than today's notes
        times = [item["at"] for item in seen]
        assert times == sorted(times, reverse=True)
        linkedids = [item["call"]["linkedid"] for item in seen if item["kind"] == "call"]
        assert linkedids == [r.linkedid for r in reversed(records)]
        assert seen[-1]["call"]["recording"] is None
        bad = await client.get(f"/api/contacts/{contact['id']}/timeline?before=garbage")
        assert bad.status_code == 422 and bad.json()["field"] == "before"


async def test_search_by_phone_formats_suffix_name_company_tag(api: Api) -> None:
    async with api.signed_in("sr") as (client, _):
        company = (
            await client.post(
                "/api/companies",
                json={"name": "ООО «Ёлка»", "phones": ["+74951112233"], "tags": ["партнёр"]},
            )
        ).json()
        petrov = (
            await client.post(
                "/api/contacts",
                json={
                    "name": "Пётр Петров",
                    "phones": ["+7 916 555-12-34"],
                    "company_id": company["id"],
                    "tags": ["VIP"],
                },
            )
        ).json()
        smith = (
            await client.post(
                "/api/contacts", json={"name": "John O'Smith", "phones": ["+44 20 7946 0000"]}
            )
        ).json()

        async def names(q: str) -> list[str]:
            response = await client.get("/api/search", params={"q": q})
            assert response.status_code == 200, response.text
            return [c["name"] for c in response.json()["contacts"]]

        for q in ("89165551234", "+7 (916) 555-12-34", "79165551234", "1234", "55-12-34"):
            assert await names(q) == ["Пётр Петров"], q
        for q in ("пет", "ПЕТР", "петр пётр", "ёлк", "елка", "vip"):
            assert await names(q) == ["Пётр Петров"], q
        assert await names("o'smith") == ["John O'Smith"]
        assert await names("john o") == ["John O'Smith"]
        for q in ("%", "' OR 1=1 --", '"', "*", "петр AND", "NEAR(", "_", "\\"):
            result = await names(q)
            assert result in ([], ["Пётр Петров"]), q
        companies = (await client.get("/api/search", params={"q": "партн"})).json()["companies"]
        assert [c["id"] for c in companies] == [company["id"]]
        by_switchboard = (await client.get("/api/search", params={"q": "8 495 111 22 33"})).json()
        assert [c["id"] for c in by_switchboard["companies"]] == [company["id"]]
        empty = await client.get("/api/search", params={"q": ""})
        assert empty.status_code == 422 and empty.json()["field"] == "q"
        assert smith["id"] != petrov["id"]


async def test_card_for_a_number(api: Api) -> None:
    agent = await api.user("card_agent", interfaces=("Local/101@agents/n",))
    await store_calls(api.services.db, call("+74951230000", ago=300))
    async with api.signed_in("card_sup", "supervisor") as (client, _):
        contact = (
            await client.post(
                "/api/contacts",
                json={"name": "Звонящий", "phones": ["84951230000"], "owner_id": agent.id},
            )
        ).json()
        await client.post(
            "/api/tasks",
            json={
                "contact_id": contact["id"],
                "title": "Отправить КП",
                "kind": "send_documents",
                "assignee_id": agent.id,
            },
        )
        card = (await client.get("/api/card", params={"number": "8 (495) 123-00-00"})).json()
        assert card["contact"]["id"] == contact["id"]
        assert card["owner"] == {"id": agent.id, "name": "Card_Agent"}
        assert card["last_calls"][0]["agent"] == {"id": agent.id, "name": "Card_Agent"}
        assert card["last_calls"][0]["recording"] is None
        assert [t["title"] for t in card["open_tasks"]] == ["Отправить КП"]
        unknown = (await client.get("/api/card", params={"number": "+74950000000"})).json()
        assert (
            unknown["contact"] is None
            and unknown["company"] is None
            and unknown["last_calls"] == []
        )
        full = (await client.get(f"/api/contacts/{contact['id']}/card")).json()
        assert [i["kind"] for i in full["timeline"]["items"]] == ["task", "call"]


async def test_openapi_lists_the_api(api: Api) -> None:
    async with api.client() as client:
        schema = (await client.get("/api/openapi.json")).json()
        for path in (
            "/api/contacts",
            "/api/companies/{company_id}/timeline",
            "/api/session",
            "/api/search",
            "/api/deals/{deal_id}/history",
        ):
            assert path in schema["paths"], path
