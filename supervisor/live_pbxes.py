"""The live view of several PBXes: each PBX's document, merged into one (pure).

Every PBX has its own live state, so each one's `/api/live` document is built alone
(`Supervisor.live_view`) and merged here: every queue, agent and alert names its `pbx`,
the totals add up, and `pbxes` lists every PBX Trubka serves (also those filtered out),
so a page can offer them. A queue of the same name on two PBXes stays two queues.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from supervisor.errors import ReportParameterError, SupervisorError
from supervisor.feed import Followers

SUMMED = ("calls_in_progress", "talking", "waiting")


class UnknownPbx(ReportParameterError):
    """A live view was asked for a PBX Trubka does not serve (`invalid_parameter`, 422);
    `message` is the catalog's text, translated where the web answers."""

    def __init__(self, message: str) -> None:
        SupervisorError.__init__(self, message, field="pbx", parameter="pbx")
        self.parameter = "pbx"
        self.reason = message


def merge_live_views(views: Mapping[str, dict[str, Any]], pbxes: Sequence[str]) -> dict[str, Any]:
    """One document of the PBXes' documents (in `views`' order); `pbxes` all names."""
    merged: dict[str, Any] = {"pbxes": list(pbxes)}
    queues: list[dict[str, Any]] = []
    agents: list[dict[str, Any]] = []
    alerts: list[dict[str, Any]] = []
    totals: dict[str, Any] = {key: 0 for key in SUMMED}
    totals["longest_wait_seconds"] = 0.0
    totals["longest_wait_since"] = None
    for name, view in views.items():
        for key in ("generated_at", "day"):
            merged.setdefault(key, view.get(key))
        queues.extend({**queue, "pbx": name} for queue in view.get("queues", ()))
        agents.extend({**agent, "pbx": name} for agent in view.get("agents", ()))
        alerts.extend({**alert, "pbx": name} for alert in view.get("alerts", ()))
        part = view.get("totals", {})
        for key in SUMMED:
            totals[key] += part.get(key, 0) or 0
        since = part.get("longest_wait_since")
        if since is not None and (
            totals["longest_wait_since"] is None or since < totals["longest_wait_since"]
        ):
            totals["longest_wait_since"] = since
        seconds = part.get("longest_wait_seconds") or 0.0
        totals["longest_wait_seconds"] = max(totals["longest_wait_seconds"], seconds)
    merged.update(queues=queues, agents=agents, totals=totals, alerts=alerts)
    return merged


class TaggedFollowers:
    """The followers of another PBX's live feed: its `live_update` messages name the
    PBX (`"pbx": NAME`), so a page follows the PBX it shows and ignores the others."""

    def __init__(self, followers: Followers, pbx: str) -> None:
        self.followers = followers
        self.suffix = ',"pbx":' + json.dumps(pbx, ensure_ascii=False) + "}"

    def tag(self, text: str) -> str:
        return text[:-1] + self.suffix if text.endswith("}") else text

    def follower_count(self) -> int:
        return self.followers.follower_count()

    def to_followers_text(self, text: str) -> int:
        return self.followers.to_followers_text(self.tag(text))

    def to_client_text(self, client: Any, text: str) -> bool:
        return self.followers.to_client_text(client, self.tag(text))
