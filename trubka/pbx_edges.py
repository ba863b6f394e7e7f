"""Several Asterisk servers (TRUBKA_PBXES): one AMI client, pipeline and live state each.

The first PBX of the list is the primary: its live state is `Services.live` and its AMI
client `Services.ami`, consumed by everything the module docstring of `trubka.wiring`
lists. Every other PBX gets an :class:`Edge` of its own:

    event (published by)          subscription          consumer (package)
    ----------------------------  --------------------  -----------------------------------
    CallEnded (the PBX's reducer),pbx-<name>-calls      CallWriter.run: stores its records
                                                        (stamped with the PBX's name); its
                                                        `CallsStored` go to the main bus,
                                                        so linking, callback tasks,
                                                        webhooks and rollups follow (crm)
    every DomainEvent             pbx-<name>-pop        Notifier.run: the screen pop of
                                                        agents whose phones are on it,
                                                        into the same socket hub
                                                        (screenpop)
    supervisor.feed.EVENT_KINDS   pbx-<name>-live-feed  LiveFeed.run: the supervisors'
                                                        live view of this PBX, its
                                                        messages tagged `"pbx": name`
                                                        (supervisor.live_pbxes)

Its consumers of the `ami` role (recordings ingest, after-call work, agent time, queue
sessions) subscribe to that bus too, as `trubka.pbx_consumers` lists; its backfill from
its books (`trubka.pbx_backfill`, when its entry names them) publishes its
`CallBackfilled` there (its call writer and recordings ingest take them).

Its AMI client runs while this node consumes the first PBX's AMI (`Edge.consume`, a job
of `trubka.node.Node.while_consuming`: on PostgreSQL while the node holds the AMI lease).
Its events go to a bus of its own, never to the primary's consumers; the live view
(`GET /api/live`) reads every PBX's live state.
Supervisor actions, click-to-call, the panel's pause and the call controls go to the PBX
where the phone or call is (`trubka.cluster.anynode`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from crm.after_call_work import AfterCallWork
from crm.call_records import CallStore
from crm.call_writer import CallWriter, PublishStored
from crm.events import BusEvent
from crm.services import CrmServices
from kernel.bus import EventBus, Subscription
from kernel.phones import format_national
from kernel.task_set import TaskSet
from recordings.service import RecordingService
from routing.decision import Reason
from screenpop.hub import Hub
from screenpop.notifier import Notifier
from screenpop.rings import marking_rings
from supervisor.directory import CrmLiveDirectory
from supervisor.feed import EVENT_KINDS as LIVE_FEED_KINDS
from supervisor.feed import Followers, LiveFeed
from supervisor.live_pbxes import TaggedFollowers
from supervisor.service import Supervisor
from telephony.actions import AmiActions
from telephony.ami_client import AmiClient, AmiConfig
from telephony.books.backfill import Backfill
from telephony.domain import CallBackfilled, CallEnded, DomainEvent
from telephony.pbx_routing import PbxRouting, present
from telephony.pbxes import PbxConfig, PbxList
from telephony.pipeline import EventPipeline
from telephony.reducer import CallState, ReducerConfig
from telephony.router import CallRouter
from trubka.adapters import CrmAgentDirectory, CrmCards
from trubka.pbx_backfill import books_backfill
from trubka.pbx_consumers import PbxConsumers, pbx_consumers
from trubka.settings import Settings

PopFactory = Callable[[CallState, CrmAgentDirectory], Notifier]
FeedFactory = Callable[[str, CallState, Subscription[DomainEvent]], LiveFeed]
ConsumersFactory = Callable[[PbxConfig, EventBus[DomainEvent]], PbxConsumers]
BackfillFactory = Callable[[PbxConfig, EventBus[DomainEvent], CallState], Backfill | None]


class PbxAgentDirectory(CrmAgentDirectory):
    """The agent directory of another PBX's screen pop: a user's agents are those whose
    phones this PBX has seen, so a socket's welcome tells the states of those only (the
    first PBX's notifier tells the others)."""

    def agents_of(self, user_id: int) -> set[str]:
        return {key for key in super().agents_of(user_id) if present(self.live.agent_for(key))}


@dataclass(eq=False)
class Edge:
    """One non-primary PBX: its AMI client, live state, call writer and screen pop."""

    config: PbxConfig
    live: CallState
    bus: EventBus[DomainEvent]
    writer: CallWriter
    agents: CrmAgentDirectory
    notifier: Notifier
    pops: Subscription[DomainEvent]
    feed: LiveFeed | None = None  # the supervisors' pushed view of this PBX
    ami: AmiClient | None = None
    actions: AmiActions | None = None
    consumers: PbxConsumers | None = None  # recordings, after-call work, agent time …
    backfill: Backfill | None = None  # its books (trubka.pbx_backfill), when it names any

    async def start(self, tasks: TaskSet) -> None:
        name = self.config.name
        tasks.start(self.writer.run(), name=f"pbx-{name}-calls")
        await self.agents.refresh()
        tasks.start(self.agents.run(), name=f"pbx-{name}-agents")
        tasks.start(self.notifier.run(self.pops), name=f"pbx-{name}-pop")
        if self.feed is not None:
            tasks.start(self.feed.run(), name=f"pbx-{name}-live-feed")

    async def consume(self) -> None:
        """Consume this PBX's AMI until cancelled: a tracked task while this node consumes
        AMI (`trubka.node.Node.while_consuming`: on PostgreSQL, while it holds the AMI
        lease, so one node consumes every PBX)."""
        if self.ami is None:
            return
        await self.ami.start()
        try:
            await asyncio.Future()
        finally:
            await self.ami.stop()

    async def stop(self) -> None:
        if self.ami is not None:
            await self.ami.stop()
        await self.writer.drain()
        await self.notifier.stop()


@dataclass(eq=False)
class PbxEdges:
    """Every PBX: the list, each one's live state, the extra ones' edges."""

    pbxes: PbxList
    states: dict[str, CallState]
    extras: list[Edge] = field(default_factory=list)

    @property
    def routing(self) -> PbxRouting:
        return PbxRouting(self.pbxes, self.states)

    async def start(self, tasks: TaskSet) -> None:
        for edge in self.extras:
            await edge.start(tasks)

    def start_consumers(self, tasks: TaskSet) -> None:
        """The consumers of the `ami` role on each other PBX's events."""
        for edge in self.extras:
            if edge.consumers is not None:
                edge.consumers.start(tasks)

    async def stop_consumers(self) -> None:
        """After the tasks are stopped: what the consumers still hold is stored."""
        for edge in self.extras:
            if edge.consumers is not None:
                await edge.consumers.stop()

    async def stop(self) -> None:
        for edge in self.extras:
            await edge.stop()

    def status(self) -> list[dict[str, object]]:
        """Each extra PBX's AMI link, for the status page and /api/status."""
        return [
            {"pbx": e.config.name, **(e.ami.status_json() if e.ami else {"connected": False})}
            for e in self.extras
        ]


def build_edges(
    pbxes: PbxList,
    primary: CallState,
    *,
    config: ReducerConfig,
    calls: CallStore,
    publish_stored: PublishStored,
    ami_config: Callable[[PbxConfig], AmiConfig] | None,
    pops: PopFactory,
    directory_for: Callable[[CallState], PbxAgentDirectory],
    feed_for: FeedFactory | None = None,
    consumers_for: ConsumersFactory | None = None,
    backfill_for: BackfillFactory | None = None,
) -> PbxEdges:
    """The extra PBXes' edges (`ami_config` None: no AMI clients, e.g. a web-only node)."""
    states = {pbxes.primary.name: primary}
    edges = PbxEdges(pbxes, states)
    for pbx in pbxes.pbxes[1:]:
        live = CallState(
            config=ReducerConfig(
                region=config.region, internal_max_digits=config.internal_max_digits, pbx=pbx.name
            )
        )
        states[pbx.name] = live
        bus: EventBus[DomainEvent] = EventBus()
        to_writer = bus.subscribe(
            f"pbx-{pbx.name}-calls", kinds=[CallEnded, CallBackfilled], maxsize=100_000
        )
        writer = CallWriter(calls, to_writer, publish_stored)
        agents = directory_for(live)
        to_pop = bus.subscribe(f"pbx-{pbx.name}-pop", maxsize=50_000)
        edge = Edge(pbx, live, bus, writer, agents, pops(live, agents), to_pop)
        if feed_for is not None:
            to_feed = bus.subscribe(
                f"pbx-{pbx.name}-live-feed", kinds=LIVE_FEED_KINDS, maxsize=100_000
            )
            edge.feed = feed_for(pbx.name, live, to_feed)
        if consumers_for is not None:
            edge.consumers = consumers_for(pbx, bus)
        if backfill_for is not None:
            edge.backfill = backfill_for(pbx, bus, live)
        if ami_config is not None:
            edge.ami = AmiClient(
                ami_config(pbx), EventPipeline(state=live), marking_rings(bus.publish)
            )
            edge.actions = AmiActions(edge.ami)
            if edge.backfill is not None:
                edge.ami.on_connected.append(edge.backfill.wake)
        edges.extras.append(edge)
    return edges


def pbx_ami_config(settings: Settings, pbx: PbxConfig) -> AmiConfig:
    """One PBX's AMI login (TRUBKA_PBXES), with TRUBKA_AMI_*'s timings."""
    return AmiConfig(
        host=pbx.ami_host,
        port=pbx.ami_port,
        username=pbx.ami_user,
        secret=pbx.ami_secret,
        ping_interval=settings.ami_ping_interval,
        action_timeout=settings.ami_action_timeout,
        connect_timeout=settings.ami_connect_timeout,
        backoff_max=settings.ami_reconnect_max,
        md5_login=pbx.ami_md5_login,
    )


def wire_edges(
    settings: Settings,
    pbxes: PbxList,
    primary: CallState,
    calls: CallStore,
    bus: EventBus[BusEvent],
    hub: Hub,
    crm: CrmServices,
    router: CallRouter,
    supervisor: Supervisor,
    *,
    ami: bool,
    recordings: RecordingService | None = None,
    after_call: AfterCallWork | None = None,
    followers: Followers | None = None,
) -> PbxEdges:
    """The other PBXes as `Services.create` builds them: their screen pops into `hub`,
    their live feeds to the supervisors, routing across all of them in `router`; AMI
    clients when this node consumes AMI (`ami`); their recordings ingest, after-call
    work, agent time and queue sessions (`recordings` and `after_call` given). The live
    feeds push to `followers` (a cluster's node: the supervisors of every node, while
    this one consumes AMI), else to `hub`'s."""
    region = settings.default_region

    def pops(live: CallState, agents: CrmAgentDirectory) -> Notifier:
        def reason(linkedid: str, said_as: str | None) -> Reason | None:
            call = live.calls.get(linkedid)
            return router.memo.reason(linkedid, call.channels if call else (), said_as=said_as)

        return Notifier(
            hub,
            live,
            agents,
            CrmCards(crm.cards, region),
            routing_reason=reason,
            phone_display=lambda number: format_national(number, region),
        )

    def feed(name: str, live: CallState, events: Subscription[DomainEvent]) -> LiveFeed:
        return LiveFeed(
            live,
            supervisor.config,
            supervisor.today,
            TaggedFollowers(followers if followers is not None else hub, name),
            events,
            directory=CrmLiveDirectory(crm.db, crm.directory),
            interval=settings.live_update_interval,
        )

    def backfill(pbx: PbxConfig, bus: EventBus[DomainEvent], live: CallState) -> Backfill | None:
        return books_backfill(
            settings,
            crm.db,
            calls,
            bus.publish,
            live,
            pbx,
            primary=False,
            spool=pbx.recordings_spool,
        )

    def consumers(pbx: PbxConfig, bus: EventBus[DomainEvent]) -> PbxConsumers:
        assert recordings is not None and after_call is not None
        return pbx_consumers(
            pbx,
            bus,
            db=crm.db,
            recordings=recordings,
            after_call=after_call,
            reports=supervisor.config,
        )

    edges = build_edges(
        pbxes,
        primary,
        config=primary.config,
        calls=calls,
        publish_stored=bus.publish,
        ami_config=(lambda pbx: pbx_ami_config(settings, pbx)) if ami else None,
        pops=pops,
        directory_for=lambda live: PbxAgentDirectory(crm.directory, live),
        feed_for=feed if supervisor.feed is not None else None,
        consumers_for=consumers if recordings is not None and after_call is not None else None,
        backfill_for=backfill,
    )
    if edges.extras:  # several PBXes: routing across them
        router.pbxes = edges.routing
    return edges
