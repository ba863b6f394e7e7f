"""The live view merged from pushed `live_update` messages (a node that does not consume
AMI), the way the pages merge them."""

from __future__ import annotations

import json
from typing import Any

from supervisor.live_mirror import LiveMirror


class Sent:
    def __init__(self) -> None:
        self.texts: list[str] = []

    def follower_count(self) -> int:
        return 0

    def to_followers_text(self, text: str) -> int:
        return 0

    def to_client_text(self, client: Any, text: str) -> bool:
        self.texts.append(text)
        return True


def _agent(interface: str, state: str) -> dict[str, Any]:
    return {"interface": interface, "state": state}


def test_deltas_before_the_first_full_picture_are_ignored() -> None:
    mirror = LiveMirror()
    mirror.observe({"type": "live_update", "full": False, "seq": 3, "queues": [], "agents": []})
    assert mirror.document() is None and not mirror.ready
    assert mirror.welcome(Sent(), object()) is False


def test_a_delta_replaces_queues_and_agents_and_drops_the_removed() -> None:
    mirror = LiveMirror()
    mirror.observe(
        {
            "type": "live_update",
            "full": True,
            "seq": 1,
            "generated_at": "t1",
            "day": "2026-12-06",
            "queues": [{"queue": "support", "waiting_count": 0}, {"queue": "sales"}],
            "agents": [_agent("a1", "available"), _agent("a2", "paused")],
            "totals": {"waiting": 0},
            "alerts": [],
        }
    )
    mirror.observe(
        {
            "type": "live_update",
            "full": False,
            "seq": 2,
            "generated_at": "t2",
            "day": "2026-12-06",
            "queues": [{"queue": "support", "waiting_count": 2}],
            "agents": [_agent("a1", "ringing"), _agent("a3", "available")],
            "removed_agents": ["a2"],
            "totals": {"waiting": 2},
            "alerts": [{"key": "wait:support"}],
        }
    )
    document = mirror.document()
    assert document is not None
    assert document["generated_at"] == "t2" and document["totals"] == {"waiting": 2}
    assert document["alerts"] == [{"key": "wait:support"}]
    assert {q["queue"]: q.get("waiting_count") for q in document["queues"]} == {
        "support": 2,
        "sales": None,
    }
    assert {a["interface"]: a["state"] for a in document["agents"]} == {
        "a1": "ringing",
        "a3": "available",
    }
    assert "removed_agents" not in document and mirror.seq == 2
    sent = Sent()
    assert mirror.welcome(sent, object())
    welcome = json.loads(sent.texts[0])
    assert (welcome["type"], welcome["full"], welcome["seq"]) == ("live_update", True, 2)
    assert welcome["agents"] == document["agents"]
