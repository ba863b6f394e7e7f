"""Work done once whatever node does it: two nodes (two Services on one PostgreSQL
database) store the same recording job, take turns on a job one of them left behind,
make one callback task for a missed call both see, and refresh the report rollups at
the same moment — without an error in their logs."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crm.access import Actor
from crm.callbacks import CallbackKey
from crm.events import CallsStored
from crm.models import Task
from crm.schemas import ContactCreate
from recordings.audio import Tools
from recordings.models import JobStatus, RecordingJob
from recordings.service import RecordingService
from supervisor.rollup_tables import ReportHour
from telephony.records import CallRecord, Direction, Disposition
from tests.recordings.conftest import PBX_DIR, Clock, Dirs, copy_real, job_of, make_config, settle
from tests.recordings.test_worker import call_events
from trubka.settings import load_settings
from trubka.wiring import Services

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("database_url", ["postgres"], indirect=True),
]


@pytest.fixture
async def nodes(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[Services, Services]]:
    made = [
        Services.create(
            load_settings(
                database_url=database_url,
                ami_enabled=False,
                agi_enabled=False,
                recordings_dir=tmp_path / f"rec-{name}",
            )
        )
        for name in ("a", "b")
    ]
    yield made[0], made[1]
    for services in made:
        await services.db.dispose()


def _problems(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Errors, and the races the nodes used to log."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.ERROR or "collided" in r.getMessage()
    ]


def _recordings(node: Services, dirs: Dirs, clock: Clock, tools: Tools) -> RecordingService:
    service = RecordingService(node.db, make_config(dirs, lease_seconds=30.0), clock=clock)
    service.worker.tools = tools
    return service


async def test_both_nodes_store_a_recording_job_once(
    nodes: tuple[Services, Services],
    dirs: Dirs,
    clock: Clock,
    tools: Tools,
    caplog: pytest.LogCaptureFixture,
) -> None:
    a, b = (_recordings(node, dirs, clock, tools) for node in nodes)
    try:
        for n in range(5):
            events = call_events(f"300.{n}", f"{PBX_DIR}/300.{n}.wav")
            await asyncio.gather(a.ingest.apply(events), b.ingest.apply(events))
        jobs = await a.store.list_jobs()
        assert sorted(j.linkedid or "" for j in jobs) == [f"300.{n}" for n in range(5)]
        assert all(j.call_ended and j.recording_stopped for j in jobs)
        assert a.ingest.jobs_created + b.ingest.jobs_created == 5
    finally:
        await a.stop(grace=5.0)
        await b.stop(grace=5.0)
    assert _problems(caplog) == []


async def test_a_job_taken_by_a_node_that_died_is_finished_by_the_other(
    nodes: tuple[Services, Services],
    dirs: Dirs,
    clock: Clock,
    tools: Tools,
    caplog: pytest.LogCaptureFixture,
) -> None:
    a, b = (_recordings(node, dirs, clock, tools) for node in nodes)
    try:
        copy_real(dirs.spool / "1795717766.1.wav")
        await a.ingest.apply(call_events("1795717766.0", f"{PBX_DIR}/1795717766.1.wav"))
        job = await job_of(a, "1795717766.0")
        # node A (another host) took the job, then died: its lease is not renewed
        a.worker.owner = "node-a.example:4242:dead"
        taken = await a.store.claim(job.id, a.worker.owner, clock(), a.config.lease_seconds)
        assert taken is not None and taken.status == JobStatus.PROCESSING
        await b.worker.step()  # while the lease holds, node B leaves the job alone
        held = await job_of(b, "1795717766.0")
        assert (held.status, held.owner) == (JobStatus.PROCESSING, "node-a.example:4242:dead")
        clock.advance(a.config.lease_seconds + 1)
        await settle(b, clock)
        done = await job_of(b, "1795717766.0")
        assert done.status == JobStatus.DONE and done.attempts == 2
        assert done.reason is None and done.storage_key is not None
        async with b.db.session() as session:
            count = await session.scalar(select(func.count()).select_from(RecordingJob))
        assert count == 1
    finally:
        await a.stop(grace=5.0)
        await b.stop(grace=5.0)
    assert _problems(caplog) == []


def _missed(linkedid: str, started: float) -> CallRecord:
    return CallRecord(
        linkedid=linkedid,
        direction=Direction.INBOUND,
        caller_number="+74951112233",
        caller_name="Пётр",
        called_number=None,
        queue="support",
        agent_interface=None,
        agent_name=None,
        started_at=started,
        answered_at=None,
        ended_at=started + 40,
        wait_seconds=40.0,
        talk_seconds=0.0,
        disposition=Disposition.ABANDONED,
        recording_file=None,
    )


async def test_a_missed_call_both_nodes_see_makes_one_callback_task(
    nodes: tuple[Services, Services], caplog: pytest.LogCaptureFixture
) -> None:
    a, b = nodes
    await a.crm.contacts.create(ContactCreate(name="Пётр", phones=["+74951112233"]), Actor.system())
    started = time.time() - 120
    records = [_missed(f"missed-{n}", started + n) for n in range(3)]
    # each node stored the calls (a second store of a linkedid is skipped) and runs its
    # after-store consumers: linking, then the callback tasks
    saved = await asyncio.gather(a.calls.save(records), b.calls.save(records))
    assert sum(saved) == 3
    event = CallsStored(tuple(records))
    await asyncio.gather(a.crm.link_calls(event), b.crm.link_calls(event))
    await asyncio.gather(a.callbacks.on_calls_saved(event), b.callbacks.on_calls_saved(event))
    async with a.db.session() as session:
        tasks = await session.scalar(select(func.count()).select_from(Task))
        keys = await session.scalar(select(func.count()).select_from(CallbackKey))
    assert (tasks, keys) == (1, 1)  # one customer, one day: one task for the three calls
    assert a.callbacks.created + b.callbacks.created == 1
    assert _problems(caplog) == []


async def test_two_nodes_refresh_the_rollups_at_once_without_colliding(
    nodes: tuple[Services, Services], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    a, b = nodes
    started = time.time() - 3 * 3600
    for batch in range(4):
        records = [_missed(f"r-{batch}-{n}", started + batch * 600 + n) for n in range(20)]
        await a.calls.save(records)
        await asyncio.gather(
            a.supervisor.rollups.catch_up(),
            b.supervisor.rollups.catch_up(),
            a.supervisor.rollups.catch_up(),
            b.supervisor.rollups.catch_up(),
        )
    async with a.db.session() as session:
        offered = await session.scalar(select(func.sum(ReportHour.offered)))
    assert offered == 80
    assert await a.supervisor.rollups.watermark() == await b.supervisor.rollups.watermark()
    assert _problems(caplog) == []
