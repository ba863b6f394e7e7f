"""The services one Trubka process runs, built once by the composition root (`trubka.app`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from crm.call_records import CallStore
from crm.call_writer import CallWriter
from crm.callbacks import CallbackTasks
from crm.database import Database
from crm.numbers import fast_parse
from crm.services import CrmServices
from kernel.bus import EventBus
from kernel.phones import format_national
from kernel.task_set import TaskSet
from recordings.service import RecordingService
from routing.decision import Reason
from routing.errors import RulesError
from routing.rules import load_rules
from routing.source import FactsSource, InMemoryFactsSource
from screenpop.hub import Hub
from screenpop.notifier import Notifier
from supervisor.callbacks import TasksOfCalls
from supervisor.directory import CrmLiveDirectory
from supervisor.feed import LiveFeed
from supervisor.service import Supervisor
from telephony.actions import AmiActions
from telephony.agi_server import AgiServer
from telephony.ami_client import AmiClient, AmiConfig
from telephony.domain import DomainEvent
from telephony.pipeline import EventPipeline
from telephony.reducer import CallState, ReducerConfig
from telephony.router import CallRouter
from trubka.adapters import CrmAgentDirectory, CrmCallbackTasks, CrmCards
from trubka.settings import Settings, SettingsError
from web.auth import socket_user
from web.ws import SocketAuthenticator, SocketUser


async def _nobody(_websocket: object) -> SocketUser | None:
    return None


@dataclass(eq=False)
class Services:
    settings: Settings
    db: Database
    bus: EventBus[DomainEvent]
    live: CallState
    calls: CallStore
    call_writer: CallWriter
    hub: Hub
    notifier: Notifier
    router: CallRouter
    agi: AgiServer
    recordings: RecordingService
    crm: CrmServices
    agent_directory: CrmAgentDirectory
    supervisor: Supervisor
    callbacks: CallbackTasks
    ws_authenticate: SocketAuthenticator = _nobody
    tasks: TaskSet = field(default_factory=TaskSet)
    ami: AmiClient | None = None  # None when TRUBKA_AMI_ENABLED is false
    pbx: AmiActions | None = None  # typed actions (originate, pause, spy …) over `ami`

    @property
    def live_feed(self) -> LiveFeed | None:
        """The supervisors' live view over `/ws` (web/ws.py welcomes their sockets)."""
        return self.supervisor.feed

    def use_facts_source(self, source: FactsSource) -> None:
        """Swap where routing facts come from (e.g. the CRM's database-backed source)."""
        self.router.source = source

    @classmethod
    def create(cls, settings: Settings) -> Services:
        db = Database(settings.database_url)
        bus: EventBus[DomainEvent] = EventBus()
        calls = CallStore(db)
        from telephony.domain import CallEnded

        writer = CallWriter(calls, bus.subscribe("call-writer", kinds=[CallEnded], maxsize=100_000))
        live = CallState(
            config=ReducerConfig(
                region=settings.default_region,
                internal_max_digits=settings.internal_number_max_digits,
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
        writer.after_save.append(crm.link_calls)
        router.source = crm.routing_facts
        # Missed calls of known customers → callback tasks (after linking: needs contacts).
        callbacks = CallbackTasks(
            db, crm.directory, lambda: router.rules, ZoneInfo(settings.timezone)
        )
        writer.after_save.append(callbacks.on_calls_saved)
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
        recordings = RecordingService.from_settings(settings, db, bus)

        def pbx() -> AmiActions | None:
            return services.pbx

        supervisor = Supervisor.create(
            db,
            bus,
            timezone=settings.timezone,
            service_level_seconds=settings.service_level_seconds,
            queue_service_levels=settings.service_levels(),
            callback_tasks=CrmCallbackTasks(callbacks, TasksOfCalls(db)),
            directory=CrmLiveDirectory(db, crm.directory),
            live=live,
            followers=hub,
            pbx=pbx,
            live_interval=settings.live_update_interval,
            spy_ring_seconds=settings.spy_ring_seconds,
        )
        supervisor.attach(writer)
        services = cls(
            settings=settings,
            db=db,
            bus=bus,
            live=live,
            calls=calls,
            call_writer=writer,
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
        )
        if settings.ami_enabled:
            services.ami = AmiClient(ami_config(settings), EventPipeline(state=live), bus.publish)
            services.pbx = AmiActions(services.ami)
        return services


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
