"""What a node does with the messages of another node: a message is encoded again only
for sockets here that should get it, and still kept for a socket that connects later."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest

import trubka.cluster.node as node_module
from screenpop.hub import Client, Hub
from trubka.cluster.node import ClusterNode


async def _send(_text: str) -> None:
    return None


async def _close(_code: int, _reason: str) -> None:
    return None


async def test_relayed_messages_are_encoded_only_for_sockets_here(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    encoded: list[dict[str, Any]] = []

    def counting(message: dict[str, Any]) -> str:
        encoded.append(message)
        return json.dumps(message)

    monkeypatch.setattr(node_module, "encode", counting)
    hub = Hub()
    node = ClusterNode("postgresql://unused", hub, SimpleNamespace(), lambda: False)  # type: ignore[arg-type]
    here = Client(user_id=1, role="agent", send_text=_send, close=_close)
    hub.register(here)
    pop = {"type": "screen_pop", "linkedid": "c1", "agent_interface": "PJSIP/201"}
    node.receive({"k": "u", "u": [2], "m": pop})  # an agent connected elsewhere
    node.receive({"k": "f", "x": [], "m": {**pop, "agent_interface": "PJSIP/202"}})
    assert encoded == []  # nobody here to send them to
    assert node.relayed.welcome(2) == [pop]  # kept for when agent 2 connects here
    node.receive({"k": "u", "u": [1, 2], "m": pop})
    assert encoded == [pop] and json.loads(here.queue.get_nowait()) == pop


async def test_a_webhook_or_rule_changed_on_another_node_drops_the_kept_answers() -> None:
    from crm import listeners

    sent: list[str] = []
    node = ClusterNode("postgresql://unused", Hub(), SimpleNamespace(), lambda: False)  # type: ignore[arg-type]
    node.bridge = SimpleNamespace(send=sent.append)  # type: ignore[assignment]
    node.listeners_changed()  # a change committed here
    assert [json.loads(s) for s in sent] == [{"k": "lc"}]
    kept, reads = listeners.Kept(), [0]

    async def read(_session: Any) -> int:
        reads[0] += 1
        return reads[0]

    assert await kept.get(None, read) == 1  # type: ignore[arg-type]
    assert await kept.get(None, read) == 1  # type: ignore[arg-type]
    node.receive({"k": "lc"})  # another node's change
    assert await kept.get(None, read) == 2  # type: ignore[arg-type]


async def test_queued_work_is_told_once_per_turn_of_the_loop_and_wakes_the_workers() -> None:
    import asyncio

    sent: list[str] = []
    node = ClusterNode("postgresql://unused", Hub(), SimpleNamespace(), lambda: False)  # type: ignore[arg-type]
    node.bridge = SimpleNamespace(send=sent.append)  # type: ignore[assignment]
    for _ in range(3):  # three commits in one turn of the loop
        node.rules_queued()
        node.webhooks_queued()
    await asyncio.sleep(0)
    assert sorted(json.loads(s)["k"] for s in sent) == ["rq", "wq"]
    node.webhooks_queued()  # the next turn: told again
    await asyncio.sleep(0)
    assert [json.loads(s)["k"] for s in sent[2:]] == ["wq"]
    woken: list[str] = []
    node.on_rules_queued.append(lambda: woken.append("rules"))
    node.on_webhooks_queued.append(lambda: woken.append("webhooks"))
    node.receive({"k": "wq"})  # another node's envelopes
    node.receive({"k": "rq"})
    assert woken == ["webhooks", "rules"]
