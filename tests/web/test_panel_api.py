"""The panel's API and pages over real HTTP, with the simulated PBX behind them:
click-to-call and its failures in plain words, pausing, wrap-ups and who may save them,
CSRF, escaping, optimistic locking on the edit form, and what an agent may not do.
"""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
import websockets

from crm.access import Actor
from crm.schemas import ContactCreate
from crm.wrapups import WrapupService
from tests.web.kit_panel import Stack, drain_until_pong, next_message, panel_stack


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


async def _contact(stack: Stack, name: str, number: str, owner_id: int | None = None) -> int:
    view = await stack.services.crm.contacts.create(
        ContactCreate(name=name, phones=[number], owner_id=owner_id), Actor.system()
    )
    return int(view["id"])


async def test_click_to_call_rings_the_agent_first_then_the_customer(database_url: str) -> None:
    async with panel_stack(database_url) as stack:
        anna = await stack.agent("anna", "101")
        stack.pbx.set_agent_answers("101", True)
        contact_id = await _contact(stack, "Клиент", "+79165550001")
        async with stack.client("anna") as http, stack.socket(http) as ws:
            response = await http.post(
                "/api/panel/call", json={"number": "8 (916) 555-00-01", "contact_id": contact_id}
            )
            assert response.status_code == 200, response.text
            placed = response.json()
            assert placed["number"] == "+79165550001" and placed["linkedid"].startswith("c2c-")
            answered = await next_message(ws, "call_answered", linkedid=placed["linkedid"])
            assert answered["caller_number"] == "+79165550001"
            assert answered["agent_interface"].startswith("Local/101@agents")
            ended = await next_message(ws, "call_ended", linkedid=placed["linkedid"])
            assert ended["direction"] == "outbound" and ended["disposition"] == "answered"
            wrap = await http.post(
                "/api/panel/wrapup",
                json={
                    "linkedid": placed["linkedid"],
                    "disposition": "sale",
                    "note": "Sold the yearly plan",
                    "contact_id": contact_id,
                    "follow_up": {"title": "Send the invoice"},
                },
            )
            assert wrap.status_code == 201, wrap.text
            assert wrap.json()["user"]["id"] == anna.id
            assert wrap.json()["task_view"]["call_linkedid"] == placed["linkedid"]
            again = await http.post(
                "/api/panel/wrapup",
                json={"linkedid": placed["linkedid"], "disposition": "sale"},
            )
            assert again.status_code == 409 and again.json()["code"] == "already_exists"
        sent = [line for line in stack.pbx.engine.history if line.linkedid == placed["linkedid"]]
        assert sent and sent[0].direction == "outbound"


async def test_click_to_call_failures_in_plain_words(database_url: str) -> None:
    async with panel_stack(database_url) as stack:
        await stack.agent("nophone", None)
        await stack.agent("ghost", None)
        await stack.services.crm.users.update(
            stack.users["ghost"].id,
            stack.users["ghost"].version,
            {"interfaces": ["PJSIP/999"]},
            actor=Actor.system(),
        )
        await stack.services.agent_directory.refresh()
        async with stack.client("nophone") as http:
            response = await http.post("/api/panel/call", json={"number": "+74951234567"})
            assert response.status_code == 409 and response.json()["code"] == "no_phone"
            paused = await http.post("/api/panel/pause", json={"paused": True})
            assert paused.json()["code"] == "no_phone"
        async with stack.client("ghost") as http:
            bad = await http.post("/api/panel/call", json={"number": "call me; Hangup"})
            assert bad.status_code == 422 and bad.json()["code"] == "bad_number"
            unreachable = await http.post("/api/panel/call", json={"number": "+74951234567"})
            assert unreachable.status_code == 409
            assert unreachable.json()["code"] == "phone_unavailable"
            assert "PJSIP/999" in unreachable.json()["message"]
            not_member = await http.post("/api/panel/pause", json={"paused": True})
            assert not_member.status_code == 409 and not_member.json()["code"] == "not_in_queue"
            await stack.pbx.kill()
            ami = stack.services.ami
            assert ami is not None
            async with asyncio.timeout(5):  # no event to await: the client notices the drop
                while ami.connected:  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
            down = await http.post("/api/panel/call", json={"number": "+74951234567"})
            assert down.status_code == 503 and down.json()["code"] == "pbx_down"


async def test_pause_goes_to_asterisk_and_the_state_comes_back(database_url: str) -> None:
    async with panel_stack(database_url) as stack:
        await stack.agent("anna", "101")
        async with stack.client("anna") as http, stack.socket(http) as ws:
            assert (await next_message(ws, "agent_state"))["state"] == "available"
            response = await http.post("/api/panel/pause", json={"paused": True, "reason": "lunch"})
            assert response.status_code == 202
            assert response.json()["interfaces"] == ["Local/101@agents/n"]
            state = await next_message(ws, "agent_state", state="paused")
            assert state["paused_reason"] == "lunch"
            state = (await http.get("/api/panel/state")).json()
            assert state["agents"][0]["state"] == "paused" and state["pbx"]["connected"]
            await http.post("/api/panel/pause", json={"paused": False})
            await next_message(ws, "agent_state", state="available")
            form = await http.post(
                "/api/panel/pause",
                content=b"paused=true",
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
            assert form.status_code == 415


async def test_a_wrapped_up_call_is_on_the_contacts_page_at_once(database_url: str) -> None:
    """The call record lands a moment after the call ends (the writer batches); a wrap-up
    saved meanwhile waits for it, so the contact's page opened next shows the call with
    its outcome, not the note alone."""
    async with panel_stack(database_url) as stack:
        await stack.agent("anna", "101")
        contact_id = await _contact(stack, "Ольга Новая", "+79165550077")
        stack.services.call_writer.linger = 0.5  # a busy writer: records land half a second late
        async with stack.client("anna") as http, stack.socket(http) as ws:
            call = stack.pbx.place_call("+79165550077", "Ольга", queue="support")
            await next_message(ws, "screen_pop", linkedid=call.linkedid)
            stack.pbx.answer("101")
            await next_message(ws, "call_answered", linkedid=call.linkedid)
            stack.pbx.hang_up(call.linkedid)
            await next_message(ws, "call_ended", linkedid=call.linkedid)
            saved = await http.post(
                "/api/panel/wrapup",
                json={
                    "linkedid": call.linkedid,
                    "disposition": "resolved",
                    "note": "Explained the tariff",
                    "contact_id": contact_id,
                },
            )
            assert saved.status_code == 201, saved.text
            page = await http.get(f"/contacts/{contact_id}")
        assert page.status_code == 200
        line = re.search(r'<div class="wrapup-line">(.*?)</div>', page.text, re.S)
        assert line is not None, "the call and its wrap-up are not on the contact's page"
        assert "Resolved" in line.group(1) and "Explained the tariff" in line.group(1)


async def test_only_someone_on_the_call_may_wrap_it_up(database_url: str) -> None:
    async with panel_stack(database_url) as stack:
        await stack.agent("anna", "101")
        await stack.agent("boris", "102")
        await stack.agent("boss", None, role="supervisor")
        async with stack.client("anna") as http, stack.socket(http) as ws:
            call = stack.pbx.place_call("+74951110042", "Кто-то", queue="support")
            await next_message(ws, "screen_pop", linkedid=call.linkedid)
            stack.pbx.answer("101")
            await next_message(ws, "call_answered", linkedid=call.linkedid)
            stack.pbx.hang_up(call.linkedid)
            await next_message(ws, "call_ended", linkedid=call.linkedid)
            no_contact_task = await http.post(
                "/api/panel/wrapup",
                json={
                    "linkedid": call.linkedid,
                    "disposition": "follow_up",
                    "follow_up": {"title": "Call back"},
                },
            )
            assert no_contact_task.status_code == 422
            assert no_contact_task.json()["field"] == "follow_up"
            ok = await http.post(
                "/api/panel/wrapup",
                json={"linkedid": call.linkedid, "disposition": "wrong_number", "note": "Ошиблись"},
            )
            assert ok.status_code == 201 and ok.json()["note_id"] is None  # no contact: kept
        async with stack.client("boris") as http:
            refused = await http.post(
                "/api/panel/wrapup", json={"linkedid": call.linkedid, "disposition": "resolved"}
            )
            assert refused.status_code == 403 and refused.json()["code"] == "not_on_call"
            unknown = await http.post(
                "/api/panel/wrapup", json={"linkedid": "nope.1", "disposition": "resolved"}
            )
            assert unknown.status_code == 403
        async with stack.client("boss") as http:
            allowed = await http.post(
                "/api/panel/wrapup", json={"linkedid": call.linkedid, "disposition": "resolved"}
            )
            assert allowed.status_code == 201
        saved = await WrapupService(stack.services.db).for_calls([call.linkedid])
        assert [w["disposition"] for w in saved[call.linkedid]] == ["wrong_number", "resolved"]
        assert saved[call.linkedid][0]["note"] == "Ошиблись"


async def test_what_an_agent_may_not_do(database_url: str) -> None:
    async with panel_stack(database_url) as stack:
        anna = await stack.agent("anna", "101")
        boris = await stack.agent("boris", "102")
        theirs = await _contact(stack, "Клиент Бориса", "+74951110099", owner_id=boris.id)
        # No cookie, a forged cookie, another user's id in the URL: no socket, or one's own.
        for headers in ({}, {"Cookie": "trubka_session=forged"}):
            with pytest.raises(websockets.exceptions.InvalidStatus):
                async with websockets.connect(stack.ws_url, additional_headers=headers):
                    pass
        async with stack.client("anna") as http:
            cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
            async with (
                websockets.connect(
                    f"{stack.ws_url}?user_id={boris.id}", additional_headers={"Cookie": cookie}
                ) as ws,
                stack.client("boris") as boris_http,
                stack.socket(boris_http) as boris_ws,
            ):
                state = await next_message(ws, "agent_state")
                assert state["agent_interface"] == "Local/101@agents"
                call = stack.pbx.place_call("+74951110055", "Для Бориса", queue="help")
                await next_message(boris_ws, "screen_pop", linkedid=call.linkedid)
                stack.pbx.hang_up(call.linkedid)
                await next_message(boris_ws, "screen_pop_withdrawn", linkedid=call.linkedid)
                assert all(m.get("linkedid") != call.linkedid for m in await drain_until_pong(ws))
            assert (await http.get("/api/live")).status_code == 403
            page = await http.get(f"/contacts/{theirs}")
            assert page.status_code == 200 and "another manager" in page.text
            edit = await http.post(
                f"/contacts/{theirs}",
                data={
                    "csrf_token": csrf_of(page.text),
                    "version": "1",
                    "name": "Мой теперь",
                    "phones": "+74951110099",
                    "owner_id": str(anna.id),
                },
            )
            assert edit.status_code == 403 and "another manager" in edit.text
            assert (await stack.services.crm.contacts.get(theirs))["name"] == "Клиент Бориса"
            forged = await http.post(
                f"/contacts/{theirs}/notes", data={"csrf_token": "forged", "body": "x"}
            )
            assert forged.status_code == 403
            missing = await http.post("/contacts/new", data={"name": "Без токена"})
            assert missing.status_code == 403
            assert (await stack.services.crm.notes.list(contact_id=theirs)) == []


async def test_edit_conflict_keeps_what_was_typed_and_shows_the_other_version(
    database_url: str,
) -> None:
    async with panel_stack(database_url) as stack:
        await stack.agent("anna", "101")
        await stack.agent("olga", "102")
        contact_id = await _contact(stack, "<script>alert(1)</script> Пётр", "+74951110101")
        async with stack.client("anna") as anna, stack.client("olga") as olga:
            page_a = await anna.get(f"/contacts/{contact_id}")
            page_o = await olga.get(f"/contacts/{contact_id}")
            assert "&lt;script&gt;alert(1)&lt;/script&gt; Пётр" in page_a.text
            assert "<script>alert(1)</script>" not in page_a.text
            fields = {"phones": "+74951110101", "version": "1", "owner_id": ""}
            first = await olga.post(
                f"/contacts/{contact_id}",
                data={**fields, "csrf_token": csrf_of(page_o.text), "name": "Пётр Ольгин"},
            )
            assert first.status_code == 303
            second = await anna.post(
                f"/contacts/{contact_id}",
                data={**fields, "csrf_token": csrf_of(page_a.text), "name": "Пётр Аннин"},
            )
            assert second.status_code == 409
            assert "Someone else saved this contact" in second.text
            assert 'value="Пётр Аннин"' in second.text  # what Anna typed is still there
            assert "Пётр Ольгин" in second.text  # and the version saved meanwhile
            assert 'name="version" value="2"' in second.text
            resaved = await anna.post(
                f"/contacts/{contact_id}",
                data={**fields, "version": "2", "csrf_token": csrf_of(page_a.text), "name": "Пётр"},
            )
            assert resaved.status_code == 303
        assert (await stack.services.crm.contacts.get(contact_id))["name"] == "Пётр"


async def test_pages_need_sign_in_and_search_finds_by_any_part_of_a_number(
    database_url: str,
) -> None:
    async with panel_stack(database_url) as stack:
        await stack.agent("anna", "101")
        contact_id = await _contact(stack, "Мария Волкова", "+79161234567")
        async with httpx.AsyncClient(base_url=stack.url) as anonymous:
            for path in ("/", "/contacts", f"/contacts/{contact_id}"):
                response = await anonymous.get(path)
                assert response.status_code == 303 and response.headers["location"].startswith(
                    "/login"
                )
        async with stack.client("anna") as http:
            found = await http.get("/contacts", params={"q": "1234567"})
            assert f'href="/contacts/{contact_id}"' in found.text
            assert "8 (916) 123-45-67" in found.text
            card = (await http.get("/api/panel/card", params={"number": "89161234567"})).json()
            assert card["contact"]["id"] == contact_id
            assert card["display"]["+79161234567"] == "8 (916) 123-45-67"
            page = await http.get("/")
            assert 'id="i18n"' in page.text and '"state.available"' in page.text
            made = await http.post(
                "/contacts/new",
                data={
                    "csrf_token": csrf_of((await http.get("/contacts/new")).text),
                    "name": "Новый",
                    "phones": "8 926 000 00 01",
                },
            )
            assert made.status_code == 303
            assert (await http.get(made.headers["location"])).status_code == 200
