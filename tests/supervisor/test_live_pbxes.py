"""The live view of several PBXes merged into one document, and the other PBXes' pushed
messages tagged with their PBX."""

from __future__ import annotations

import json
from typing import Any

from supervisor.live_pbxes import TaggedFollowers, merge_live_views


def _view(queue: str, agent: str, waiting: int, since: str | None) -> dict[str, Any]:
    return {
        "generated_at": "2026-12-06T08:00:00.000+00:00",
        "day": "2026-12-06",
        "queues": [{"queue": queue, "waiting_count": waiting}],
        "agents": [{"interface": agent, "state": "available"}],
        "totals": {
            "calls_in_progress": waiting + 1,
            "talking": 1,
            "waiting": waiting,
            "longest_wait_seconds": 30.0 if since else 0.0,
            "longest_wait_since": since,
        },
        "alerts": [{"kind": "long_wait", "queue": queue}] if waiting else [],
    }


def test_every_pbx_is_in_the_merged_view_with_its_name() -> None:
    merged = merge_live_views(
        {
            "a": _view("support", "PJSIP/101", 2, "2026-12-06T07:59:30.000+00:00"),
            "b": _view("support", "PJSIP/101", 0, None),
        },
        ["a", "b"],
    )
    assert merged["pbxes"] == ["a", "b"]
    assert [(q["pbx"], q["queue"]) for q in merged["queues"]] == [
        ("a", "support"),
        ("b", "support"),
    ]
    assert [a["pbx"] for a in merged["agents"]] == ["a", "b"]  # the same interface twice
    assert merged["totals"] == {
        "calls_in_progress": 4,
        "talking": 2,
        "waiting": 2,
        "longest_wait_seconds": 30.0,
        "longest_wait_since": "2026-12-06T07:59:30.000+00:00",
    }
    assert merged["alerts"] == [{"kind": "long_wait", "queue": "support", "pbx": "a"}]
    only_b = merge_live_views({"b": _view("sales", "PJSIP/201", 0, None)}, ["a", "b"])
    assert {q["pbx"] for q in only_b["queues"]} == {"b"} and only_b["pbxes"] == ["a", "b"]


class _Hub:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def follower_count(self) -> int:
        return 1

    def to_followers_text(self, text: str) -> int:
        self.sent.append(text)
        return 1

    def to_client_text(self, client: Any, text: str) -> bool:
        self.sent.append(text)
        return True


def test_another_pbxs_messages_name_it() -> None:
    hub = _Hub()
    tagged = TaggedFollowers(hub, "b")
    tagged.to_followers_text('{"type":"live_update","full":true,"seq":1}')
    tagged.to_client_text(object(), '{"type":"live_update","full":false,"seq":2}')
    assert [json.loads(text)["pbx"] for text in hub.sent] == ["b", "b"]
    assert tagged.follower_count() == 1
