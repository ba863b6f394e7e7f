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
