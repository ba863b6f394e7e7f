"""Several Asterisk servers: the consumers of the `ami` role follow every PBX. Two
simulated PBXes (`a`, the first, and `b`) feed one Trubka and one database (SQLite and
PostgreSQL); each writes its MixMonitor files into a spool of its own, under the same
names, for calls with the same linkedid:

- each call gets the recording of its own PBX, read from that PBX's spool;
- an agent whose phone is on PBX `b` owes the wrap-up of a call on `b` and is held out
  of `b`'s queues meanwhile (and released on `b` when done);
- `b`'s agent's time per state and queue logout are stored.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy import select

from crm.database import Database
from crm.models import Role
from crm.session_events import AgentSessionEvent, SessionEventKind
from kernel.agents import AgentState
from recordings.models import JobStatus, RecordingJob
from supervisor.agent_time import AgentStateHour
from telephony.simpbx import AgentConfig, SimPbx
from telephony.simpbx.config import RECORDINGS_PATH
from tests.kit_server import InProcess, sign_in
from tests.telephony.kit_sim import SECRET, USER, running, sim_config
from trubka.app import build_app
from trubka.settings import load_settings
from trubka.wiring import Services

A101, B201, B202 = "Local/101@agents/n", "Local/201@agents/n", "Local/202@agents/n"
AGENTS_A = (AgentConfig("101", "Анна Смирнова", ("support",)),)
AGENTS_B = (AgentConfig("201", "Вера Соколова", ("support",)),)


async def _until(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # noqa: ASYNC110 - the live state has no event to await
            await asyncio.sleep(0.02)


async def _until_async(condition: Callable[[], Awaitable[bool]], timeout: float = 15.0) -> None:
    async with asyncio.timeout(timeout):
        while not await condition():  # noqa: ASYNC110 - another task writes the rows
            await asyncio.sleep(0.05)


async def test_every_pbx_feeds_recordings_wrapups_and_agent_time(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    spool_a, spool_b = tmp_path / "spool-a", tmp_path / "spool-b"
    spool_a.mkdir()
    spool_b.mkdir()
    async with (
        running(sim_config(agents=AGENTS_A, spool_dir=spool_a)) as pbx_a,
        running(sim_config(agents=AGENTS_B, spool_dir=spool_b, seed=8)) as pbx_b,
    ):
        pbxes = [
            {
                "name": "a",
                "ami_port": pbx_a.port,
                "ami_user": USER,
                "ami_secret": SECRET,
                "recordings_spool": str(spool_a),  # the first PBX's spool from its entry
            },
            {
                "name": "b",
                "ami_port": pbx_b.port,
                "ami_user": USER,
                "ami_secret": SECRET,
                "recordings_spool": str(spool_b),
            },
        ]
        settings = load_settings(
            database_url=database_url,
            pbxes=json.dumps(pbxes),
            ami_enabled=True,
            recordings_dir=tmp_path / "store",
            recordings_pbx_dir=Path(RECORDINGS_PATH),  # what MIXMONITOR_FILENAME names
            recordings_poll_interval=0.05,
            wrapup_limit=30,
        )
        app = build_app(settings)
        services: Services = app.state.services
        async with InProcess(app) as server:
            await _scenario(services, server, pbx_a, pbx_b)


async def _scenario(services: Services, server: InProcess, pbx_a: SimPbx, pbx_b: SimPbx) -> None:
    states = services.pbx_states
    await _until(
        lambda: (
            states["a"].agent_state(A101, time.time()) is AgentState.AVAILABLE
            and states["b"].agent_state(B201, time.time()) is AgentState.AVAILABLE
        )
    )
    vera = await services.crm.users.create(
        login="vera",
        name="Вера Соколова",
        role=Role.AGENT,
        password="long password",
        interfaces=[B201],
    )

    # The same linkedid, and the same MIXMONITOR_FILENAME, on both PBXes.
    floor = int(time.time()) + 1000
    for pbx in (pbx_a, pbx_b):
        pbx.engine._epoch_floor = floor
        pbx.engine.seq = 7000
    on_a = pbx_a.place_call("79160000001", "Иван", patience=3.0, talk_time=0.3)
    on_b = pbx_b.place_call("79160000002", "Пётр", patience=3.0, talk_time=1.2)
    assert on_a.linkedid == on_b.linkedid
    await asyncio.gather(pbx_a.wait_idle(10), pbx_b.wait_idle(10))
    assert on_b.intended.recording_file == on_a.intended.recording_file

    # 1. After-call work on PBX b: Vera owes the wrap-up, held in b's queue, then released.
    after_call = services.after_call
    await _until(lambda: after_call.hold_of(vera.id) is not None)

    async def owed_once() -> bool:  # PBX b's call writer stores it with the call
        return (await after_call.pending(vera.id))[1] == 1

    await _until_async(owed_once)
    await _until(lambda: states["b"].agent_state(B201, time.time()) is AgentState.WRAP_UP)
    await after_call.done(vera.id, on_b.linkedid)
    await _until(lambda: states["b"].agent_state(B201, time.time()) is AgentState.AVAILABLE)
    assert after_call.hold_of(vera.id) is None

    # 2. Each call has its own PBX's recording, read from that PBX's spool.
    worker = services.recordings.worker
    await _until(lambda: worker.stats.done >= 2, timeout=30)
    async with services.db.session() as session:
        jobs = list((await session.scalars(select(RecordingJob))).all())
    assert {(j.linkedid, j.pbx, j.status) for j in jobs} == {
        (on_a.linkedid, "a", JobStatus.DONE.value),
        (on_b.linkedid, "b", JobStatus.DONE.value),
    }
    found = {j.pbx: Path(j.found_path or "") for j in jobs}
    assert found["a"].parent.name == "spool-a" and found["b"].parent.name == "spool-b"
    await services.drain_calls()
    async with server.client() as http:
        await sign_in(http, services, login="boss", role="supervisor")
        items = (await http.get("/api/calls")).json()["items"]
        by_pbx = {c.get("pbx"): c for c in items if c["linkedid"] == on_a.linkedid}
        assert set(by_pbx) == {"a", "b"}
        seconds = {p: c["recording"]["duration_seconds"] for p, c in by_pbx.items()}
        assert by_pbx["b"]["recording"]["status"] == "done"
        assert 0.2 < seconds["a"] < 0.8 < 1.0 < seconds["b"] < 1.6, seconds
        page = await http.get(f"/calls/{by_pbx['b']['id']}")
        assert page.status_code == 200 and "data-recording-call-id" in page.text

    # 3. Agent time of b's agent: ringing and on the call, stored.
    async def timed() -> bool:
        async with services.db.session() as session:
            rows = (
                await session.scalars(
                    select(AgentStateHour).where(AgentStateHour.agent == "Local/201@agents")
                )
            ).all()
        return {"ringing", "on_call"} <= {row.state for row in rows}

    await _until_async(timed)

    # 4. Queue sessions: a member joins b's queue and leaves it; both are stored.
    assert services.pbx_edges is not None and services.pbx is not None
    edge_b = services.pbx_edges.extras[0]
    assert edge_b.config.name == "b" and edge_b.actions is not None
    await edge_b.actions.queue_add("support", B202, member_name="Гость")

    def stored(kind: SessionEventKind) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            async with services.db.session() as session:
                row = await session.scalar(
                    select(AgentSessionEvent).where(
                        AgentSessionEvent.agent == "Local/202@agents",
                        AgentSessionEvent.kind == kind.value,
                    )
                )
            return row is not None

        return check

    await _until_async(stored(SessionEventKind.QUEUE_LOGIN))
    await services.pbx.queue_remove("support", B202)  # goes to PBX b (the phone is there)
    await _until_async(stored(SessionEventKind.QUEUE_LOGOUT))
