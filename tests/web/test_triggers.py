"""`/api/rules` and `/admin/triggers`: admins only, a refused template names its field in
the admin's language, the dry run of the API, the page in Russian and English with
untrusted values escaped."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from crm.rules.builtin import CALLBACK_NAME, CALLBACK_SAYS
from tests.web.conftest import PASSWORD, Api
from web.rule_texts import BUILTIN_NAME, BUILTIN_SAYS

RULE = {
    "name": "VIP <b>missed</b>",
    "event": "call.missed",
    "conditions": [{"field": "contact_tags", "op": "has", "value": "<script>x</script>"}],
    "actions": [
        {"type": "create_task", "title": "Call {{ contact_name }}", "assignee": ["owner"]},
    ],
}


@asynccontextmanager
async def admin(api: Api, login: str, language: str = "ru") -> AsyncIterator[httpx.AsyncClient]:
    await api.crm.users.create(
        login=login, name=login.title(), role="admin", password=PASSWORD, language=language
    )
    async with api.client() as client:
        answer = await client.post("/api/session", json={"login": login, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        yield client


def token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match is not None
    return match.group(1)


def test_the_built_in_rule_speaks_the_catalogs_words() -> None:
    assert (BUILTIN_NAME, BUILTIN_SAYS) == (CALLBACK_NAME, CALLBACK_SAYS)


async def test_rules_over_the_api_for_admins_only(api: Api) -> None:
    async with api.signed_in("agent") as (client, _user):
        assert (await client.get("/api/rules")).status_code == 403
        assert (await client.post("/api/rules", json=RULE)).status_code == 403
    async with admin(api, "boss") as client:
        created = await client.post("/api/rules", json=RULE)
        assert created.status_code == 201, created.text
        rule = created.json()
        listed = (await client.get("/api/rules")).json()["items"]
        assert [r["builtin"] for r in listed] == ["missed_call_callback", None]
        broken = {**RULE, "actions": [{**RULE["actions"][0], "title": "{{ contact_name"}]}
        refused = await client.post("/api/rules", json=broken)
        assert refused.status_code == 422
        body = refused.json()
        assert body["field"] == "actions.0.title"
        assert body["message"].startswith("Действие 1, заголовок: шаблон не годится")
        english = await client.post("/api/rules", json=broken, headers={"Accept-Language": "en"})
        assert english.json()["message"].startswith("Действие 1")  # the admin's own language
        patched = await client.patch(f"/api/rules/{rule['id']}", json={"enabled": False})
        assert patched.json()["enabled"] is False
        assert patched.json()["version"] == 2
        stale = await client.patch(f"/api/rules/{rule['id']}", json={"name": "x", "version": 1})
        assert stale.status_code == 409
        test = await client.post(
            f"/api/rules/{rule['id']}/test", json={"event": {"contact_id": None}}
        )
        assert test.status_code == 200, test.text
        assert test.json()["matched"] is False
        assert test.json()["conditions"][0]["actual"] == []
        runs = await client.get(f"/api/rules/{rule['id']}/runs")
        assert runs.json() == {"items": []}
        builtin = listed[0]["id"]
        assert (await client.delete(f"/api/rules/{builtin}")).status_code == 422
        assert (await client.delete(f"/api/rules/{rule['id']}")).status_code == 204
        assert (await client.get(f"/api/rules/{rule['id']}")).status_code == 404
        audit = await client.get("/api/audit", params={"target": f"rule:{rule['id']}"})
        assert audit.status_code == 200, audit.text
        entries = audit.json()["entries"]
        assert sorted(e["detail"].split(":")[0] for e in entries) == [
            f"rule {rule['id']} changed",
            f"rule {rule['id']} created",
            f"rule {rule['id']} removed",
        ]
    paths = (await api.client().get("/api/openapi.json")).json()["paths"]
    assert "/api/rules/{rule_id}/test" in paths


async def test_the_triggers_page_in_russian_and_english_escapes_what_admins_typed(
    api: Api,
) -> None:
    async with admin(api, "olga", "ru") as client:
        created = (await client.post("/api/rules", json=RULE)).json()
        page = await client.get("/admin/triggers")
        assert page.status_code == 200, page.text[-3000:]
        html = page.text
        assert "Триггеры" in html and "Пропущенный звонок: задача «перезвонить»" in html
        assert 'href="/admin/triggers"' in html
        assert "VIP &lt;b&gt;missed&lt;/b&gt;" in html and "<b>missed</b>" not in html
        one = await client.get(f"/admin/triggers/{created['id']}")
        assert "&lt;script&gt;x&lt;/script&gt;" in one.text and "<script>x</script>" not in one.text
        assert "Журнал запусков" in one.text
        # a template error comes back on the page, naming the field, the form as typed
        refused = await client.post(
            "/admin/triggers",
            data={
                "csrf_token": token(html),
                "name": "broken",
                "event": "call.missed",
                "conditions": "[]",
                "actions": '[{"type": "notify", "assignee": ["owner"], "text": "{{ oops }"}]',
            },
        )
        assert refused.status_code == 422
        assert "Не сохранено: Действие 1, текст: шаблон не годится" in refused.text
        # the built-in rule: switch off and a due time
        builtin = next(r for r in (await client.get("/api/rules")).json()["items"] if r["builtin"])
        saved = await client.post(
            f"/admin/triggers/{builtin['id']}",
            data={"csrf_token": token(html), "builtin": "1", "due_minutes": "45"},
            follow_redirects=False,
        )
        assert saved.status_code == 303
        after = (await client.get(f"/api/rules/{builtin['id']}")).json()
        assert after["enabled"] is False
        assert after["actions"] == [{"type": "callback_task", "due_minutes": 45}]
    async with admin(api, "ann", "en") as client:
        html = (await client.get("/admin/triggers")).text
        assert "Triggers" in html and "Missed call: a callback task" in html
        assert "Триггеры" not in html
        assert "VIP &lt;b&gt;missed&lt;/b&gt;" in html


async def test_what_a_rule_would_have_done_for_a_past_call(api: Api) -> None:
    from sqlalchemy import func, select

    from crm.access import Actor
    from crm.call_records import CallRow
    from crm.linking import link_records
    from crm.models import Task
    from crm.rules.models import RuleActionKey, RuleEvent
    from crm.schemas import ContactCreate
    from tests.crm.kit_builders import call

    owner = await api.user("owner")
    await api.crm.contacts.create(
        ContactCreate(
            name="Иван", phones=["+79160000001"], owner_id=owner.id, tags=["<script>x</script>"]
        ),
        Actor.system(),
    )
    record = call("+79160000001", answered=False, ago=600)
    await api.services.calls.save([record])
    await link_records(api.services.db, [record])
    async with api.services.db.session() as session:
        call_id = await session.scalar(
            select(CallRow.id).where(CallRow.linkedid == record.linkedid)
        )
    async with admin(api, "boss", "en") as client:
        rule = (await client.post("/api/rules", json=RULE)).json()
        answer = await client.post(f"/api/rules/{rule['id']}/test", json={"call_id": call_id})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["matched"] is True
        assert body["actions"][0]["title"] == "Call Иван"
        assert body["actions"][0]["assignee_id"] == owner.id
        page = await client.get(f"/admin/triggers/{rule['id']}")
        shown = await client.post(
            f"/admin/triggers/{rule['id']}/test",
            data={"csrf_token": token(page.text), "call_id": str(call_id)},
        )
        assert shown.status_code == 200
        assert "Conditions hold: the actions would run." in shown.text
        assert "Nothing was changed." in shown.text
        assert "<script>x</script>" not in shown.text
        missing = await client.post(f"/api/rules/{rule['id']}/test", json={"call_id": 999999})
        assert missing.status_code == 404
    async with api.services.db.session() as session:
        for model in (Task, RuleEvent, RuleActionKey):
            assert await session.scalar(select(func.count()).select_from(model)) == 0
