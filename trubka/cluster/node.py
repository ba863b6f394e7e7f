"""One node of a cluster: the hub's messages go to the other nodes, theirs come here.

Every node's hub relays what it sends to users' and supervisors' sockets (and the
sockets it closes) to the other nodes through :class:`~trubka.cluster.bridge.PgBridge`;
what comes from another node goes to this node's sockets of the same users (user ids
are the database's, the same on every node) in the same format, and is also kept:

* pops, answered calls and agent states in the notifier's
  :class:`~screenpop.relayed.RelayedPops` (a socket that connects here is welcomed, the
  panel's current call and the wrap-up's participants are known here);
* `live_update` messages merged in :class:`~supervisor.live_mirror.LiveMirror`
  (`GET /api/live` and a new supervisor's socket here), one per PBX: the other PBXes'
  messages name theirs (`"pbx"`, absent for the first PBX; `pbx_feeds` are this node's
  feeds of them, pushed while it consumes AMI like the first PBX's).

The node that consumes AMI (`producing()` true: its AMI client is connected) makes the
pops and the live view; the others only relay. A node that does not consume AMI keeps
its own live feed quiet (it has no calls: its picture would be empty) and welcomes
supervisors with the mirror's. The producer builds the live view while supervisors
watch here or on a node that announced them in the last 15 s.

Envelopes (JSON, `k` the kind): `u` a message `m` for the users `u`; `f` a message for
the supervisors except the users `x`; `c` close the sockets of a `user` or `session`
(`w`, `id`) with `code` and `r`; `sync` a node (re)joined and asks for the whole
picture; `s0` that picture begins (the calls known so far are forgotten: a message lost
meanwhile leaves nothing stale) and `s` is a message of it for the users `u` (kept, not
sent to sockets);
`f` envelopes travel on the bridge's followers' lane, behind the rest (a pop is never
held up by the live view); a message reaches this node's sockets only when one of
them should get it (it is encoded again for them);
`w` node `n` has `c` supervisors' sockets (sent every 5 s while it has any, and when
one connects); `q` a PBX action for the node consuming AMI and `a` its answer, `p` node
`n` consumes AMI (every 5 s and with the picture), `p?` who consumes AMI
(`trubka.cluster.remote`); `cs` calls were stored here (a `workers` node's report
rollups wake); `rq` events were queued for the rules here (`crm.rules.record`: a commit
that queued some; at most one envelope per turn of the event loop): a `workers` node's
rules worker wakes at once instead of at its next poll; `lc` a webhook or a rule changed
here (`crm.listeners`: the other nodes read again who listens to the call events); `wq`
webhook deliveries were queued or resumed here (`crm.hooks.outbox`, at most one envelope
per turn of the loop): the delivery workers of the other nodes look at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from crm import listeners
from crm.hooks import outbox as webhook_outbox
from crm.rules.record import WAKERS
from kernel.once_per_turn import OncePerTurn
from kernel.task_set import TaskSet
from screenpop.hub import Hub, encode
from screenpop.notifier import Notifier
from screenpop.relayed import RelayedPops
from supervisor.feed import LiveFeed
from supervisor.live_mirror import LiveMirror
from trubka.cluster.bridge import CHANNEL, PgBridge
from trubka.cluster.remote import RemoteActions

log = logging.getLogger(__name__)

ANNOUNCE_EVERY = 5.0  # seconds between a node's "supervisors watching here" (`w`)


def node_name() -> str:
    """`host:pid:token`: this process among the cluster's nodes."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _ids(users: Iterable[int]) -> str:
    return "[" + ",".join(str(int(u)) for u in sorted(set(users))) + "]"


class ClusterNode:
    def __init__(
        self,
        dsn: str,
        hub: Hub,
        notifier: Notifier,
        producing: Callable[[], bool],
        *,
        node: str | None = None,
        channel: str = CHANNEL,
        **bridge_options: Any,
    ) -> None:
        self.node = node or node_name()
        self.hub = hub
        self.notifier = notifier
        self.producing = producing
        self.relayed = RelayedPops()
        self.mirror = LiveMirror()
        self.feed: LiveFeed | None = None
        self.pbx_feeds: list[LiveFeed] = []  # the other PBXes' live feeds (TRUBKA_PBXES)
        self.mirrors: dict[str, LiveMirror] = {}  # the other PBXes' mirrors, by name
        self.announce_every = ANNOUNCE_EVERY
        self._watchers: dict[str, tuple[int, float]] = {}  # node -> (supervisors, when)
        self.on_calls_stored: list[Callable[[], None]] = []  # another node stored calls
        self.on_rules_queued: list[Callable[[], None]] = []  # ... queued rule events
        self.on_webhooks_queued: list[Callable[[], None]] = []  # ... webhook deliveries
        self._soon: dict[str, OncePerTurn] = {}  # by envelope kind (`_tell_soon`)
        self._mirrored = asyncio.Event()  # a live_update came (fresh_live_document)
        self._asked_at = float("-inf")  # when this node last asked for the live view
        self.bridge = PgBridge(
            dsn,
            self.node,
            self.receive,
            channel=channel,
            on_joined=self._joined,
            on_gap=self.resync,
            **bridge_options,
        )
        self.remote = RemoteActions(self.node, self.bridge.send, producing)  # PBX actions
        hub.relay = self
        notifier.relayed = self.relayed

    async def start(self, tasks: TaskSet, within: float = 5.0) -> None:
        """Run the bridge (a tracked task) and wait until it listens, at most `within`
        seconds (then it keeps trying in the background)."""
        tasks.start(self.bridge.run(), name="cluster-bridge")
        tasks.start(self._announce_forever(), name="cluster-watchers")
        tasks.start(self._tell_rules_queued(), name="cluster-rules-queued")
        try:
            async with asyncio.timeout(within):
                await self.bridge.listening.wait()
        except TimeoutError:
            log.warning("cluster: not listening to the other nodes yet; trying on")

    # --- the hub's relay (screenpop.hub.Relay) -----------------------------------------
    def users(self, user_ids: Iterable[int], text: str) -> None:
        self.bridge.send('{"k":"u","u":' + _ids(user_ids) + ',"m":' + text + "}")

    def followers(self, text: str, except_users: Iterable[int]) -> None:
        if not self._remote_watchers():
            return  # no supervisor watches on another node: nobody there needs it
        self.bridge.send_followers('{"k":"f","x":' + _ids(except_users) + ',"m":' + text + "}")

    def close(self, kind: str, key: str | int, code: int, reason: str) -> None:
        self.bridge.send(encode({"k": "c", "w": kind, "id": key, "code": code, "r": reason}))

    # --- from the other nodes --------------------------------------------------------
    def receive(self, envelope: dict[str, Any]) -> None:
        kind = envelope.get("k")
        if kind == "u":
            message = envelope["m"]
            users = envelope["u"]
            self.relayed.observe(users, message)
            if self.hub.reaches(users):  # encoded again only for sockets here
                self.hub.to_users_text(users, encode(message))
        elif kind == "f":
            message = envelope["m"]
            if message.get("type") == "live_update":
                if self.producing():
                    return  # this node makes the live view itself (a fail-over overlap)
                self._mirror_of(message.get("pbx")).observe(message)
                self._mirrored.set()
            else:
                self.relayed.observe_followers(message)
            if self.hub.follower_count():
                self.hub.followers_text_here(encode(message), envelope.get("x", ()))
        elif kind == "s0":
            self.relayed.forget_calls()
        elif kind == "s":
            self.relayed.observe(envelope["u"], envelope["m"])
        elif kind == "c":
            if envelope.get("w") == "user":
                self.hub.close_user_here(int(envelope["id"]), int(envelope["code"]), envelope["r"])
            else:
                self.hub.close_session_here(
                    str(envelope["id"]), int(envelope["code"]), envelope["r"]
                )
        elif kind == "sync":
            self.resync()
        elif kind == "cs":
            for wake in self.on_calls_stored:
                wake()
        elif kind == "rq":
            for wake in self.on_rules_queued:
                wake()
        elif kind == "wq":
            for wake in self.on_webhooks_queued:
                wake()
        elif kind == "lc":
            listeners.changed()
        elif kind == "q":
            self.remote.request(envelope)
        elif kind == "a":
            self.remote.answer(envelope)
        elif kind == "p":
            self.remote.heard_producer(str(envelope.get("n")))
        elif kind == "p?":
            self.remote.announce()
        elif kind == "w":
            had = self._remote_watchers()
            self._watchers[str(envelope["n"])] = (int(envelope["c"]), time.monotonic())
            if self.producing() and not had and self._remote_watchers():
                self._mark_all()  # someone watches elsewhere: the whole picture now

    async def calls_stored(self, _event: object) -> None:
        """A `CallsStored` consumer: tell the other nodes (their rollups wake)."""
        self.bridge.send('{"k":"cs"}')

    async def _tell_rules_queued(self) -> None:
        """While the node runs: a commit here that queued rule events, or changed a
        webhook or a rule, tells the others."""
        told = [
            (WAKERS, self.rules_queued),
            (webhook_outbox.WAKERS, self.webhooks_queued),
            (listeners.CHANGED, self.listeners_changed),
        ]
        for hooks, hook in told:
            hooks.append(hook)
        try:
            await asyncio.Event().wait()
        finally:
            for hooks, hook in told:
                if hook in hooks:
                    hooks.remove(hook)

    def listeners_changed(self) -> None:
        self.bridge.send('{"k":"lc"}')

    def rules_queued(self) -> None:
        """Events were queued for the rules here: one `rq` envelope this turn of the loop."""
        self._tell_soon("rq")

    def webhooks_queued(self) -> None:
        """Webhook deliveries were queued (or resumed) here: one `wq` envelope this turn
        of the loop (the delivery workers of the other nodes look at once)."""
        self._tell_soon("wq")

    def _tell_soon(self, kind: str) -> None:
        """Send `{"k": kind}` once this turn of the event loop, however many commits ask
        (not on the event loop's thread: nothing, the others' poll finds them)."""
        soon = self._soon.get(kind)
        if soon is None:
            soon = self._soon[kind] = OncePerTurn(partial(self._tell_now, kind))
        soon()

    def _tell_now(self, kind: str) -> None:
        self.bridge.send(encode({"k": kind}))

    # --- who watches the live view on other nodes ----------------------------------
    def announce(self) -> None:
        """Tell the node making the live view how many supervisors watch here."""
        count = 0 if self.producing() else self.hub.follower_count()
        self.bridge.send(encode({"k": "w", "n": self.node, "c": count}))

    async def _announce_forever(self) -> None:
        while True:
            await asyncio.sleep(self.announce_every)
            self.remote.announce()  # "I consume AMI": the others may send PBX actions here
            if not self.producing() and self.hub.follower_count():
                self.announce()

    def _remote_watchers(self) -> int:
        fresh = time.monotonic() - 3 * self.announce_every
        return sum(count for count, at in self._watchers.values() if at >= fresh)

    def _joined(self) -> None:
        """Listening (again): ask the node consuming AMI for the whole picture; the
        workers here look for queued work at once (a `wq`, `rq` or `lc` may have been
        missed while not listening)."""
        log.info("cluster: node %s listens on %s", self.node, self.bridge.channel)
        self.bridge.send('{"k":"sync"}')
        listeners.changed()
        for wake in (*self.on_rules_queued, *self.on_webhooks_queued):
            wake()

    def resync(self) -> None:
        """If this node consumes AMI: send the others the whole picture (every agent's
        state, pop and answered call; the live view in full with the next update)."""
        if not self.producing():
            return
        self.remote.announce()
        self.bridge.send('{"k":"s0"}')  # the picture follows: forget the calls known so far
        for users, message in self.notifier.snapshot():
            self.bridge.send('{"k":"s","u":' + _ids(users) + ',"m":' + encode(message) + "}")
        self._mark_all()

    def _mark_all(self) -> None:
        """Every PBX's live feed here sends the whole picture with its next update."""
        for feed in (self.feed, *self.pbx_feeds):
            if feed is not None:
                feed.mark_all()

    def _mirror_of(self, pbx: object) -> LiveMirror:
        """The mirror of a message's PBX (`pbx` absent: the first PBX's)."""
        if not isinstance(pbx, str):
            return self.mirror
        mirror = self.mirrors.get(pbx)
        if mirror is None:
            mirror = self.mirrors[pbx] = LiveMirror(pbx=pbx)
        return mirror

    # --- the live feed on this node --------------------------------------------------
    def follower_count(self) -> int:
        """The live feed's audience: nobody while another node makes the view; while
        this node makes it, the supervisors here and those the other nodes announced."""
        if not self.producing():
            return 0
        return self.hub.follower_count() + self._remote_watchers()

    def to_followers_text(self, text: str) -> int:
        if not self.producing():
            return 0
        return self.hub.to_followers_text(text)

    def to_client_text(self, client: Any, text: str) -> bool:
        return self.hub.to_client_text(client, text)

    def welcome_supervisor(self, client: Any) -> None:
        """A supervisor's socket connected here: the live view, from whoever makes it."""
        if self.producing():
            for feed in (self.feed, *self.pbx_feeds):
                if feed is not None:
                    feed.welcome(client)
            return
        self.announce()  # the node making the view keeps it coming
        if not self.mirror.welcome(self, client):
            # nothing came yet: the whole picture the producer sends reaches this socket
            self.bridge.send('{"k":"sync"}')
        for mirror in self.mirrors.values():  # the other PBXes' (tagged with theirs)
            mirror.welcome(self, client)

    async def fresh_live_document(self, within: float = 1.0) -> dict[str, Any] | None:
        """The mirrored live view, kept fresh for a reader (`/api/status`, the admin
        dashboard) when no supervisor watches here: this node counts as one watcher
        for the next 15 s (`w`), so the node consuming AMI pushes the whole picture,
        awaited at most `within` seconds (None: this node makes the view itself)."""
        if self.producing():
            return None
        now = time.monotonic()
        if not self.hub.follower_count() and now - self._asked_at > 2 * self.announce_every:
            self._asked_at = now
            self._mirrored.clear()
            self.bridge.send(encode({"k": "w", "n": self.node, "c": 1}))
            try:
                async with asyncio.timeout(within):
                    await self._mirrored.wait()
            except TimeoutError:
                pass  # nobody makes the view now: the last picture (or none)
        return self.mirror.document()

    def live_document(self) -> dict[str, Any] | None:
        """`GET /api/live` here when another node makes the live view (else None)."""
        if self.producing():
            return None
        return self.mirror.document()

    def pbx_live_documents(self) -> dict[str, dict[str, Any]]:
        """The other PBXes' mirrored live views by name, those that came (empty while
        this node makes the views itself)."""
        if self.producing():
            return {}
        documents: dict[str, dict[str, Any]] = {}
        for name, mirror in self.mirrors.items():
            document = mirror.document()
            if document is not None:
                documents[name] = document
        return documents

    def status(self) -> dict[str, Any]:
        stats = self.bridge.stats
        return {
            "node": self.node,
            "listening": self.bridge.listening.is_set(),
            "producing": self.producing(),
            "sent": stats.sent,
            "received": stats.received,
            "notifies": stats.notifies,
            "stored": stats.stored,
            "dropped": stats.dropped,
            "live_seq": self.mirror.seq,
            "ami_node": self.node if self.producing() else self.remote.producer(),
        }
