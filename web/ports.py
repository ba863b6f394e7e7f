"""What the web layer needs from the rest of Trubka: typed ports, no composition root.

The composition root (`trubka.wiring.Services`) satisfies `WebServices`; tests may hand
the app a smaller fake that has the attributes a test touches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Mapping

    from crm.after_call_work import AfterCallWork
    from crm.call_records import CallStore
    from crm.call_writer import CallWriter
    from crm.database import Database
    from crm.events import BusEvent
    from crm.services import CrmServices
    from kernel.bus import EventBus
    from recordings.service import RecordingService
    from screenpop.hub import Hub
    from screenpop.notifier import Notifier
    from supervisor.admin_settings import AdminSettings
    from supervisor.audit import Actor
    from supervisor.feed import LiveFeed
    from supervisor.rules_admin import RulesAdmin
    from supervisor.service import Supervisor
    from telephony.actions import AmiActions
    from telephony.ami_client import AmiClient
    from telephony.reducer import CallState
    from telephony.router import CallRouter
    from web.ws import SocketAuthenticator


class WebSettings(Protocol):
    """The settings pages and the API read (`trubka.settings.Settings` has them all)."""

    default_region: str
    timezone: str
    route_token: str
    metrics_token: str
    click_to_call_context: str
    click_to_call_timeout: float
    transfer_context: str  # call controls: where a colleague's extension is dialled
    transfer_queue_context: str  # … and a queue's name
    hold_context: str  # … and where hold sends both sides
    service_level_target: float
    service_level_warning: float
    allowed_origins: tuple[str, ...]  # besides the site's own origin, for `/ws`
    max_body_bytes: int  # larger request bodies get 413 before they are read
    ws_max_per_session: int  # sockets per session and per user; the oldest goes first
    ws_max_per_user: int


class AdminSystem(Protocol):
    """`/admin/system`: what support asks for first (`trubka.admin_system.SystemAdmin`)."""

    async def info(self) -> dict[str, Any]: ...
    async def backup(self, actor: Actor) -> dict[str, Any]: ...
    async def retry_recordings(self, actor: Actor) -> list[int]: ...


class ClusterView(Protocol):
    """This node among several (trubka.cluster): what pages and sockets ask of it."""

    def welcome_supervisor(self, client: Any) -> None: ...

    def live_document(self) -> dict[str, Any] | None: ...

    async def fresh_live_document(self) -> dict[str, Any] | None: ...

    def status(self) -> dict[str, Any]: ...


class WebServices(Protocol):
    """The services behind the HTTP API, the pages and `/ws`."""

    @property
    def settings(self) -> WebSettings: ...

    db: Database
    bus: EventBus[BusEvent]
    live: CallState
    calls: CallStore
    call_writer: CallWriter
    hub: Hub
    notifier: Notifier
    router: CallRouter
    recordings: RecordingService
    crm: CrmServices
    supervisor: Supervisor
    rules_admin: RulesAdmin
    admin_settings: AdminSettings

    @property
    def system(self) -> AdminSystem: ...

    after_call: AfterCallWork  # after-call work: pending wrap-ups and the hold

    @property
    def ws_authenticate(self) -> SocketAuthenticator: ...

    ami: AmiClient | None
    pbx: AmiActions | None

    @property
    def cluster(self) -> ClusterView | None: ...  # None: one node (SQLite, TRUBKA_CLUSTER=false)

    @property
    def live_feed(self) -> LiveFeed | None: ...

    @property
    def pbx_states(self) -> Mapping[str, CallState]: ...  # every PBX's, the primary first

    @property
    def pbx_live_feeds(self) -> tuple[LiveFeed, ...]: ...  # the other PBXes' feeds

    @property
    def pbx_notifiers(self) -> tuple[Notifier, ...]: ...  # the other PBXes' screen pops
