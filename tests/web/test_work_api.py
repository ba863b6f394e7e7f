"""Deals with pipelines and stage history, tasks, notes and users over HTTP."""

from __future__ import annotations

from tests.web.conftest import PASSWORD, Api


async def test_pipelines_and_deal_stage_history(api: Api) -> None:
    async with (
        api.signed_in("seller") as (agent, me),
        api.signed_in("root", "admin") as (admin, _),
        api.signed_in("other") as (other, _),
    ):
        default = (await agent.get("/api/pipelines")).json()["items"]
        assert default[0]["name"] == "Продажи" and [s["kind"] for s in default[0]["stages"]][
            -2:
        ] == ["won", "lost"]
        refused = await agent.post(
            "/api/pipelines", json={"name": "B2B", "stages": [{"name": "Лид"}]}
        )
        assert refused.status_code == 403
        dupe = await admin.post(
            "/api/pipelines", json={"name": "B2B", "stages": [{"name": "A"}, {"name": "a"}]}
        )
        assert dupe.status_code == 422 and dupe.json()["field"] == "stages"
        b2b = (
            await admin.post(
                "/api/pipelines",
                json={
                    "name": "B2B",
                    "stages": [
                        {"name": "Лид"},
                        {"name": "КП"},
                        {"name": "Оплачено", "kind": "won"},
                    ],
                },
            )
        ).json()
        lead, offer, paid = (s["id"] for s in b2b["stages"])
        contact = (await agent.post("/api/contacts", json={"name": "Покупатель"})).json()
        deal = (
            await agent.post(
                "/api/deals",
                json={
                    "title": "Поставка",
                    "pipeline_id": b2b["id"],
                    "contact_id": contact["id"],
                    "amount": "150000.50",
                },
            )
        ).json()
        assert (deal["stage_id"], deal["amount"], deal["owner_id"]) == (lead, "150000.50", me.id)
        wrong_stage = await agent.patch(
            f"/api/deals/{deal['id']}",
            json={"version": deal["version"], "stage_id": default[0]["stages"][0]["id"]},
        )
        assert wrong_stage.status_code == 422 and wrong_stage.json()["field"] == "stage_id"
        moved = (
            await agent.patch(
                f"/api/deals/{deal['id']}", json={"version": deal["version"], "stage_id": offer}
            )
        ).json()
        assert moved["version"] == deal["version"] + 1
        stale = await agent.patch(
            f"/api/deals/{deal['id']}", json={"version": deal["version"], "amount": "1"}
        )
        assert stale.status_code == 409
        not_mine = await other.patch(
            f"/api/deals/{deal['id']}", json={"version": moved["version"], "title": "x"}
        )
        assert not_mine.status_code == 403
        won = (
            await agent.patch(
                f"/api/deals/{deal['id']}",
                json={"version": moved["version"], "stage_id": paid, "amount": "160000"},
            )
        ).json()
        assert won["closed_at"] is not None and won["stage"]["kind"] == "won"
        history = (await agent.get(f"/api/deals/{deal['id']}/history")).json()["items"]
        assert [h["kind"] for h in history] == ["created", "stage", "stage", "amount"]
        assert [h["detail"].get("to") for h in history[1:3]] == ["КП", "Оплачено"]
        # a stage with deals cannot be removed; renaming and reordering can
        removal = await admin.patch(
            f"/api/pipelines/{b2b['id']}",
            json={"version": b2b["version"], "stages": [{"id": lead, "name": "Лид"}]},
        )
        assert removal.status_code == 422 and "move them first" in removal.json()["message"]
        renamed = await admin.patch(
            f"/api/pipelines/{b2b['id']}",
            json={
                "version": b2b["version"],
                "stages": [
                    {"id": paid, "name": "Лид", "kind": "won"},
                    {"id": lead, "name": "Оплачено"},
                    {"id": offer, "name": "КП"},
                ],
            },
        )
        assert renamed.status_code == 200, renamed.text
        assert [s["name"] for s in renamed.json()["stages"]] == ["Лид", "Оплачено", "КП"]
        timeline = (await agent.get(f"/api/contacts/{contact['id']}/timeline")).json()["items"]
        assert [i["kind"] for i in timeline] == ["deal"] * 4
        bad_amount = await agent.post("/api/deals", json={"title": "x", "amount": "-5"})
        assert bad_amount.status_code == 422 and bad_amount.json()["field"] == "amount"


async def test_tasks_rules(api: Api) -> None:
    async with (
        api.signed_in("worker") as (agent, me),
        api.signed_in("boss", "supervisor") as (boss, _),
        api.signed_in("colleague") as (colleague, mate),
    ):
        mine = await agent.post(
            "/api/tasks",
            json={
                "title": "Перезвонить",
                "due_at": "2026-12-01T10:00:00+03:00",
                "kind": "call_back",
            },
        )
        assert mine.status_code == 201 and mine.json()["assignee_id"] == me.id
        assert mine.json()["due_at"] == "2026-12-01T07:00:00.000+00:00"
        naive = await agent.post("/api/tasks", json={"title": "x", "due_at": "2026-12-01T10:00:00"})
        assert naive.status_code == 422 and naive.json()["field"] == "due_at"
        pushy = await agent.post("/api/tasks", json={"title": "Тебе", "assignee_id": mate.id})
        assert pushy.status_code == 403
        assigned = await boss.post(
            "/api/tasks",
            json={"title": "Отправить документы", "kind": "send_documents", "assignee_id": mate.id},
        )
        assert assigned.status_code == 201
        assert [t["title"] for t in (await agent.get("/api/tasks")).json()["items"]] == [
            "Перезвонить"
        ]
        assert len((await boss.get("/api/tasks")).json()["items"]) == 2
        foreign = await agent.patch(
            f"/api/tasks/{assigned.json()['id']}", json={"version": 1, "status": "done"}
        )
        assert foreign.status_code == 403
        done = await colleague.patch(
            f"/api/tasks/{assigned.json()['id']}", json={"version": 1, "status": "done"}
        )
        assert done.status_code == 200 and done.json()["completed_at"] is not None
        assert (await colleague.get("/api/tasks")).json()["items"] == []
        assert len((await colleague.get("/api/tasks?status=done")).json()["items"]) == 1
        unknown_kind = await agent.post("/api/tasks", json={"title": "x", "kind": "dance"})
        assert unknown_kind.status_code == 422 and unknown_kind.json()["field"] == "kind"


async def test_notes_belong_to_their_author(api: Api) -> None:
    async with api.signed_in("author") as (author, _), api.signed_in("reader") as (reader, _):
        company = (
            await author.post(
                "/api/companies", json={"name": "ООО Заметка", "phones": ["+74951234000"]}
            )
        ).json()
        note = (
            await author.post(
                "/api/notes", json={"company_id": company["id"], "body": "<b>важно</b>"}
            )
        ).json()
        assert note["body"] == "<b>важно</b>"
        both = await author.post(
            "/api/notes", json={"company_id": company["id"], "contact_id": 1, "body": "x"}
        )
        assert both.status_code == 422
        assert (
            await reader.patch(f"/api/notes/{note['id']}", json={"version": 1, "body": "hack"})
        ).status_code == 403
        assert (await reader.delete(f"/api/notes/{note['id']}")).status_code == 403
        edited = await author.patch(
            f"/api/notes/{note['id']}", json={"version": 1, "body": "исправлено"}
        )
        assert edited.status_code == 200 and edited.json()["version"] == 2
        listed = (await reader.get(f"/api/notes?company_id={company['id']}")).json()["items"]
        assert [n["body"] for n in listed] == ["исправлено"]
        timeline = (await reader.get(f"/api/companies/{company['id']}/timeline")).json()["items"]
        assert [i["kind"] for i in timeline] == ["note"]
        oversized = await author.post(
            "/api/notes", json={"company_id": company["id"], "body": "я" * 10_001}
        )
        assert oversized.status_code == 422 and oversized.json()["field"] == "body"


async def test_users_api(api: Api) -> None:
    async with api.signed_in("adm", "admin") as (admin, _), api.signed_in("ag") as (agent, me):
        listed = (await agent.get("/api/users")).json()["items"]
        others = [u for u in listed if u["id"] != me.id]
        assert others and set(others[0]) == {"id", "name", "role", "active"}
        created = (
            await admin.post(
                "/api/users",
                json={
                    "login": "new",
                    "name": "Новый",
                    "role": "supervisor",
                    "password": "long password",
                    "language": "en",
                },
            )
        ).json()
        assert created["language"] == "en"
        unknown = await admin.post(
            "/api/users",
            json={
                "login": "z",
                "name": "Z",
                "role": "agent",
                "password": "long password",
                "admin": True,
            },
        )
        assert unknown.status_code == 422 and unknown.json()["field"] == "admin"
        own = await agent.patch(
            f"/api/users/{me.id}",
            json={
                "version": me.version,
                "language": "en",
                "password": "another password",
                "current_password": PASSWORD,  # one's own password needs the current one
            },
        )
        assert own.status_code == 200
        promote = await agent.patch(
            f"/api/users/{me.id}", json={"version": own.json()["version"], "role": "admin"}
        )
        assert promote.status_code == 403
    async with api.client() as client:
        relogin = await client.post(
            "/api/session", json={"login": "ag", "password": "another password"}
        )
        assert relogin.status_code == 200 and relogin.json()["user"]["language"] == "en"
