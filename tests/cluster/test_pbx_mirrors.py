"""Every PBX's live view on a web-only node: node A consumes two simulated PBXes, node
B (no AMI) mirrors each one's pushed view (`"pbx"` names the other PBXes' messages) for
`/api/live` (merged and `?pbx=`), a supervisor's socket, `/supervisor?pbx=` and
`/wallboard`."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from supervisor.live_mirror import LiveMirror
from tests.cluster.kit_cluster import two_pbxes_two_nodes, until
from tests.web.kit_panel import Stack, next_message


def _linkedids(document: dict[str, Any]) -> set[str]:
    """The calls a live view shows: callers waiting in queues and agents' calls."""
    waiting = {
        str(entry.get("linkedid"))
        for queue in document.get("queues", ())
        for entry in queue.get("waiting") or ()
    }
    current = {
        str((agent.get("current_call") or {}).get("linkedid"))
        for agent in document.get("agents", ())
        if agent.get("current_call")
    }
    return waiting | current


def test_a_mirror_keeps_its_pbx_out_of_the_document_and_names_it_in_the_welcome() -> None:
    mirror = LiveMirror(pbx="b")
    mirror.observe({"type": "live_update", "full": True, "seq": 3, "queues": [], "pbx": "b"})
    document = mirror.document()
    assert document is not None and "pbx" not in document
    sent: list[str] = []

    class Followers:
        def follower_count(self) -> int:
            return 1

        def to_followers_text(self, text: str) -> int:
            return 0

        def to_client_text(self, client: Any, text: str) -> bool:
            sent.append(text)
            return True

    assert mirror.welcome(Followers(), object())
    assert json.loads(sent[0])["pbx"] == "b" and json.loads(sent[0])["seq"] == 3
    first = LiveMirror()
    first.observe({"type": "live_update", "full": True, "seq": 1, "queues": []})
    sent.clear()
    assert first.welcome(Followers(), object())
    assert "pbx" not in json.loads(sent[0])  # the first PBX's, as before


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_call_waiting_on_pbx_b_shows_on_the_web_only_node(database_url: str) -> None:
    async with two_pbxes_two_nodes(database_url) as nodes:
        pbx_a, pbx_b = nodes.pbx_a, nodes.pbx_b
        server_b, services_b = nodes.server_b, nodes.services_b
        states = nodes.services_a.pbx_states
        boss = Stack(server_b, services_b, pbx_a)
        await boss.agent("boss", None, role="supervisor")
        pbx_b.set_agent_answers("201", False)
        async with boss.client("boss") as http, boss.socket(http) as ws:
            call = pbx_b.place_call("84951110020", "Zoya", queue="support", patience=30.0)
            await until(lambda: call.linkedid in states["b"].calls)

            def shows_call(message: dict[str, Any]) -> bool:
                return call.linkedid in _linkedids(message)

            async with asyncio.timeout(10):  # pushed to node B, tagged with PBX b
                while True:
                    message = await next_message(ws, "live_update", pbx="b")
                    if shows_call(message):
                        break
            cluster_b = services_b.cluster
            assert cluster_b is not None
            await until(lambda: shows_call(cluster_b.pbx_live_documents().get("b", {})))
            only_b = await http.get("/api/live", params={"pbx": "b"})
            assert only_b.status_code == 200, only_b.text
            view = only_b.json()
            assert call.linkedid in _linkedids(view)
            assert view["pbxes"] == ["a", "b"]
            assert {q["pbx"] for q in view["queues"]} == {"b"}
            assert all(a["pbx"] == "b" for a in view["agents"]), view["agents"]
            merged = (await http.get("/api/live")).json()
            assert {q["pbx"] for q in merged["queues"]} == {"a", "b"}
            assert call.linkedid in _linkedids(merged)
            only_a = (await http.get("/api/live", params={"pbx": "a"})).json()
            assert call.linkedid not in _linkedids(only_a)
            page = await http.get("/supervisor", params={"pbx": "b"})
            assert page.status_code == 200 and "201" in page.text
            board = await http.get("/wallboard", params={"pbx": "b"})
            assert board.status_code == 200
            # a supervisor's new socket on node B is welcomed with PBX b's picture too
            async with boss.socket(http) as late:
                welcome = await next_message(late, "live_update", pbx="b", full=True)
                assert shows_call(welcome)
            # node B's own live state of PBX b stays empty: all of it is the mirror
            assert not services_b.pbx_states["b"].calls
