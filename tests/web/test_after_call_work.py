"""After-call work against the simulated PBX over TCP: the agent is held out of the queues
(QueuePause with the reserved reason) until the wrap-up is saved or the limit passes, the
next call does not ring them meanwhile, and the wrap-ups they owe are kept on the server.
A pause asked for during a call shows as pending and applies when the call ends."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from kernel.agents import AFTER_CALL_REASON
from telephony.simpbx import SimPbx
from tests.kit_server import LiveServer
from tests.telephony.kit_sim import SECRET, USER
from tests.web.kit_panel import PASSWORD, Stack, next_message, panel_stack
from trubka.app import build_app
from trubka.settings import load_settings


def pauses(pbx: SimPbx) -> list[tuple[str, str]]:
    """(Paused, Reason) of every QueuePause the PBX received, in order."""
    return [(a.get("paused").lower(), a.get("reason")) for a in pbx.actions("QueuePause")]


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while not condition():  # noqa: ASYNC110 (state the reducer changes: no event to await)
            await asyncio.sleep(0.02)


async def talk(stack: Stack, ws: Any, number: str = "+74951110000") -> str:
    call = stack.pbx.place_call(number, "Иван", queue="support")
    await next_message(ws, "screen_pop", linkedid=call.linkedid)
    stack.pbx.answer("101")
    await next_message(ws, "call_answered", linkedid=call.linkedid)
    stack.pbx.hang_up(call.linkedid)
    await next_message(ws, "call_ended", linkedid=call.linkedid)
    return call.linkedid


async def test_the_agent_is_held_until_the_wrap_up_is_saved(database_url: str) -> None:
    async with panel_stack(database_url, wrapup_limit=120) as stack:
        await stack.agent("anna", "101")
        async with stack.client("anna") as http, stack.socket(http) as ws:
            await next_message(ws, "agent_state", state="available")
            linkedid = await talk(stack, ws)
            held = await next_message(ws, "agent_state", state="wrap_up")
            assert held["paused_reason"] == AFTER_CALL_REASON
            assert ("true", AFTER_CALL_REASON) in pauses(stack.pbx)

            owed = (await http.get("/api/panel/wrapups")).json()
            assert [w["linkedid"] for w in owed["wrapups"]] == [linkedid]
            assert owed["wrapups"][0]["caller_number"] == "+74951110000"
            assert owed["hold"]["linkedid"] == linkedid and owed["hold"]["limit_seconds"] == 120
            state = (await http.get("/api/panel/state")).json()
            assert state["agents"][0]["state"] == "wrap_up" and state["after_call"] is not None

            # the next call waits in the queue: the held agent's phone does not ring
            second = stack.pbx.place_call("+74951110001", "Пётр", queue="support")
            live = stack.services.live
            await until(
                lambda: any(
                    e.linkedid == second.linkedid for e in live.queues["support"].entries.values()
                )
            )
            assert not live.agents["Local/101@agents"].ringing

            saved = await http.post(
                "/api/panel/wrapup", json={"linkedid": linkedid, "disposition": "resolved"}
            )
            assert saved.status_code == 201, saved.text
            assert pauses(stack.pbx)[-1] == ("false", "")
            # released: the waiting call rings the agent now
            await next_message(ws, "screen_pop", linkedid=second.linkedid)
            owed = (await http.get("/api/panel/wrapups")).json()
            assert owed == {"wrapups": [], "total": 0, "hold": None}


async def test_a_wrap_up_skipped_the_moment_its_call_ends_is_not_owed_after(
    database_url: str,
) -> None:
    """The wrap-up owed is stored with the call's record, a batch later than `call_ended`:
    a skip sent at once waits for that record, so the wrap-up does not come back."""
    async with panel_stack(database_url, wrapup_limit=0) as stack:
        stack.services.call_writer.linger = 0.3
        await stack.agent("anna", "101")
        async with stack.client("anna") as http, stack.socket(http) as ws:
            await next_message(ws, "agent_state", state="available")
            linkedid = await talk(stack, ws)
            skipped = await http.delete(f"/api/panel/wrapups/{linkedid}")
            assert skipped.status_code == 204
            await asyncio.sleep(0.4)  # the writer's batch is stored by now in any case
            owed = (await http.get("/api/panel/wrapups")).json()
            assert owed["wrapups"] == [] and owed["total"] == 0


async def test_the_limit_releases_the_agent_and_the_wrap_up_stays_owed(database_url: str) -> None:
    async with panel_stack(database_url, wrapup_limit=60, queue_wrapup_limits="support=1") as stack:
        stack.services.after_call.tick = 0.05
        await stack.agent("anna", "101")
        await stack.agent("boss", None, role="supervisor")
        async with (
            stack.client("anna") as http,
            stack.socket(http) as ws,
            stack.client("boss") as boss,
        ):
            await next_message(ws, "agent_state", state="available")
            linkedid = await talk(stack, ws)
            await next_message(ws, "agent_state", state="wrap_up")
            await next_message(ws, "agent_state", state="available", timeout=5)
            assert pauses(stack.pbx) == [("true", AFTER_CALL_REASON), ("false", "")]
            owed = (await http.get("/api/panel/wrapups")).json()
            assert [w["linkedid"] for w in owed["wrapups"]] == [linkedid] and owed["hold"] is None
            # the hold is after-call work in the agents report (not a pause)
            recorder = stack.services.supervisor.agent_time
            today = datetime.now(ZoneInfo(stack.services.settings.timezone)).date().isoformat()
            async with asyncio.timeout(10):
                while True:
                    await recorder.idle.wait()
                    report = (await boss.get(f"/api/reports/agents?start={today}")).json()
                    rows = [
                        r
                        for r in report["agents"]
                        if r["agent_interface"].lower() == "local/101@agents"
                    ]
                    if rows and rows[0]["wrap_up_seconds"] > 0:
                        break
                    await asyncio.sleep(0.05)
            assert 0.5 < rows[0]["wrap_up_seconds"] < 5 and rows[0]["pause_seconds"] == 0
            skipped = await http.delete(f"/api/panel/wrapups/{linkedid}")
            assert skipped.status_code == 204
            assert (await http.get("/api/panel/wrapups")).json()["wrapups"] == []


async def test_a_hold_that_ran_out_while_trubka_was_down_is_released(database_url: str) -> None:
    """What a restart finds: a hold stored, past its limit, the member still paused with
    the reserved reason (Trubka stopped before releasing it); and a member paused with it
    that no stored hold explains. Both are unpaused; a real pause is left alone."""
    async with panel_stack(database_url, wrapup_limit=120) as stack:
        after_call = stack.services.after_call
        after_call.tick = 0.05
        anna = await stack.agent("anna", "101")
        await stack.agent("boris", "102")
        async with stack.client("anna") as http, stack.socket(http) as ws:
            await next_message(ws, "agent_state", state="available")
            linkedid = await talk(stack, ws)
            await next_message(ws, "agent_state", state="wrap_up")
            hold = after_call.holds[anna.id]
            # "restart": forget the holds, store this one as run out, read them back
            await after_call.store.put_hold(replace(hold, until=hold.until - 1000))
            after_call.holds.clear()
            pbx = stack.services.pbx
            assert pbx is not None
            await pbx.queue_pause("Local/102@agents/n", True, AFTER_CALL_REASON)  # no hold
            await pbx.queue_pause("Local/103@agents/n", True, "lunch")
            await after_call.load()
            await next_message(ws, "agent_state", state="available", timeout=5)
            await until(lambda: not stack.services.live.agents["Local/102@agents"].after_call_work)
            assert stack.services.live.agents["Local/103@agents"].paused_reason == "lunch"
            owed = (await http.get("/api/panel/wrapups")).json()
            assert [w["linkedid"] for w in owed["wrapups"]] == [linkedid]
            assert owed["hold"] is None


async def test_a_pause_asked_for_during_a_call_is_pending_then_applies(database_url: str) -> None:
    async with panel_stack(database_url, wrapup_limit=120) as stack:
        await stack.agent("anna", "101")
        await stack.agent("boss", None, role="supervisor")
        async with (
            stack.client("anna") as http,
            stack.socket(http) as ws,
            stack.client("boss") as boss,
        ):
            await next_message(ws, "agent_state", state="available")
            call = stack.pbx.place_call("+74951110000", "Иван", queue="support")
            await next_message(ws, "screen_pop", linkedid=call.linkedid)
            stack.pbx.answer("101")
            await next_message(ws, "call_answered", linkedid=call.linkedid)
            asked = await http.post("/api/panel/pause", json={"paused": True, "reason": "lunch"})
            assert asked.status_code == 202
            pending = await next_message(ws, "agent_state", pause_pending=True)
            assert pending["state"] == "on_call" and pending["paused_reason"] == "lunch"
            state = (await http.get("/api/panel/state")).json()
            assert state["agents"][0]["pause_pending"] is True
            live = (await boss.get("/api/live")).json()
            row = next(a for a in live["agents"] if a["interface"] == "Local/101@agents")
            assert row["pause_pending"] is True and row["paused_reason"] == "lunch"

            stack.pbx.hang_up(call.linkedid)
            paused = await next_message(ws, "agent_state", state="paused")
            assert paused["paused_reason"] == "lunch" and paused["pause_pending"] is False
            # the agent's own pause applies instead of the after-call hold
            await until(lambda: stack.services.after_call.handled >= 1)
            assert AFTER_CALL_REASON not in [r for _, r in pauses(stack.pbx)]
            owed = (await http.get("/api/panel/wrapups")).json()
            assert [w["linkedid"] for w in owed["wrapups"]] == [call.linkedid]
            assert owed["hold"] is None


async def test_trubka_restarted_after_the_limit_releases_the_held_agent(database_url: str) -> None:
    """Trubka stops while an agent is held; it comes back after the limit passed: the
    hold is read back and released, and the wrap-up is still owed."""
    async with panel_stack(
        database_url, wrapup_limit=120, queue_wrapup_limits="support=1"
    ) as stack:
        anna = await stack.agent("anna", "101")
        async with stack.client("anna") as http, stack.socket(http) as ws:
            await next_message(ws, "agent_state", state="available")
            # this Trubka's clock stands still at 1970: its hold's limit never passes here,
            # and it has passed long ago for the Trubka that comes next
            stack.services.after_call.clock = lambda: 0.0
            linkedid = await talk(stack, ws)
            await next_message(ws, "agent_state", state="wrap_up")
        assert stack.services.after_call.holds[anna.id].until == 1.0
        # this Trubka goes away; a new one starts on the same database and PBX
        await stack.server.__aexit__(None, None, None)
        member = next(
            m for m in stack.pbx.engine.members["support"] if m.interface == "Local/101@agents/n"
        )
        assert member.paused and member.paused_reason == AFTER_CALL_REASON  # still held
        app = build_app(
            load_settings(
                database_url=database_url,
                ami_enabled=True,
                ami_host="127.0.0.1",
                ami_port=stack.pbx.port,
                ami_user=USER,
                ami_secret=SECRET,
                agi_enabled=False,
            )
        )
        async with LiveServer(app) as server, server.client(timeout=15) as http:
            await until(lambda: not member.paused)
            assert pauses(stack.pbx)[-1] == ("false", "")
            signed = await http.post("/api/session", json={"login": "anna", "password": PASSWORD})
            assert signed.status_code == 200
            owed = (await http.get("/api/panel/wrapups")).json()
            assert [w["linkedid"] for w in owed["wrapups"]] == [linkedid]
            assert owed["hold"] is None
