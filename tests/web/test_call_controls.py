"""Call controls in the card, end to end: the simulated PBX over real AMI, Trubka over HTTP,
real WebSockets. A blind transfer reaches the PBX as `BlindTransfer` with the colleague's
extension and the transfer context, the colleague's panel pops with the card, and the
stored call keeps the transfer in its steps; hang-up works; nobody else may touch the call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from crm.access import Actor
from crm.schemas import ContactCreate
from kernel.agents import agent_key
from tests.web.kit_panel import Stack, next_message, panel_stack


async def _answered(stack: Stack, ws: Any, number: str, queue: str, agent: str) -> str:
    call = stack.pbx.place_call(number, "Пётр", queue=queue)
    await next_message(ws, "screen_pop", linkedid=call.linkedid)
    stack.pbx.answer(agent)
    await next_message(ws, "call_answered", linkedid=call.linkedid)
    return call.linkedid


async def _stored(stack: Stack, linkedid: str) -> Any:
    async with asyncio.timeout(10):
        while (row := await stack.services.calls.get(linkedid)) is None:
            await stack.services.call_writer.drain()
            await asyncio.sleep(0.02)
    return row


async def _until(done: Callable[[], bool]) -> None:
    """Wait for the live state (fed by AMI events, nothing to await) to reach `done`."""
    async with asyncio.timeout(5):
        while not done():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def test_blind_transfer_to_a_colleague_pops_their_card_and_is_stored(
    database_url: str,
) -> None:
    async with panel_stack(database_url) as stack:
        await stack.agent("anna", "101")
        boris = await stack.agent("boris", "102")
        await stack.agent("vika", "103")
        contact = await stack.services.crm.contacts.create(
            ContactCreate(name="Пётр Клиент", phones=["+74951110007"]), Actor.system()
        )
        async with (
            stack.client("anna") as anna,
            stack.client("boris") as bob,
            stack.client("vika") as vika,
            stack.socket(anna) as anna_ws,
            stack.socket(bob) as bob_ws,
        ):
            linkedid = await _answered(stack, anna_ws, "84951110007", "support", "101")

            # Someone else's call: refused, nothing reaches the PBX.
            refused = await vika.post(f"/api/calls/{linkedid}/hangup", json={})
            assert refused.status_code == 403, refused.text
            assert refused.json()["code"] == "not_your_call"
            refused = await vika.post(
                f"/api/calls/{linkedid}/transfer",
                json={"target": {"kind": "agent", "user_id": boris.id}},
            )
            assert refused.status_code == 403
            assert stack.pbx.server is not None
            assert not [a for a in stack.pbx.server.received if a.name.lower() == "hangup"]

            # The picker shows Boris free.
            targets = (await anna.get(f"/api/calls/{linkedid}/transfer-targets")).json()
            by_name = {a["name"]: a for a in targets["agents"]}
            assert by_name["Boris"]["state"] == "available"
            assert by_name["Boris"]["extension"] == "102"
            assert "Anna" not in by_name  # not to oneself
            assert {q["name"] for q in targets["queues"]} >= {"support", "help", "sales"}

            # An unknown queue names the field.
            bad = await anna.post(
                f"/api/calls/{linkedid}/transfer",
                json={"target": {"kind": "queue", "queue": "nowhere"}},
            )
            assert bad.status_code == 422 and bad.json()["field"] == "target.queue"

            done = await anna.post(
                f"/api/calls/{linkedid}/transfer",
                json={"target": {"kind": "agent", "user_id": boris.id}, "mode": "blind"},
            )
            assert done.status_code == 200, done.text
            assert done.json()["target"]["extension"] == "102"
            sent = [a for a in stack.pbx.server.received if a.name.lower() == "blindtransfer"]
            assert len(sent) == 1
            assert sent[0].get("exten") == "102"
            assert sent[0].get("context") == "from-internal"
            assert sent[0].get("channel").startswith("Local/101@agents-")

            pop = await next_message(bob_ws, "screen_pop", linkedid=linkedid)
            while pop["card"] is None:
                pop = await next_message(bob_ws, "screen_pop", linkedid=linkedid)
            assert pop["card"]["contact"]["id"] == contact["id"]
            assert pop["caller_number"] == "+74951110007"
            stack.pbx.answer("102")
            taken = await next_message(bob_ws, "call_answered", linkedid=linkedid)
            assert taken["transferred_from"] == "Local/101@agents"
            assert taken["card"]["contact"]["id"] == contact["id"]
            # Anna's panel hears that she handed the call over (and wraps it up).
            moved = await next_message(anna_ws, "call_transferred", linkedid=linkedid)
            assert moved["to_agent"] == "Local/102@agents" and moved["to_agent_name"]

            # Boris now owns the call: Anna may no longer hang it up, Boris may.
            gone = await anna.post(f"/api/calls/{linkedid}/hangup", json={})
            assert gone.status_code == 403
            hung = await bob.post(f"/api/calls/{linkedid}/hangup", json={})
            assert hung.status_code == 200, hung.text
            ended = await next_message(bob_ws, "call_ended", linkedid=linkedid)
            assert ended["disposition"] == "answered"

            row = await _stored(stack, linkedid)
            kinds = [step["kind"] for step in row.timeline]
            assert "blind-transfer" in kinds and "transferred" in kinds
            step = next(s for s in row.timeline if s["kind"] == "blind-transfer")
            assert "102@from-internal" in step["detail"]
            assert [agent_key(a) for a in row.agents] == ["local/101@agents", "local/102@agents"]
            again = await bob.post(f"/api/calls/{linkedid}/hangup", json={})
            assert again.status_code == 404


async def test_a_busy_colleague_is_refused_and_messages_are_in_russian(database_url: str) -> None:
    async with panel_stack(database_url) as stack:
        await stack.agent("anna", "101", language="ru")
        boris = await stack.agent("boris", "102")
        async with (
            stack.client("anna") as anna,
            stack.client("boris") as bob,
            stack.socket(anna) as anna_ws,
            stack.socket(bob) as bob_ws,
        ):
            first = await _answered(stack, anna_ws, "84951110008", "support", "101")
            await _answered(stack, bob_ws, "84951110009", "help", "102")
            targets = (await anna.get(f"/api/calls/{first}/transfer-targets")).json()
            assert {a["name"]: a["state"] for a in targets["agents"]}["Boris"] == "on_call"
            busy = await anna.post(
                f"/api/calls/{first}/transfer",
                json={"target": {"kind": "agent", "user_id": boris.id}},
            )
            assert busy.status_code == 409
            assert busy.json()["code"] == "target_busy"
            assert busy.json()["message"] == "Boris разговаривает по другому звонку."
            no_manager = await anna.post(
                f"/api/calls/{first}/transfer", json={"target": {"kind": "manager"}}
            )
            assert no_manager.status_code == 422
            assert no_manager.json()["message"] == "У этого клиента нет ответственного менеджера."
            # A supervisor may hang up anyone's call.
            await stack.agent("sveta", None, role="supervisor")
            async with stack.client("sveta") as sveta:
                hung = await sveta.post(f"/api/calls/{first}/hangup", json={})
                assert hung.status_code == 200, hung.text
            await next_message(anna_ws, "call_ended", linkedid=first)


async def test_hold_plays_music_and_unhold_bridges_the_call_again(database_url: str) -> None:
    async with panel_stack(database_url) as stack:
        await stack.agent("anna", "101")
        boris = await stack.agent("boris", "102")
        async with stack.client("anna") as anna, stack.socket(anna) as anna_ws:
            linkedid = await _answered(stack, anna_ws, "84951110010", "support", "101")
            held = await anna.post(f"/api/calls/{linkedid}/hold", json={})
            assert held.status_code == 200, held.text
            assert held.json()["on_hold"] is True
            assert stack.pbx.server is not None
            [redirect] = [a for a in stack.pbx.server.received if a.name.lower() == "redirect"]
            assert redirect.get("channel").startswith("Local/84951110010@") and redirect.get(
                "channel"
            ).endswith(";2")
            assert (redirect.get("context"), redirect.get("exten")) == ("trubka-hold", "s")
            assert redirect.get("extrachannel").startswith("Local/101@agents-")
            assert (redirect.get("extracontext"), redirect.get("extraexten")) == (
                "trubka-hold",
                "agent",
            )
            call = stack.services.live.calls[linkedid]
            await _until(lambda: not any(c.bridge_id for c in call.channels.values()))
            again = await anna.post(f"/api/calls/{linkedid}/hold", json={})
            assert again.status_code == 409 and again.json()["code"] == "already_on_hold"
            moving = await anna.post(
                f"/api/calls/{linkedid}/transfer",
                json={"target": {"kind": "agent", "user_id": boris.id}},
            )
            assert moving.status_code == 409 and moving.json()["code"] == "on_hold"

            # A restarted Trubka knows the held call by its channels, out of any bridge.
            stack.server.server.config.app.state.held_calls.clear()
            back = await anna.post(f"/api/calls/{linkedid}/unhold", json={})
            assert back.status_code == 200, back.text
            [bridge] = [a for a in stack.pbx.server.received if a.name.lower() == "bridge"]
            assert {bridge.get("channel1"), bridge.get("channel2")} == {
                redirect.get("channel"),
                redirect.get("extrachannel"),
            }
            await _until(lambda: sum(1 for c in call.channels.values() if c.bridge_id) == 2)
            not_held = await anna.post(f"/api/calls/{linkedid}/unhold", json={})
            assert not_held.status_code == 409 and not_held.json()["code"] == "not_on_hold"
            # On hold again, then hung up from the card while the caller hears music.
            assert (await anna.post(f"/api/calls/{linkedid}/hold", json={})).status_code == 200
            hung = await anna.post(f"/api/calls/{linkedid}/hangup", json={})
            assert hung.status_code == 200, hung.text
            ended = await next_message(anna_ws, "call_ended", linkedid=linkedid)
            assert ended["disposition"] == "answered"
            row = await _stored(stack, linkedid)
            assert row.disposition == "answered"


async def test_a_transfer_to_a_queue_rings_its_agents(database_url: str) -> None:
    async with panel_stack(database_url) as stack:
        await stack.agent("anna", "101")
        await stack.agent("boris", "102")
        async with (
            stack.client("anna") as anna,
            stack.client("boris") as bob,
            stack.socket(anna) as anna_ws,
            stack.socket(bob) as bob_ws,
        ):
            linkedid = await _answered(stack, anna_ws, "84951110011", "support", "101")
            targets = (await anna.get(f"/api/calls/{linkedid}/transfer-targets")).json()
            help_queue = next(q for q in targets["queues"] if q["name"] == "help")
            assert (help_queue["waiting"], help_queue["available"]) == (0, 1)
            done = await anna.post(
                f"/api/calls/{linkedid}/transfer",
                json={"target": {"kind": "queue", "queue": "help"}},
            )
            assert done.status_code == 200, done.text
            assert done.json()["target"] == {
                "kind": "queue",
                "name": "help",
                "extension": None,
                "queue": "help",
                "user_id": None,
            }
            assert stack.pbx.server is not None
            [sent] = [a for a in stack.pbx.server.received if a.name.lower() == "blindtransfer"]
            assert (sent.get("exten"), sent.get("context")) == ("help", "trubka-queues")
            pop = await next_message(bob_ws, "screen_pop", linkedid=linkedid)
            assert pop["queue"] == "help"
            stack.pbx.answer("102")
            await next_message(bob_ws, "call_answered", linkedid=linkedid)
            await next_message(anna_ws, "call_transferred", linkedid=linkedid)
            hung = await bob.post(f"/api/calls/{linkedid}/hangup", json={})
            assert hung.status_code == 200, hung.text
            row = await _stored(stack, linkedid)
            step = next(s for s in row.timeline if s["kind"] == "blind-transfer")
            assert "help@trubka-queues" in step["detail"]
            assert [agent_key(a) for a in row.agents] == ["local/101@agents", "local/102@agents"]
