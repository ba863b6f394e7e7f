"""PBX actions from any node: a supervisor or agent signed in on node B (no AMI) acts
on the PBX node A consumes, over PostgreSQL LISTEN/NOTIFY, with the same answers (and
errors) as on node A; an action on PBX b's agent goes to PBX b."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from supervisor.audit import AuditAction
from telephony.simpbx.session import Action
from tests.cluster.kit_cluster import two_nodes, two_pbxes_two_nodes, web_node
from tests.web.kit_panel import Stack, next_message, panel_stack
from web.api.status_mirror import mirrored_counts

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("database_url", ["postgres"], indirect=True),
]

ANNA = "Local/101@agents/n"


def _headers(action: Action) -> dict[str, str]:
    return dict(action.pairs)


async def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 - the live state has no event to await
            await asyncio.sleep(0.02)


async def test_a_supervisor_on_node_b_pauses_an_agent_on_the_pbx(database_url: str) -> None:
    async with two_nodes(database_url) as (a, b):
        await a.agent("anna", "101")
        await b.agent("boss", None, role="supervisor")
        await _until(lambda: a.services.live.agent_for(ANNA) is not None)
        async with b.client("boss") as http:
            response = await http.post(
                "/api/supervisor/pause", json={"agent": ANNA, "reason": "lunch"}
            )
            assert response.status_code == 200, response.text
            assert response.json()["message"] == "Interface paused successfully"
            sent = _headers(a.pbx.actions("QueuePause")[-1])
            assert sent["interface"] == ANNA and sent["paused"] == "true"
            assert sent["reason"] == "lunch"
            # written once, on the node that ran it, naming the supervisor of node B
            entries = (await a.services.supervisor.audit.list(limit=5))["entries"]
            assert entries[0]["action"] == AuditAction.PAUSE.value
            assert entries[0]["login"] == "boss" and entries[0]["outcome"] == "done"
            # a refusal is the same answer node A gives
            unknown = {"agent": "PJSIP/999", "reason": "lunch"}
            there = await http.post("/api/supervisor/pause", json=unknown)
        async with a.client("boss") as http_a:
            here = await http_a.post("/api/supervisor/pause", json=unknown)
        assert there.status_code == here.status_code == 404
        assert there.json() == here.json()
        assert there.json()["code"] == "agent_not_found"
        # the agent's own pause in the panel, on node B
        async with b.client("anna") as http:
            count = len(a.pbx.actions("QueuePause"))
            response = await http.post("/api/panel/pause", json={"paused": False})
            assert response.status_code == 202, response.text
            assert response.json()["interfaces"] == [ANNA]
            assert len(a.pbx.actions("QueuePause")) == count + 1
            assert _headers(a.pbx.actions("QueuePause")[-1])["paused"] == "false"
        assert b.services.cluster is not None
        assert b.services.cluster.remote.forwarded >= 3
        assert a.services.cluster is not None and a.services.cluster.remote.served >= 3


async def test_click_to_call_from_node_b_originates_on_the_pbx(database_url: str) -> None:
    async with two_nodes(database_url) as (a, b):
        await a.agent("anna", "101")
        await b.services.agent_directory.refresh()
        a.pbx.set_agent_answers("101", True)
        async with b.client("anna") as http:
            response = await http.post("/api/panel/call", json={"number": "8 (916) 555-00-01"})
            assert response.status_code == 200, response.text
            placed = response.json()
            assert placed["number"] == "+79165550001" and placed["linkedid"].startswith("c2c-")
            originate = _headers(a.pbx.actions("Originate")[-1])
            assert originate["channel"] == ANNA and originate["exten"] == "79165550001"
            bad = await http.post("/api/panel/call", json={"number": "call me; Hangup"})
            assert bad.status_code == 422 and bad.json()["code"] == "bad_number"


async def test_no_node_consuming_ami_answers_as_a_disconnected_node(database_url: str) -> None:
    async with two_nodes(database_url) as (a, b):
        await a.agent("anna", "101")
        await a.agent("boss", None, role="supervisor")
        await b.services.agent_directory.refresh()
        await a.pbx.kill()
        ami = a.services.ami
        assert ami is not None
        await _until(lambda: not ami.connected)
        call = {"number": "+74951234567"}
        async with a.client("anna") as http_a, b.client("anna") as http_b:
            here = await http_a.post("/api/panel/call", json=call)
            there = await http_b.post("/api/panel/call", json=call)
        assert here.status_code == there.status_code == 503
        assert here.json()["code"] == there.json()["code"] == "pbx_down"
        assert here.json()["message"] == there.json()["message"]
        async with b.client("boss") as http_b:
            pause = await http_b.post("/api/supervisor/pause", json={"agent": ANNA})
        assert pause.status_code == 503 and pause.json()["code"] == "pbx_unavailable"


async def test_an_action_on_pbx_b_goes_to_pbx_b(database_url: str) -> None:
    async with two_pbxes_two_nodes(database_url) as nodes:
        pbx_a, pbx_b = nodes.pbx_a, nodes.pbx_b
        server_a, server_b = nodes.server_a, nodes.server_b
        services_a, services_b = nodes.services_a, nodes.services_b
        boss = Stack(server_b, services_b, pbx_a)
        await boss.agent("boss", None, role="supervisor")
        async with boss.client("boss") as http:
            for agent, pbx, other in (
                (ANNA, pbx_a, pbx_b),
                ("Local/201@agents/n", pbx_b, pbx_a),
            ):
                before = len(other.actions("QueuePause"))
                response = await http.post(
                    "/api/supervisor/pause", json={"agent": agent, "reason": "break"}
                )
                assert response.status_code == 200, response.text
                assert _headers(pbx.actions("QueuePause")[-1])["interface"] == agent
                assert len(other.actions("QueuePause")) == before
        # on node A itself (one node, two PBXes) too
        stack_a = Stack(server_a, services_a, pbx_a)
        stack_a.users["boss"] = boss.users["boss"]
        async with stack_a.client("boss") as http:
            response = await http.post(
                "/api/supervisor/pause", json={"agent": "Local/201@agents/n", "paused": False}
            )
            assert response.status_code == 200, response.text
            assert _headers(pbx_b.actions("QueuePause")[-1])["paused"] == "false"


async def test_a_workers_node_rolls_up_calls_another_node_stored(database_url: str) -> None:
    """Node A consumes AMI without the `workers` role; node B (workers, no AMI) rolls up
    the calls A stores, woken across nodes (not only at its start)."""
    async with (
        panel_stack(database_url, roles="ami,web") as a,
        web_node(a, roles="web,workers") as b,
    ):
        rollups = b.services.supervisor.rollups
        await rollups.settled()
        before, version = await rollups.watermark(), rollups.version
        call = a.pbx.place_call("84951110005", "Petr", queue="support", patience=0.2)
        await a.pbx.wait_idle(10)
        async with asyncio.timeout(10):
            while await rollups.watermark() <= before:  # noqa: ASYNC110 - another node stores
                await asyncio.sleep(0.05)
        assert call.linkedid and rollups.version > version  # B did it (A has no workers)


async def test_status_and_the_dashboard_on_node_b_show_node_as_live_state(
    database_url: str,
) -> None:
    async with two_nodes(database_url) as (a, b):
        await a.agent("anna", "101")
        await a.agent("sveta", None, role="admin")
        await b.services.agent_directory.refresh()
        assert a.services.cluster is not None
        async with b.client("sveta") as http_b, b.socket(http_b) as ws_b:
            await next_message(ws_b, "live_update", full=True)
            call = a.pbx.place_call("84951110007", "Ivan", queue="support")

            def ringing(message: dict[str, object]) -> bool:
                return any(
                    (agent.get("current_call") or {}).get("linkedid") == call.linkedid
                    for agent in message.get("agents", [])  # type: ignore[union-attr]
                )

            async with asyncio.timeout(10):
                while not ringing(await next_message(ws_b, "live_update")):
                    pass
            status = (await http_b.get("/api/status")).json()
            assert status["ami"] is None  # node B has no AMI link of its own
            source = status["live_source"]
            assert source["source"] == "mirror"
            assert source["ami_node"] == a.services.cluster.node and source["as_of"]
            rows = {row["linkedid"]: row for row in status["live_calls"]}
            assert call.linkedid in rows
            assert rows[call.linkedid]["caller_number"] == "+74951110007"
            assert rows[call.linkedid]["queue"] == "support"
            assert b.services.cluster is not None
            document = b.services.cluster.live_document()
            assert document is not None
            online, _queues = mirrored_counts(document)
            assert online == sum(1 for x in document["agents"] if x["state"] != "logged_out")
            assert online > 0 and not b.services.live.agents  # node B's own state is empty
            dashboard = await http_b.get("/admin")
            assert dashboard.status_code == 200
            assert f'<span class="value">{online}</span>Agents online' in dashboard.text
        async with a.client("sveta") as http_a:
            here = (await http_a.get("/api/status")).json()["live_source"]
            assert here == {"source": "local", "ami_node": a.services.cluster.node}
            # an agent on node B sees their own calls only (no caller is a contact here)
            theirs = {
                x["current_call"]["linkedid"]
                for x in document["agents"]
                if x["current_call"] and x["interface"].lower().startswith("local/101@")
            }
            async with b.client("anna") as http_anna:
                rows = (await http_anna.get("/api/status")).json()["live_calls"]
                assert {r["linkedid"] for r in rows} == theirs


async def test_the_cards_call_controls_from_node_b(database_url: str) -> None:
    async with two_nodes(database_url) as (a, b):
        await a.agent("anna", "101")
        await b.services.agent_directory.refresh()
        async with b.client("anna") as http, b.socket(http) as ws:
            call = a.pbx.place_call("84951110010", "Пётр", queue="support")
            await next_message(ws, "screen_pop", linkedid=call.linkedid)
            a.pbx.answer("101")
            await next_message(ws, "call_answered", linkedid=call.linkedid)
            held = await http.post(f"/api/calls/{call.linkedid}/hold", json={})
            assert held.status_code == 200, held.text
            assert held.json()["on_hold"] is True
            redirect = a.pbx.actions("Redirect")[-1]
            assert redirect.get("extrachannel").startswith("Local/101@agents-")
            again = await http.post(f"/api/calls/{call.linkedid}/hold", json={})
            assert again.status_code == 409 and again.json()["code"] == "already_on_hold"
            back = await http.post(f"/api/calls/{call.linkedid}/unhold", json={})
            assert back.status_code == 200, back.text
            assert a.pbx.actions("Bridge")
            ended = await http.post(f"/api/calls/{call.linkedid}/hangup", json={})
            assert ended.status_code == 200, ended.text
            assert a.pbx.actions("Hangup")
            gone = await http.post("/api/calls/unknown-call/hold", json={})
        async with a.client("anna") as http_a:
            here = await http_a.post("/api/calls/unknown-call/hold", json={})
        assert gone.status_code == here.status_code == 404
        assert gone.json() == here.json()


async def test_status_on_node_b_with_nobody_watching_asks_for_the_live_view(
    database_url: str,
) -> None:
    async with two_nodes(database_url) as (a, b):
        await a.agent("anna", "101")
        await a.agent("sveta", None, role="admin")
        call = a.pbx.place_call("84951110008", "Oleg", queue="support", patience=30.0)
        await _until(lambda: call.linkedid in a.services.live.calls)
        async with b.client("sveta") as http_b:
            status = (await http_b.get("/api/status")).json()
            assert status["live_source"]["source"] == "mirror"
            assert call.linkedid in {row["linkedid"] for row in status["live_calls"]}
            page = await http_b.get("/status")  # the same rows, rendered
            assert "<td>Oleg</td>" in page.text
