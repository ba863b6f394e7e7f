"""Pops and live views across nodes: an agent's browser on node B (no AMI) gets the pops
of the calls node A consumes, in the same format, and node B answers for them (the
welcome of a socket, the panel's current call, the wrap-up's participants, the live
view) — over PostgreSQL LISTEN/NOTIFY."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.cluster.kit_cluster import two_nodes, web_node
from tests.web.kit_panel import drain_until_pong, next_message, panel_stack

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("database_url", ["postgres"], indirect=True),
]


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


async def test_an_agent_on_node_b_gets_the_pop_of_a_call_node_a_consumes(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with two_nodes(database_url) as (a, b):
        anna = await a.agent("anna", "101")
        await a.agent("boris", "102")
        await b.services.agent_directory.refresh()
        async with (
            b.client("anna") as http_b,
            b.socket(http_b) as ws_b,
            a.client("boris") as http_a,
            a.socket(http_a) as ws_a,
        ):
            call = a.pbx.place_call("84951110005", "Petr", queue="support")
            pop = await next_message(ws_b, "screen_pop", linkedid=call.linkedid)
            assert pop["caller_number"] == "+74951110005"
            assert pop["caller_number_display"] == "8 (495) 111-00-05"
            assert pop["queue"] == "support"
            assert pop["agent_interface"].lower() == "local/101@agents/n"
            # the same message node A would have sent its own socket (node A's copy may
            # have had the card filled in since: a second message, `"update": true`)
            local = a.services.notifier._pops
            made = next(p.message for (lid, _a), p in local.items() if lid == call.linkedid)
            later = {"card", "contact", "update"}
            assert {k: pop.get(k) for k in made if k not in later} == {
                k: v for k, v in made.items() if k not in later
            }
            a.pbx.answer("101")
            answered = await next_message(ws_b, "call_answered", linkedid=call.linkedid)
            assert answered["queue"] == "support"
            state = await next_message(ws_b, "agent_state", state="on_call")
            assert state["agent_interface"].lower().startswith("local/101@agents")
            # node B knows the call its agent is on, and who was on it (the wrap-up check)
            current = b.services.notifier.current_call(anna.id)
            assert current is not None and current["linkedid"] == call.linkedid
            panel = await http_b.get("/api/panel/state")
            assert panel.json()["current_call"]["linkedid"] == call.linkedid
            a.pbx.hang_up(call.linkedid)
            ended = await next_message(ws_b, "call_ended", linkedid=call.linkedid)
            assert ended["disposition"] == "answered"
            assert anna.id in b.services.notifier.participants(call.linkedid)
            assert b.services.notifier.current_call(anna.id) is None
            # Boris, on node A, in another queue, heard nothing of it
            assert all(m.get("linkedid") != call.linkedid for m in await drain_until_pong(ws_a))
    assert _errors(caplog) == []


async def test_a_socket_connecting_to_node_b_is_welcomed_with_the_ringing_call(
    database_url: str,
) -> None:
    async with two_nodes(database_url) as (a, b):
        anna = await a.agent("anna", "101")
        await b.services.agent_directory.refresh()
        async with b.client("anna") as http_b:
            async with b.socket(http_b) as first:
                call = a.pbx.place_call("84951110006", "Olga", queue="support")
                await next_message(first, "screen_pop", linkedid=call.linkedid)
            async with b.socket(http_b) as again:  # a reload while the phone rings
                welcome = await drain_until_pong(again)
                pops = [m for m in welcome if m["type"] == "screen_pop"]
                assert [p["linkedid"] for p in pops] == [call.linkedid]
                assert pops[0]["caller_number"] == "+74951110006"
                states = [m["state"] for m in welcome if m["type"] == "agent_state"]
                assert states == ["ringing"]  # node A's word, not "logged_out"
        assert anna.id not in b.services.notifier.participants(call.linkedid)


async def test_a_supervisor_on_node_b_sees_the_live_view_node_a_makes(database_url: str) -> None:
    async with two_nodes(database_url) as (a, b):
        await a.agent("anna", "101")
        await a.agent("sveta", None, role="supervisor")
        await b.services.agent_directory.refresh()
        async with b.client("sveta") as http_b, b.socket(http_b) as ws_b:
            full = await next_message(ws_b, "live_update", full=True)
            assert {q["queue"] for q in full["queues"]} >= {"support", "help", "sales"}
            call = a.pbx.place_call("84951110007", "Ivan", queue="support")

            def ringing(message: dict[str, object]) -> bool:
                return any(
                    (agent.get("current_call") or {}).get("linkedid") == call.linkedid
                    for agent in message.get("agents", [])  # type: ignore[union-attr]
                )

            async with asyncio.timeout(10):
                while not ringing(await next_message(ws_b, "live_update")):
                    pass
            live = (await http_b.get("/api/live")).json()
            page = await http_b.get("/supervisor")  # rendered from the same picture
            assert page.status_code == 200 and call.linkedid in page.text
            status = (await http_b.get("/api/status")).json()["cluster"]
            assert status["listening"] and not status["producing"] and status["received"] > 0
            assert ringing(live)
            assert b.services.cluster is not None
            assert b.services.cluster.mirror.seq >= full["seq"]


async def test_closing_a_users_sockets_on_one_node_closes_them_on_every_node(
    database_url: str,
) -> None:
    async with two_nodes(database_url) as (a, b):
        anna = await a.agent("anna", "101")
        async with b.client("anna") as http_b, b.socket(http_b) as ws_b:
            await drain_until_pong(ws_b)  # registered on node B
            # e.g. an admin disabled Anna through node A
            assert a.services.hub.close_user(anna.id, 4401, "signed out") == 0
            async with asyncio.timeout(10):
                await ws_b.wait_closed()
            assert ws_b.close_code == 4401


async def test_a_node_started_while_a_call_rings_gets_the_whole_picture(
    database_url: str,
) -> None:
    async with panel_stack(database_url) as a:
        anna = await a.agent("anna", "101")
        call = a.pbx.place_call("84951110008", "Nina", queue="support")
        async with a.client("anna") as http_a, a.socket(http_a) as ws_a:
            await next_message(ws_a, "screen_pop", linkedid=call.linkedid)
        async with web_node(a) as b:  # joins now: asks node A for the whole picture
            assert b.services.cluster is not None
            relayed = b.services.cluster.relayed
            for _ in range(500):
                if relayed.welcome(anna.id):
                    break
                await asyncio.sleep(0.02)
            async with b.client("anna") as http_b, b.socket(http_b) as ws_b:
                welcome = await drain_until_pong(ws_b)
            pops = [m["linkedid"] for m in welcome if m["type"] == "screen_pop"]
            assert pops == [call.linkedid]
            assert [m["state"] for m in welcome if m["type"] == "agent_state"] == ["ringing"]
