"""The composition root: every service one Trubka process runs, and who consumes what.

After the reducer, events flow as this table says. Every subscription is made in
`Services.create` (its "bus" block) and nowhere else; the packages only expose the
consumers (a `run` coroutine over a subscription, or a handler).

    event (published by)          subscription        consumer, in order (package)
    ----------------------------  ------------------  ---------------------------------------
    CallEnded (reducer),          call-writer         CallWriter.run: stores the call records
      CallBackfilled (backfill)                       (crm), each linkedid once
    CallsStored (call writer,     crm-after-store     1. crm.link_calls: calls get their
      after each commit)                                 contact
                                                      2. callbacks.on_calls_saved: missed
                                                         calls of known customers get a
                                                         callback task, answered ones
                                                         close the customer's open tasks;
                                                         after 1, it needs the contacts
                                                         (crm)
                                                      3. CallHooks.on_calls_stored: the
                                                         call.* webhook events into the
                                                         outbox; after 1, it needs the
                                                         contacts (crm.hooks)
                                                      4. CallRuleEvents.on_calls_stored:
                                                         the call.* events into the
                                                         triggers' queue; after 1
                                                         (crm.rules)
                                  supervisor-rollups  supervisor.calls_stored: wakes the
                                                      report rollups (supervisor); then
                                                      ClusterNode.calls_stored: wakes the
                                                      other nodes' rollups (trubka.cluster)
    RecordingStarted, Recording-  recordings          Ingest.consume: recording jobs
      Stopped, CallEnded,                             (recordings)
      CallBackfilled
    SpySessionEnded (reducer)     spy-sessions        SpySessions.run: how long a supervisor
                                                      listened, beside the audit (supervisor)
    CallEnded (reducer)           after-call-work     AfterCallWork.run: holding the agent out
                                                      of the queues while they owe the
                                                      wrap-up (crm); the wrap-up owed is
                                                      stored by the call writer, with the
                                                      call's record (AfterCallWork.owed)
    AgentStateChanged             agent-time          AgentTimeRecorder.run: time per agent
                                                      state (supervisor)
    AgentStateChanged             agent-sessions      QueueSessionRecorder.run: queue logins
                                                      and logouts (supervisor)
    supervisor.feed.EVENT_KINDS   live-feed           LiveFeed.run: the supervisors' live
                                                      view (supervisor)
    every DomainEvent             screen-pop          Notifier.run: the agents' screen pop
                                                      (screenpop)

`CallBackfilled` comes from `telephony.books.backfill.Backfill`: on every AMI (re)connect
and every TRUBKA_BACKFILL_INTERVAL seconds it reads Asterisk's queue_log and CDR file
(TRUBKA_ASTERISK_QUEUE_LOG, TRUBKA_ASTERISK_CDR) for calls Trubka did not see; a call the
reducer still follows (after a transfer its queue stay is over) is left to the live writer.

Several PBXes (TRUBKA_PBXES): the table is the first PBX's; every other PBX has a bus
of its own (its call writer, screen pop and live feed), listed in `trubka.pbx_edges`,
and its consumers of the `ami` role (recordings ingest, after-call work, agent time,
queue sessions), listed in `trubka.pbx_consumers`; its backfill (`trubka.pbx_backfill`)
publishes on it.

Not on the bus: the webhook outbox. Contacts and deals write their `contact.*` and
`deal.*` events into it in the transaction of the change (`crm.hooks.outbox.emit`); the
task "webhook-delivery" (`crm.hooks.worker.DeliveryWorker.run`) POSTs them to the
subscribers and retries (a webhook it disables is written to the supervisors' audit).

Not on the bus either: other nodes. With PostgreSQL (TRUBKA_CLUSTER), the hub's messages
to sockets go to the other nodes and theirs come here (`trubka.cluster.node.ClusterNode`,
the hub's `relay`); the live feed publishes through it (quiet while another node
consumes AMI).
Not on the bus either: the task "mail-poller" (`crm.mail.poller.MailPoller.run`, when
TRUBKA_MAIL_ENABLED) idles until a mailbox exists, then reads new letters over IMAP into
the contacts' timelines every TRUBKA_MAIL_POLL_INTERVAL seconds (a mailbox change wakes
it).
Not on the bus either: the triggers' queue (`rule_events`). Contact and deal events go into
it with their webhook events (`crm.hooks.outbox.emit` → `crm.rules.record`), call events
from `CallsStored` (4. above); the task "rules" (`crm.rules.worker.RuleWorker.run`) runs
the enabled rules on them and notifies users in the panel through the hub (on
PostgreSQL the worker may run on another node, `--roles workers`: a commit that queued
events wakes it through the cluster, `trubka.cluster.node` `rq`, and its notices reach
the sockets on the web nodes through the hub's relay). With TRUBKA_RULES_PROCESS the
task "rules-process" runs it in a child process instead (`trubka.rules_process`): this
node's commits wake it, its notices come back to the hub.

One direct line, not on the bus: when the report rollups change, the live feed re-reads
today's figures (`supervisor.rollups.listeners` → `supervisor.feed.today_changed`).

Roles (`trubka serve --roles`, TRUBKA_ROLES; `trubka.node`): `ami` runs the AMI client
and the consumers of its events (call writer and `crm-after-store`, recordings ingest,
agent time and queue sessions, after-call work, spy sessions, backfill); `agi` the
FastAGI server; `workers` the database's background work (recordings transcoding and
purge, report rollups, webhook delivery, session purge); `web` the pages, API and `/ws`
(`trubka.app`). On PostgreSQL the AMI client runs only while the node holds the AMI
lease (`trubka.ami_failover`).

`Services.start` starts the consumers before anything publishes (the AMI client, then
FastAGI in `Services.listen`); `Services.stop` stops them the other way round, letting
the call writer and its `CallsStored` consumers drain first. `trubka.app` runs both in
its lifespan.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from types import MappingProxyType
from typing import cast, get_args
from zoneinfo import ZoneInfo

from crm.after_call_work import KINDS as AFTER_CALL_KINDS
from crm.after_call_work import AfterCallWork
from crm.call_records import CallStore
from crm.call_writer import CallWriter
from crm.callbacks import CallbackTasks
from crm.database import Database
from crm.events import BusEvent, CallsStored
from crm.hooks.calls import CallHooks
from crm.hooks.worker import DeliveryWorker, WorkerConfig
from crm.mail.poller import MailPoller, PollConfig
from crm.numbers import fast_parse
from crm.rules.calls import CallRuleEvents
from crm.rules.record import WAKERS
from crm.rules.worker import RuleWorker
from crm.rules.worker import WorkerConfig as RulesConfig
from crm.services import CrmServices
from crm.sessions import purge_periodically
from kernel.bus import EventBus, Subscription
from kernel.consumer import Consumer
from kernel.phones import format_national
from kernel.task_set import TaskSet
from recordings.ingest import KINDS as RECORDING_KINDS
from recordings.service import RecordingService
from routing.decision import Reason
from routing.errors import RulesError
from routing.rules import load_rules
from routing.source import FactsSource, InMemoryFactsSource
from screenpop.hub import Hub
from screenpop.notifier import Notifier
from screenpop.rings import marking_rings
from supervisor.admin_settings import AdminSettings
from supervisor.agent_sessions import QueueSessionRecorder
from supervisor.audit import Actor as AuditActor
from supervisor.audit import AuditAction, AuditEntry, Outcome
from supervisor.callbacks import TasksOfCalls
from supervisor.directory import CrmLiveDirectory
from supervisor.feed import EVENT_KINDS as LIVE_FEED_KINDS
from supervisor.feed import LiveFeed
from supervisor.pbx_facts import AgentRoster, asterisk_service_levels
from supervisor.rules_admin import RulesAdmin
from supervisor.service import Supervisor
from telephony.actions import AmiActions
from telephony.agi_server import AgiServer
from telephony.ami_client import AmiClient, AmiConfig
from telephony.books.backfill import Backfill
from telephony.domain import (
    AgentStateChanged,
    CallBackfilled,
    CallEnded,
    DomainEvent,
    SpySessionEnded,
)
from telephony.pipeline import EventPipeline
from telephony.reducer import CallState, ReducerConfig
from telephony.router import CallRouter
from trubka.adapters import CrmAgentDirectory, CrmCallbackTasks, CrmCards
from trubka.admin_system import SystemAdmin
from trubka.cluster import anynode
from trubka.cluster.anynode_controls import ControlsRouter
from trubka.cluster.node import ClusterNode
from trubka.node import Node
from trubka.pbx_backfill import books_backfill
from trubka.pbx_edges import PbxEdges, pbx_ami_config, wire_edges
from trubka.rules_process import ChildConfig, RulesProcess
from trubka.settings import Settings, SettingsError
from web.api.admin_settings import builtin_pause_reasons
from web.api.wrapup_codes import builtin_wrapup_codes
from web.auth import socket_user
from web.ws import SocketAuthenticator, SocketUser

log = logging.getLogger(__name__)

DOMAIN_KINDS: tuple[type, ...] = get_args(DomainEvent)  # every event the reducer emits
QUEUE_BOUND = 100_000  # events a subscriber may fall behind before the bus drops its events


def domain_events(
    bus: EventBus[BusEvent], name: str, kinds: Iterable[type], maxsize: int = QUEUE_BOUND
) -> Subscription[DomainEvent]:
    """Subscribe `name` to some of the reducer's events (its queue gets nothing else)."""
    kinds = tuple(kinds)
    if not set(kinds) <= set(DOMAIN_KINDS):
        raise TypeError(f"{name}: not domain events: {set(kinds) - set(DOMAIN_KINDS)}")
    return cast("Subscription[DomainEvent]", bus.subscribe(name, kinds=kinds, maxsize=maxsize))


def calls_stored(bus: EventBus[BusEvent], name: str) -> Subscription[CallsStored]:
    """Subscribe `name` to the call writer's `CallsStored` batches (nothing else)."""
    return cast(
        "Subscription[CallsStored]",
        bus.subscribe(name, kinds=[CallsStored], maxsize=QUEUE_BOUND),
    )


async def _nobody(_websocket: object) -> SocketUser | None:
    return None


@dataclass(eq=False)
class Services:
    settings: Settings
    db: Database
    bus: EventBus[BusEvent]
    live: CallState
    calls: CallStore
    call_writer: CallWriter
    crm_after_store: Consumer[CallsStored]  # contact linking, then callback tasks
    supervisor_rollups: Consumer[CallsStored]  # the supervisor's report rollups
    screen_pop: Subscription[DomainEvent]
    spy_sessions: Subscription[DomainEvent]
    backfill: Backfill | None  # None when no book of Asterisk's is configured
    hub: Hub
    notifier: Notifier
    router: CallRouter
    agi: AgiServer
    recordings: RecordingService
    crm: CrmServices
    agent_directory: CrmAgentDirectory
    supervisor: Supervisor
    callbacks: CallbackTasks
    after_call: AfterCallWork
    after_call_events: Subscription[DomainEvent]
    rules_admin: RulesAdmin  # the routing rules in the database, in force in `router`
    admin_settings: AdminSettings  # pause reasons, service-level targets, retention
    system: SystemAdmin = field(init=False)  # /admin/system: links, storage, backups
    ws_authenticate: SocketAuthenticator = _nobody
    tasks: TaskSet = field(default_factory=TaskSet)
    ami: AmiClient | None = None  # None when TRUBKA_AMI_ENABLED is false
    queue_sessions: QueueSessionRecorder | None = None  # queue logins/logouts
    pbx: AmiActions | None = None  # typed actions (originate, pause, spy …) over `ami`
    webhook_worker: DeliveryWorker | None = None  # the outbox's deliveries (crm.hooks)
    pbx_edges: PbxEdges | None = None  # every PBX's live state; the others' AMI (pbx_edges)
    cluster: ClusterNode | None = None  # pops and live views between nodes (PostgreSQL)
    node: Node = field(init=False)  # roles, health, the SQLite lock, the AMI lease
    mail_poller: MailPoller | None = None  # letters over IMAP (crm.mail); TRUBKA_MAIL_ENABLED
    rule_worker: RuleWorker | None = None  # the triggers' queue (crm.rules)
    # the same worker in a process of its own (TRUBKA_RULES_PROCESS; trubka.rules_process)
    rules_process: RulesProcess | None = None
    call_controls: ControlsRouter | None = None  # the card's controls from any node, any PBX

    @property
    def live_feed(self) -> LiveFeed | None:
        """The supervisors' live view over `/ws` (web/ws.py welcomes their sockets)."""
        return self.supervisor.feed

    @property
    def pbx_states(self) -> Mapping[str, CallState]:
        """Every PBX's live state by name, the primary's (`live`) first."""
        if self.pbx_edges is None:
            return {self.live.config.pbx: self.live}
        return self.pbx_edges.states

    @property
    def pbx_live_feeds(self) -> tuple[LiveFeed, ...]:
        """The other PBXes' live feeds (their messages carry `pbx`); web/ws.py welcomes
        supervisors' sockets to each."""
        if self.pbx_edges is None:
            return ()
        return tuple(e.feed for e in self.pbx_edges.extras if e.feed is not None)

    @property
    def pbx_notifiers(self) -> tuple[Notifier, ...]:
        """The other PBXes' screen pops; web/ws.py welcomes every socket to each."""
        if self.pbx_edges is None:
            return ()
        return tuple(e.notifier for e in self.pbx_edges.extras)

    @property
    def consumes_ami(self) -> bool:
        """This node reads the PBX's events now (makes the pops and the live view)."""
        return self.ami is not None and self.ami.connected

    def use_facts_source(self, source: FactsSource) -> None:
        """Swap where routing facts come from (e.g. the CRM's database-backed source)."""
        self.router.source = source

    @classmethod
    def create(cls, settings: Settings) -> Services:
        db = Database(settings.database_url)
        # --- the bus: every subscription (the table at the top of this module) --------
        bus: EventBus[BusEvent] = EventBus()
        to_call_writer = domain_events(bus, "call-writer", [CallEnded, CallBackfilled])
        to_crm_after_store = calls_stored(bus, "crm-after-store")
        to_rollups = calls_stored(bus, "supervisor-rollups")
        to_recordings = domain_events(bus, "recordings", RECORDING_KINDS)
        to_agent_time = domain_events(bus, "agent-time", [AgentStateChanged])
        to_after_call = domain_events(bus, "after-call-work", AFTER_CALL_KINDS)
        to_spy_sessions = domain_events(bus, "spy-sessions", [SpySessionEnded])
        to_agent_sessions = domain_events(bus, "agent-sessions", [AgentStateChanged])
        to_live_feed = domain_events(bus, "live-feed", LIVE_FEED_KINDS)
        to_screen_pop = domain_events(bus, "screen-pop", DOMAIN_KINDS, maxsize=50_000)

        calls = CallStore(db)
        writer = CallWriter(calls, to_call_writer, bus.publish)
        pbx_list = settings.pbx_list()  # TRUBKA_PBXES, else "default" of TRUBKA_AMI_*
        live = CallState(
            config=ReducerConfig(
                region=settings.default_region,
                internal_max_digits=settings.internal_number_max_digits,
                pbx=pbx_list.primary.name,
            )
        )
        try:
            rules = load_rules(settings.routing_rules, region=settings.default_region)
        except RulesError as exc:
            raise SettingsError(f"TRUBKA_ROUTING_RULES: {exc}") from exc
        router = CallRouter(
            InMemoryFactsSource(),
            live,
            rules,
            region=settings.default_region,
            facts_timeout=settings.routing_facts_timeout,
            parse_number=fast_parse,
        )
        agi = AgiServer(router, settings.agi_host, settings.agi_port)

        def routing_reason(linkedid: str, said_as: str | None) -> Reason | None:
            call = live.calls.get(linkedid)
            return router.memo.reason(linkedid, call.channels if call else (), said_as=said_as)

        calls.routing_reason = routing_reason  # stored with the call beside the English text

        crm = CrmServices.create(
            db,
            region=settings.default_region,
            secret_key=settings.secret_key,
            cookie_secure=settings.cookie_secure,
        )
        router.source = crm.routing_facts
        # Missed calls of known customers → callback tasks (after linking: needs contacts).
        callbacks = CallbackTasks(
            db, crm.directory, lambda: router.rules, ZoneInfo(settings.timezone)
        )
        call_hooks = CallHooks(db, crm.directory)
        call_rules = CallRuleEvents(db, crm.directory)
        crm_after_store = Consumer(
            to_crm_after_store,
            crm.link_calls,
            callbacks.on_calls_saved,
            call_hooks.on_calls_stored,
            call_rules.on_calls_stored,
        )
        agent_directory = CrmAgentDirectory(crm.directory, live)
        hub = Hub()
        notifier = Notifier(
            hub,
            live,
            agent_directory,
            CrmCards(crm.cards, settings.default_region),
            routing_reason=routing_reason,
            phone_display=lambda number: format_national(number, settings.default_region),
        )
        recordings = RecordingService.from_settings(
            settings,
            db,
            to_recordings,
            pbx=pbx_list.primary.name,
            spool=pbx_list.primary.recordings_spool,
        )
        cluster = _cluster(settings, db, hub, notifier, lambda: services.consumes_ami)

        def pbx() -> AmiActions | None:
            return services.pbx

        service_levels = settings.service_levels()  # the admin's targets update it in place
        # The alerts' pause limits stay live: the admin's pause reasons change them.
        alerts = settings.alert_thresholds()
        pause_limits = dict(alerts.pause_limits)
        alerts = replace(alerts, pause_limits=MappingProxyType(pause_limits))
        supervisor = Supervisor.create(
            db,
            to_agent_time,
            timezone=settings.timezone,
            service_level_seconds=settings.service_level_seconds,
            queue_service_levels=MappingProxyType(service_levels),
            asterisk_service_levels=asterisk_service_levels(live),
            agent_keys=AgentRoster(crm.directory, live),
            callback_tasks=CrmCallbackTasks(callbacks, TasksOfCalls(db)),
            directory=CrmLiveDirectory(db, crm.directory),
            live=live,
            followers=cluster if cluster is not None else hub,
            pbx=pbx,
            live_events=to_live_feed,
            live_interval=settings.live_update_interval,
            spy_ring_seconds=settings.spy_ring_seconds,
            alerts=alerts,
            users=crm.users,
        )
        supervisor_rollups = Consumer(
            to_rollups,
            supervisor.calls_stored,
            *([cluster.calls_stored] if cluster is not None else []),  # wake other workers
        )
        if cluster is not None:
            cluster.on_calls_stored.append(supervisor.rollups.wake)
        backfill = books_backfill(
            settings,
            db,
            calls,
            bus.publish,
            live,
            pbx_list.primary,
            primary=True,
            spool=recordings.config.spool,
        )
        if supervisor.feed is not None:
            supervisor.rollups.listeners.append(supervisor.feed.today_changed)
        if cluster is not None:
            cluster.feed = supervisor.feed

        def pbx_connected() -> AmiActions | None:
            ami = services.ami
            return services.pbx if ami is not None and ami.connected else None

        after_call = AfterCallWork(db, crm.directory, live, pbx_connected, settings.wrapup_limits())
        writer.wrapups = after_call  # the wrap-ups owed go with their calls' records
        after_call.stores_owed = False
        services = cls(
            settings=settings,
            db=db,
            bus=bus,
            live=live,
            calls=calls,
            call_writer=writer,
            crm_after_store=crm_after_store,
            supervisor_rollups=supervisor_rollups,
            screen_pop=to_screen_pop,
            spy_sessions=to_spy_sessions,
            backfill=backfill,
            hub=hub,
            notifier=notifier,
            router=router,
            agi=agi,
            recordings=recordings,
            crm=crm,
            agent_directory=agent_directory,
            ws_authenticate=socket_user,
            supervisor=supervisor,
            callbacks=callbacks,
            rules_admin=RulesAdmin(
                db,
                router,
                supervisor.audit,
                region=settings.default_region,
                seed_path=settings.routing_rules,
            ),
            admin_settings=AdminSettings(
                db,
                supervisor.audit,
                pause_seed=builtin_pause_reasons,
                wrapup_seed=builtin_wrapup_codes,
                service_levels=service_levels,
                retention=recordings.retention.queues,
                hold_queues=recordings.ingest.hold_queues,
                pause_limits=pause_limits,
            ),
            after_call=after_call,
            after_call_events=to_after_call,
            cluster=cluster,
        )
        services.system = SystemAdmin(
            settings,
            db,
            ami=lambda: services.ami,
            agi=agi,
            router=router,
            recordings=recordings,
            audit=supervisor.audit,
        )
        services.node = Node(settings, db, hub, agi, lambda: services.ami)
        services.queue_sessions = QueueSessionRecorder(db, to_agent_sessions)
        services.webhook_worker = DeliveryWorker(
            db, webhook_config(settings), on_disabled=webhook_disabled_audit(supervisor)
        )
        crm.rules.runtime.routing = lambda: router.rules
        crm.rules.runtime.timezone = ZoneInfo(settings.timezone)
        crm.rules.runtime.notify = hub.to_users
        services.rule_worker = RuleWorker(crm.rules.runtime, RulesConfig(poll_interval=1.0))
        if settings.rules_process:
            services.rules_process = RulesProcess(
                ChildConfig(
                    database_url=settings.database_url,
                    timezone=settings.timezone,
                    secret=crm.secret,
                    secret_configured=crm.secret_configured,
                    log_level=settings.log_level,
                    event_loop=settings.event_loop,
                    priority=settings.rules_process_priority,
                    mail_max_attachment=settings.mail_max_attachment,
                    mail_timeout=settings.mail_timeout,
                ),
                lambda: router.rules,
                hub.to_users,
            )
        if cluster is not None:  # events queued on another node wake this node's workers
            cluster.on_rules_queued.append(
                services.rules_process.wake
                if services.rules_process is not None
                else services.rule_worker.wake
            )
            cluster.on_webhooks_queued.append(services.webhook_worker.wake)
        crm.letters.max_attachment = settings.mail_max_attachment
        crm.letters.timeout = settings.mail_timeout
        if settings.mail_enabled:
            services.mail_poller = MailPoller(
                db, crm.mailboxes, crm.contacts, mail_config(settings)
            )
        services.pbx_edges = wire_edges(
            settings,
            pbx_list,
            live,
            calls,
            bus,
            hub,
            crm,
            router,
            supervisor,
            ami=services.node.runs_ami,
            recordings=recordings,
            after_call=after_call,
            followers=cluster,
        )
        if cluster is not None:  # the other PBXes' live views to every node too
            cluster.pbx_feeds = [e.feed for e in services.pbx_edges.extras if e.feed]
        if services.pbx_edges.extras:  # the other PBXes' calls too (trubka.pbx_consumers)
            after_call.states = lambda: services.pbx_states
        for edge in services.pbx_edges.extras:
            edge.writer.wrapups = after_call
        if services.node.runs_ami:
            # the AMI lease on PostgreSQL; a ring marks a moment of urgency (kernel.urgency)
            publish = marking_rings(services.node.fence_ami(bus.publish))
            login = pbx_ami_config(settings, pbx_list.primary) if settings.pbxes else None
            services.ami = AmiClient(
                login or ami_config(settings), EventPipeline(state=live), publish
            )
            services.pbx = AmiActions(services.ami)
            if backfill is not None:
                services.ami.on_connected.append(backfill.wake)
            if supervisor.queue_admin is not None:  # re-add dynamic queue members Asterisk forgot
                services.ami.on_connected.append(supervisor.queue_admin.connected)
        # PBX actions from any node, on the PBX where the phone or call is (cluster.anynode)
        services.pbx, supervisor.actions = anynode.install(
            pbx=services.pbx,
            supervisor_actions=supervisor.actions,
            extras=lambda: (
                {e.config.name: e.actions for e in services.pbx_edges.extras}
                if services.pbx_edges
                else {}
            ),
            states=lambda: services.pbx_states,
            consumes=lambda: services.consumes_ami,
            remote=cluster.remote if cluster is not None else None,
        )
        if cluster is not None or len(pbx_list.pbxes) > 1:  # the card's call controls too
            services.call_controls = ControlsRouter(
                services,
                lambda: services.pbx_states,
                lambda: services.consumes_ami,
                cluster.remote if cluster is not None else None,
            )
        return services

    # --- running ---------------------------------------------------------------------
    async def start(self) -> None:
        """Migrate the database, start the consumers, then the AMI client (the publisher).
        The FastAGI server is started by :meth:`listen`. Only the node's roles run; a
        second node on one SQLite file is refused (`trubka.node_lock.NodeRefused`)."""
        self.node.claim()
        await self.db.upgrade()
        await self.rules_admin.load()  # the rules saved in the browser, else the file's
        await self.admin_settings.load()
        if self.cluster is not None:
            await self.cluster.start(self.tasks)
        events = self.node.has("ami")  # this node consumes (or stands by for) AMI's events
        workers = self.node.has("workers")
        if events:
            self.tasks.start(self.call_writer.run(), name="call-writer")
            self.tasks.start(self.crm_after_store.run(), name="crm-after-store")
        self.tasks.start(self.supervisor_rollups.run(), name="supervisor-rollups")
        await self.agent_directory.refresh()
        self.tasks.start(self.agent_directory.run(), name="agent-directory")
        self.tasks.start(self.notifier.run(self.screen_pop), name="screen-pop")
        await self.recordings.start(self.tasks, ingest=events, work=workers)
        if workers:
            self.tasks.start(purge_periodically(self.crm.sessions), name="session-purge")
        self.supervisor.start(self.tasks, rollups=workers, agent_time=events)
        await self.after_call.load()
        if events:
            self.tasks.start(self.after_call.run(self.after_call_events), name="after-call-work")
            self.tasks.start(self.after_call.sweep_forever(), name="after-call-sweep")
            spy_sessions = self.supervisor.audit.spy_sessions
            self.tasks.start(spy_sessions.run(self.spy_sessions), name="spy-sessions")
            if self.queue_sessions is not None:
                self.tasks.start(self.queue_sessions.run(), name="agent-sessions")
        if self.webhook_worker is not None and workers:
            self.tasks.start(self.webhook_worker.run(), name="webhook-delivery")
        if self.rules_process is not None and workers:  # the rules in their own process
            WAKERS.append(self.rules_process.wake)  # a commit here that queued events
            self.tasks.start(self.rules_process.run(), name="rules-process")
        elif self.rule_worker is not None and workers:
            self.tasks.start(self.rule_worker.run(), name="rules")
        if self.mail_poller is not None and workers:
            self.tasks.start(self.mail_poller.run(), name="mail-poller")
        if self.backfill is not None and events:
            backfill, interval = self.backfill, self.settings.backfill_interval
            self.node.while_consuming(self.tasks, "backfill", lambda: backfill.run(interval))
        if self.pbx_edges is not None:  # the other PBXes: consumed with the first one's AMI
            await self.pbx_edges.start(self.tasks)
            if events:
                self.pbx_edges.start_consumers(self.tasks)
            for edge in self.pbx_edges.extras if events else ():
                self.node.while_consuming(self.tasks, f"pbx-{edge.config.name}-ami", edge.consume)
                if edge.backfill is not None:  # its books (trubka.pbx_backfill)
                    run = partial(edge.backfill.run, self.settings.backfill_interval)
                    self.node.while_consuming(self.tasks, f"pbx-{edge.config.name}-backfill", run)
        await self.node.start_ami()

    async def listen(self) -> None:
        """Serve FastAGI (when enabled), once everything it asks is running."""
        if self.node.runs_agi:
            await self.agi.start()
            self.tasks.start(self.agi.serve(), name="agi-server")

    async def drain_calls(self) -> None:
        """Wait until every call published so far is stored and its `CallsStored`
        consumers are done (linked, callback task made, rollups woken). Needs the
        services started; wrap it in `asyncio.timeout()`."""
        await self.call_writer.drain()
        await self.crm_after_store.drain()
        await self.supervisor_rollups.drain()

    async def stop(self) -> None:
        """Stop listening to the PBX first (the FastAGI server stops accepting and lets
        running sessions finish), let the workers drain, then close the database."""
        await self.agi.stop()
        await self.node.stop_ami()  # and gives the AMI lease up: a standby takes over
        if self.pbx_edges is not None:
            try:
                async with asyncio.timeout(5.0):
                    await self.pbx_edges.stop()
            except TimeoutError:
                log.warning("shutdown: some other PBX's call records were not stored in time")
        try:
            async with asyncio.timeout(5.0):
                if self.node.has("ami"):
                    await self.drain_calls()
        except TimeoutError:
            log.warning("shutdown: some call records were not stored (or linked) in time")
        await self.notifier.stop()
        await self.recordings.stop()
        if self.webhook_worker is not None:
            await self.webhook_worker.stop()
        if self.rule_worker is not None:
            await self.rule_worker.stop()
        if self.rules_process is not None:
            if self.rules_process.wake in WAKERS:
                WAKERS.remove(self.rules_process.wake)
            await self.rules_process.stop()
        await self.tasks.stop()
        self.crm.close()
        await self.supervisor.stop()
        if self.pbx_edges is not None:
            await self.pbx_edges.stop_consumers()
        await self.db.dispose()
        self.node.release()


def _cluster(
    settings: Settings, db: Database, hub: Hub, notifier: Notifier, producing: Callable[[], bool]
) -> ClusterNode | None:
    """The bridge to the other nodes, when TRUBKA_CLUSTER allows it (PostgreSQL)."""
    if not settings.cluster_enabled or db.dialect != "postgresql":
        return None
    dsn = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    return ClusterNode(dsn, hub, notifier, producing)


def ami_config(settings: Settings) -> AmiConfig:
    return AmiConfig(
        host=settings.ami_host,
        port=settings.ami_port,
        username=settings.ami_user,
        secret=settings.ami_secret,
        ping_interval=settings.ami_ping_interval,
        action_timeout=settings.ami_action_timeout,
        connect_timeout=settings.ami_connect_timeout,
        backoff_max=settings.ami_reconnect_max,
        md5_login=settings.ami_md5_login,
    )


def webhook_config(settings: Settings) -> WorkerConfig:
    return WorkerConfig(
        backoff_initial=settings.webhook_backoff_initial,
        backoff_max=settings.webhook_backoff_max,
        timeout=settings.webhook_timeout,
        poll_interval=settings.webhook_poll_interval,
        disable_after=settings.webhook_disable_after,
        give_up_after=settings.webhook_give_up_after,
        keep_days=settings.webhook_keep_days,
    )


def mail_config(settings: Settings) -> PollConfig:
    return PollConfig(
        interval=settings.mail_poll_interval,
        max_attachment=settings.mail_max_attachment,
        max_letter=settings.mail_max_letter,
        timeout=settings.mail_timeout,
    )


def webhook_disabled_audit(supervisor: Supervisor) -> Callable[[int, str, str], Awaitable[None]]:
    """A webhook the worker disabled goes into the supervisors' audit (by the system)."""

    async def record(hook_id: int, url: str, reason: str) -> None:
        actor = AuditActor(user_id=None, login="system", name="Trubka", role="system")
        await supervisor.audit.record(
            AuditEntry(
                AuditAction.WEBHOOK_DISABLED,
                actor,
                Outcome.DONE,
                detail=f"webhook {hook_id} {url}: {reason}",
            )
        )

    return record
