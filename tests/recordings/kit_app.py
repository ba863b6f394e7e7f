"""The real app with recorded calls: calls go through the bus (the call writer stores
them, links them to contacts, the recordings worker converts the real MixMonitor file
with ffmpeg), users of each role sign in over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from crm.access import Actor
from crm.call_records import CallRow
from crm.schemas import ContactCreate
from telephony.domain import CallEnded, DomainEvent, RecordingStarted, RecordingStopped
from telephony.records import CallRecord, CallStep, Direction, Disposition
from tests.kit_server import InProcess, LiveServer
from tests.recordings.conftest import PBX_DIR, REAL_WAV, copy_real
from trubka.app import build_app
from trubka.settings import load_settings
from trubka.wiring import Services

PASSWORD = "test-password"
START = datetime(2026, 11, 26, 18, 29, 26, tzinfo=UTC).timestamp()
RECORDED = "1795717766.0"  # agent 101, unknown caller, recorded (the real trace's file)
OTHERS = "1795717800.0"  # agent 102, unknown caller, not recorded
CONTACTS = "1795717900.0"  # agent 102, a known contact's call, not recorded
CONTACT_NUMBER = "+74951234567"


def record(
    linkedid: str,
    *,
    caller: str,
    agent: str,
    started: float,
    file: str | None = None,
) -> CallRecord:
    return CallRecord(
        linkedid=linkedid,
        direction=Direction.INBOUND,
        caller_number=caller,
        caller_name="Иван <script>",
        called_number="+74950000000",
        queue="support",
        agent_interface=agent,
        agent_name=None,
        started_at=started,
        answered_at=started + 3,
        ended_at=started + 15,
        wait_seconds=3.0,
        talk_seconds=12.0,
        disposition=Disposition.ANSWERED,
        recording_file=file,
        agents=(agent,),
        timeline=(
            CallStep(started, "started", "PJSIP/trunk-00000001"),
            CallStep(started + 0.5, "queued", "support"),
            CallStep(started + 3, "answered", f"{agent} (support)"),
            CallStep(started + 15, "ended", "answered"),
        ),
    )


@dataclass
class RecordedApp:
    server: InProcess | LiveServer
    services: Services
    store_dir: Path
    ids: dict[str, int] = field(default_factory=dict)

    async def user(self, login: str, role: str, interfaces: tuple[str, ...] = ()) -> None:
        if await self.services.crm.users.get_by_login(login) is None:
            await self.services.crm.users.create(
                login=login,
                name=login.title(),
                role=role,
                password=PASSWORD,
                interfaces=interfaces,
            )

    @property
    def url(self) -> str:
        return self.server.url

    @asynccontextmanager
    async def client(self, login: str | None = None) -> AsyncIterator[httpx.AsyncClient]:
        async with self.server.client(timeout=20) as http:
            if login is not None:
                reply = await http.post("/api/session", json={"login": login, "password": PASSWORD})
                assert reply.status_code == 200, reply.text
            yield http


async def _wait_done(services: Services, count: int) -> None:
    worker = services.recordings.worker
    async with asyncio.timeout(60):
        while worker.stats.done < count:
            worker.progress.clear()
            if worker.stats.done >= count:
                break
            await worker.progress.wait()


@asynccontextmanager
async def recorded_app(
    database_url: str,
    tmp_path: Path,
    source: Path = REAL_WAV,
    *,
    live: bool = False,
    **settings: object,
) -> AsyncIterator[RecordedApp]:
    """The app with three stored calls (one recorded and processed) and four users:
    agent101 (took the recorded call), agent102 (took the other two), supervisor, admin.
    In-process; on a real uvicorn when `live` (a browser needs a socket)."""
    spool = tmp_path / "spool"
    spool.mkdir(exist_ok=True)
    values: dict[str, object] = {
        "database_url": database_url,
        "recordings_dir": tmp_path / "store",
        "recordings_spool": spool,
        "recordings_pbx_dir": PBX_DIR,
        "recordings_poll_interval": 0.05,
        "recordings_retention_queues": {"support": 30},
    }
    values.update(settings)
    app = build_app(load_settings(**values))
    services: Services = app.state.services
    async with LiveServer(app) if live else InProcess(app) as server:
        kit = RecordedApp(server, services, tmp_path / "store")
        await kit.user("agent101", "agent", ("Local/101@agents/n",))
        await kit.user("agent102", "agent", ("PJSIP/102",))
        await kit.user("agent103", "agent", ("PJSIP/103",))
        await kit.user("supervisor", "supervisor")
        await kit.user("admin", "admin")
        await services.crm.contacts.create(
            ContactCreate(name="Ольга Клиентова", phones=[CONTACT_NUMBER]), Actor.system()
        )
        copy_real(spool / "1795717766.1.wav", source)
        file = f"{PBX_DIR}/1795717766.1.wav"
        events: list[DomainEvent] = [
            RecordingStarted(RECORDED, START, file),
            RecordingStopped(RECORDED, START + 15, file),
            CallEnded(
                record(
                    RECORDED,
                    caller="+79160000001",
                    agent="Local/101@agents/n",
                    started=START,
                    file=file,
                )
            ),
            CallEnded(record(OTHERS, caller="+79160000002", agent="PJSIP/102", started=START + 60)),
            CallEnded(
                record(CONTACTS, caller=CONTACT_NUMBER, agent="PJSIP/102", started=START + 120)
            ),
        ]
        services.call_writer.linger = 0.0  # store at once: no more calls are coming
        services.bus.publish(events)
        await _wait_done(services, 1)
        async with asyncio.timeout(30):
            await services.drain_calls()
        rows = await services.calls.list()
        assert len(rows) == 3, rows
        kit.ids = {row.linkedid: row.id for row in rows}
        yield kit


async def call_row(services: Services, linkedid: str) -> CallRow:
    row = await services.calls.get(linkedid)
    assert row is not None
    return row
