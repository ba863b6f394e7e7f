"""The services one Trubka process runs, built once by the composition root (`trubka.app`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from crm.call_records import CallStore
from crm.call_writer import CallWriter
from crm.database import Database
from telephony.actions import AmiActions
from telephony.ami_client import AmiClient, AmiConfig
from telephony.domain import DomainEvent
from telephony.pipeline import EventPipeline
from telephony.reducer import CallState, ReducerConfig
from trubka.bus import EventBus
from trubka.settings import Settings
from trubka.tasks import TaskSet


@dataclass(eq=False)
class Services:
    settings: Settings
    db: Database
    bus: EventBus[DomainEvent]
    live: CallState
    calls: CallStore
    call_writer: CallWriter
    tasks: TaskSet = field(default_factory=TaskSet)
    ami: AmiClient | None = None  # None when TRUBKA_AMI_ENABLED is false
    pbx: AmiActions | None = None  # typed actions (originate, pause, spy …) over `ami`

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
        services = cls(
            settings=settings, db=db, bus=bus, live=live, calls=calls, call_writer=writer
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
