"""The live view on a node that does not consume AMI: the pushed `live_update`
messages of the node that does, merged into one document.

In a cluster (`trubka.cluster`) the node consuming AMI builds the live view and its
`live_update` messages reach every node's supervisors. Each node also merges them here,
the way `live.js` merges them in the browser: a full message replaces the document, a
delta replaces the queues (by `queue`) and agents (by `interface`) it carries, drops
`removed_agents` and takes the header, totals and alerts. The result answers
`GET /api/live` and welcomes a new supervisor's socket with a full message of the last
`seq`. Each queue's `waiting` list is the pushed one (its first 50 callers;
`waiting_count` counts them all).

With several PBXes (TRUBKA_PBXES) a node keeps one mirror per PBX: the other PBXes'
messages name theirs (`"pbx": NAME`, absent for the first PBX), and a mirror made for
`pbx` welcomes a socket with its name in the message, as that PBX's feed would.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from supervisor.feed import Followers

Document = dict[str, Any]


class LiveMirror:
    def __init__(self, clock: Callable[[], float] = time.time, *, pbx: str | None = None) -> None:
        self.clock = clock
        self.pbx = pbx  # the PBX whose view this mirrors (None: the first)
        self.seq = 0
        self.received_at: float | None = None  # when the last message came
        self._doc: Document | None = None
        self._queues: dict[str, Document] = {}
        self._agents: dict[str, Document] = {}

    @property
    def ready(self) -> bool:
        """True once a whole picture came (deltas before it are useless)."""
        return self._doc is not None

    def observe(self, message: Document) -> None:
        """A `live_update` another node pushed."""
        if message.get("type") != "live_update":
            return
        self.received_at = self.clock()
        body = {k: v for k, v in message.items() if k not in ("type", "full", "seq", "pbx")}
        if message.get("full"):
            self._doc = body
            self._queues = {q["queue"]: q for q in body.get("queues", [])}
            self._agents = {a["interface"]: a for a in body.get("agents", [])}
        elif self._doc is None:
            return
        else:
            for queue in body.pop("queues", []):
                self._queues[queue["queue"]] = queue
            for agent in body.pop("agents", []):
                self._agents[agent["interface"]] = agent
            for gone in body.pop("removed_agents", []):
                self._agents.pop(gone, None)
            self._doc.update(body)
        self.seq = int(message.get("seq") or self.seq)

    def document(self) -> Document | None:
        """The live view as the node consuming AMI last pushed it (None before the first)."""
        if self._doc is None:
            return None
        return {**self._doc, "queues": list(self._queues.values()), "agents": self._agents_list()}

    def _agents_list(self) -> list[Document]:
        return list(self._agents.values())

    def welcome(self, followers: Followers, client: Any) -> bool:
        """Send a new supervisor's socket the whole picture; False before the first one."""
        document = self.document()
        if document is None:
            return False
        message = {"type": "live_update", "full": True, "seq": self.seq, **document}
        if self.pbx is not None:
            message["pbx"] = self.pbx
        text = json.dumps(message, ensure_ascii=False, separators=(",", ":"), default=str)
        return followers.to_client_text(client, text)
