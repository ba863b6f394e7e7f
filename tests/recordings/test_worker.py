"""The queue end to end over a real database (SQLite file and PostgreSQL), real files and
real ffmpeg: events in, recordings stored, and every fault on the way."""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import update

from crm.call_records import CallStore
from kernel.bus import EventBus
from recordings.jobs import utc
from recordings.models import JobStatus, RecordingJob
from recordings.service import RecordingService
from recordings.storage import LocalStorage
from recordings.views import recording_json
from telephony.domain import CallEnded, DomainEvent, RecordingStarted, RecordingStopped
from telephony.records import CallRecord, Direction, Disposition
from telephony.replay import load_index, replay_events
from tests.kit_traces import TRACES
from tests.recordings.conftest import (
    HEADER_ONLY_WAV,
    PBX_DIR,
    REAL_WAV,
    Clock,
    Dirs,
    FiresAtOnce,
    copy_real,
    job_of,
    settle,
    write_wav,
)
from tests.recordings.test_storage import FullDiskStorage, all_files

Build = Callable[..., RecordingService]
CALL_START = datetime(2026, 11, 26, 18, 29, 26, tzinfo=UTC).timestamp()


def record(
    linkedid: str, file: str | None, *, queue: str | None = "support", started: float = CALL_START
) -> CallRecord:
    return CallRecord(
        linkedid=linkedid,
        direction=Direction.INBOUND,
        caller_number="+79160000001",
        caller_name="Иван",
        called_number=None,
        queue=queue,
        agent_interface="Local/101@agents/n",
        agent_name="Agent 101",
        started_at=started,
        answered_at=started + 3,
        ended_at=started + 15,
        wait_seconds=3.0,
        talk_seconds=12.0,
        disposition=Disposition.ANSWERED,
        recording_file=file,
    )


def call_events(linkedid: str, file: str, **kwargs: object) -> list[DomainEvent]:
    return [
        RecordingStarted(linkedid, CALL_START, file),
        RecordingStopped(linkedid, CALL_START + 15, file),
        CallEnded(record(linkedid, file, **kwargs)),  # type: ignore[arg-type]
    ]


async def test_a_recorded_call_is_converted_and_stored(
    make_service: Build, dirs: Dirs, clock: Clock
) -> None:
    service = make_service()
    # Asterisk runs elsewhere: its path does not exist here, the file is synced into the spool.
    copy_real(dirs.spool / "1795717766.1.wav")
    await service.ingest.apply(call_events("1795717766.0", f"{PBX_DIR}/1795717766.1.wav"))
    await settle(service, clock)

    job = await job_of(service, "1795717766.0")
    assert job.status == JobStatus.DONE
    assert job.reason is None
    assert job.duration_seconds == pytest.approx(11.98, abs=0.01)
    assert (job.channels, job.sample_rate, job.format, job.bitrate_kbps) == (1, 8000, "mp3", 32)
    assert job.original_size == REAL_WAV.stat().st_size and job.original_codec == "pcm_s16le"
    assert job.queue == "support" and job.attempts == 1
    assert (
        job.storage_key == f"2026/11/26/1795717766.0-{job.id}.mp3"
    )  # the call's date, the call's id
    stored = dirs.storage / job.storage_key
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == job.sha256
    assert stored.stat().st_size == job.size_bytes
    assert job.peaks is not None and len(job.peaks) == 1 and len(job.peaks[0]) == 200
    assert not (dirs.spool / "1795717766.1.wav").exists()  # keep_original is off
    assert list((dirs.storage / ".work").iterdir()) == []

    data = recording_json(42, job, f"{PBX_DIR}/1795717766.1.wav")
    assert data == {
        "status": "done",
        "format": "mp3",
        "duration_seconds": 11.98,
        "size_bytes": job.size_bytes,
        "channels": 1,
        "sha256": job.sha256,
        "url": "/api/calls/42/recording",
        "error": None,
        "legal_hold": False,
    }


async def test_events_from_a_real_trace_on_the_bus(
    make_service: Build, dirs: Dirs, clock: Clock
) -> None:
    bus: EventBus[DomainEvent] = EventBus()
    service = make_service()
    subscription = bus.subscribe(
        "recordings", kinds=[RecordingStarted, RecordingStopped, CallEnded]
    )
    consumer = service.worker.tasks.start(service.ingest.consume(subscription), name="ingest")
    trace = TRACES / "01-queue-answered.ami"
    bus.publish(replay_events(trace.read_bytes(), load_index(trace)))
    await service.ingest.drain(subscription)
    consumer.cancel()

    job = await job_of(service, "1795717766.0")
    assert job.source_path == "/var/lib/asterisk/recordings/1795717766.1.wav"
    assert job.call_ended and job.recording_stopped and job.queue == "support"
    copy_real(dirs.spool / "1795717766.1.wav")
    await settle(service, clock)
    job = await job_of(service, "1795717766.0")
    assert job.status == JobStatus.DONE
    assert job.storage_key is not None and job.storage_key.startswith("2026/11/26/1795717766.0-")


async def test_a_file_is_taken_only_when_complete(
    make_service: Build, dirs: Dirs, clock: Clock
) -> None:
    service = make_service(pbx_dir=dirs.pbx)
    source = dirs.pbx / "1.wav"
    data = REAL_WAV.read_bytes()
    source.write_bytes(data[:60_000])  # MixMonitor is still writing
    await service.ingest.apply([RecordingStarted("100.1", clock(), str(source))])
    for _ in range(3):  # the call goes on: nothing is due before orphan_after
        await service.worker.step()
        clock.advance(1.0)
    job = await job_of(service, "100.1")
    assert job.status == JobStatus.PENDING and job.seen_size is None

    await service.ingest.apply([CallEnded(record("100.1", str(source)))])
    await service.worker.step()  # first look: size noted
    job = await job_of(service, "100.1")
    assert job.seen_size == 60_000 and job.status == JobStatus.PENDING
    with source.open("ab") as fh:  # the file is still being closed: it grows
        fh.write(data[60_000:])
    os.utime(source, ns=(time.time_ns(), time.time_ns() + 1_000_000))
    clock.advance(1.0)
    await service.worker.step()
    job = await job_of(service, "100.1")
    assert job.seen_size == len(data) and job.status == JobStatus.PENDING  # changed: not taken
    clock.advance(1.0)
    await service.worker.step()  # unchanged over a full interval: taken
    await service.worker.wait_settled()
    job = await job_of(service, "100.1")
    assert job.status == JobStatus.DONE
    assert job.duration_seconds == pytest.approx(11.98, abs=0.01)  # the whole file, not half


async def test_keep_original(make_service: Build, dirs: Dirs, clock: Clock) -> None:
    service = make_service(keep_original=True)
    copy_real(dirs.spool / "1795717766.1.wav")
    await service.ingest.apply(call_events("1795717766.0", f"{PBX_DIR}/1795717766.1.wav"))
    await settle(service, clock)
    assert (await job_of(service, "1795717766.0")).status == JobStatus.DONE
    assert (dirs.spool / "1795717766.1.wav").read_bytes() == REAL_WAV.read_bytes()


async def test_a_file_that_never_appears_is_missing_then_retried(
    make_service: Build, dirs: Dirs, clock: Clock
) -> None:
    service = make_service(missing_after=30.0)
    await service.ingest.apply(call_events("200.1", f"{PBX_DIR}/200.2.wav"))
    await service.worker.step()
    clock.advance(29.0)
    await service.worker.step()
    assert (await job_of(service, "200.1")).status == JobStatus.PENDING
    clock.advance(2.0)
    await service.worker.step()
    job = await job_of(service, "200.1")
    assert job.status == JobStatus.MISSING
    assert job.reason is not None and "file not found after 31s" in job.reason
    assert f"{PBX_DIR}/200.2.wav" in job.reason and str(dirs.spool / "200.2.wav") in job.reason
    assert recording_json(7, job, f"{PBX_DIR}/200.2.wav") == {
        "status": "missing",
        "format": None,
        "duration_seconds": None,
        "size_bytes": None,
        "channels": None,
        "sha256": None,
        "url": None,
        "error": job.reason,
        "legal_hold": False,
    }
    clock.advance(3600)
    await service.worker.step()
    assert (await job_of(service, "200.1")).status == JobStatus.MISSING  # stays missing

    # The sync from the PBX catches up; an admin re-queues.
    write_wav(dirs.spool / "200.2.wav", 2.0)
    assert await service.store.retry([JobStatus.MISSING], clock()) == [job.id]
    await settle(service, clock)
    job = await job_of(service, "200.1")
    assert job.status == JobStatus.DONE and job.duration_seconds == pytest.approx(2.0, abs=0.01)
    audit = await service.store.audit_log()
    assert [(a.action, a.job_id) for a in audit] == [("retried", job.id)]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../../../etc/passwd", "contains '..'"),
        ("/var/lib/asterisk/recordings/../../../../etc/shadow", "contains '..'"),
        ("/etc/ssh/ssh_host_rsa_key", "outside the recordings directories"),
    ],
)
async def test_unsafe_names_are_refused(
    make_service: Build, dirs: Dirs, clock: Clock, name: str, reason: str
) -> None:
    service = make_service()
    copy_real(dirs.spool / Path(name).name)  # even if a file of that name sits in the spool
    await service.ingest.apply(call_events("300.1", name))
    await settle(service, clock)
    job = await job_of(service, "300.1")
    assert job.status == JobStatus.FAILED
    assert job.reason is not None and reason in job.reason and job.reason.startswith("refused")
    assert all_files(dirs.storage) == []
    assert (dirs.spool / Path(name).name).exists()


async def test_header_only_file_is_empty(make_service: Build, dirs: Dirs, clock: Clock) -> None:
    service = make_service()
    copy_real(dirs.spool / "1795717785.5.wav", HEADER_ONLY_WAV)
    await service.ingest.apply(call_events("1795717785.4", f"{PBX_DIR}/1795717785.5.wav"))
    await settle(service, clock)
    job = await job_of(service, "1795717785.4")
    assert job.status == JobStatus.EMPTY
    assert job.reason is None and job.storage_key is None and job.duration_seconds == 0.0
    assert all_files(dirs.storage) == []
    data = recording_json(1, job, job.source_path)
    assert (
        data is not None
        and data["status"] == "empty"
        and data["error"] is None
        and data["url"] is None
    )


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (REAL_WAV.read_bytes()[:50_000], "corrupt input packet in stream 0"),
        (b"", "Invalid data found when processing input"),
        (b"RIFF\x00\x00", "Invalid data found when processing input"),
        (
            b"%PDF-1.4 this is an invoice, not a call\n" * 100,
            "Invalid data found when processing input",
        ),
    ],
    ids=["truncated", "zero-bytes", "cut-header", "not-audio"],
)
async def test_bad_files_fail_and_the_original_is_kept(
    make_service: Build, dirs: Dirs, clock: Clock, content: bytes, reason: str
) -> None:
    service = make_service()
    source = dirs.spool / "400.2.wav"
    source.write_bytes(content)
    await service.ingest.apply(call_events("400.1", f"{PBX_DIR}/400.2.wav"))
    await settle(service, clock)
    job = await job_of(service, "400.1")
    assert job.status == JobStatus.FAILED
    assert job.reason == f"400.2.wav: {reason}"
    assert source.read_bytes() == content
    assert all_files(dirs.storage) == []
    data = recording_json(1, job, job.source_path)
    assert data is not None and data["error"] == job.reason and data["url"] is None


async def test_full_disk_leaves_nothing_and_is_retried(
    make_service: Build, dirs: Dirs, clock: Clock
) -> None:
    disk = FullDiskStorage(dirs.storage, capacity=10_000)
    service = make_service(storage=disk, retry_delay=60.0)
    copy_real(dirs.spool / "1795717766.1.wav")
    await service.ingest.apply(call_events("1795717766.0", f"{PBX_DIR}/1795717766.1.wav"))
    await service.worker.step()
    clock.advance(1.0)
    await service.worker.step()
    await service.worker.wait_settled()

    job = await job_of(service, "1795717766.0")
    assert job.status == JobStatus.PENDING and job.attempts == 1
    assert job.reason is not None and "no space left" in job.reason
    assert disk.written == 10_000
    assert all_files(dirs.storage) == []  # no partial file, in the store or the work folder
    assert (dirs.spool / "1795717766.1.wav").exists()
    data = recording_json(1, job, job.source_path)
    assert data is not None and data["status"] == "pending" and "no space left" in data["error"]

    clock.advance(30.0)
    await service.worker.step()
    assert (await job_of(service, "1795717766.0")).attempts == 1  # not before the retry delay
    disk.capacity = 10**9  # an admin freed space
    clock.advance(31.0)
    await settle(service, clock)
    job = await job_of(service, "1795717766.0")
    assert job.status == JobStatus.DONE and job.attempts == 2 and job.reason is None
    assert [p.name for p in all_files(dirs.storage)] == [f"1795717766.0-{job.id}.mp3"]


async def test_restart_resumes_jobs_of_a_dead_worker(
    make_service: Build, dirs: Dirs, clock: Clock
) -> None:
    first = make_service()
    copy_real(dirs.spool / "1795717766.1.wav")
    write_wav(dirs.spool / "500.2.wav", 1.0)
    await first.ingest.apply(call_events("1795717766.0", f"{PBX_DIR}/1795717766.1.wav"))
    await first.ingest.apply(call_events("500.1", f"{PBX_DIR}/500.2.wav"))
    # The previous process had taken the first job when it died; its lease is still valid.
    dead = await asyncio.create_subprocess_exec("true")
    await dead.wait()
    job = await job_of(first, "1795717766.0")
    async with first.db.transaction() as session:
        await session.execute(
            update(RecordingJob)
            .where(RecordingJob.id == job.id)
            .values(
                status=JobStatus.PROCESSING.value,
                owner=f"{socket.gethostname()[:80]}:{dead.pid}:gone",
                lease_until=utc(clock() + 3600),
            )
        )
    await first.stop()

    second = make_service()  # the restarted process
    await second.worker.prepare()
    assert second.worker.stats.reclaimed == 1
    job = await job_of(second, "1795717766.0")
    assert job.status == JobStatus.PENDING
    await settle(second, clock)
    assert (await job_of(second, "1795717766.0")).status == JobStatus.DONE
    assert (await job_of(second, "500.1")).status == JobStatus.DONE


async def test_a_stop_mid_conversion_puts_the_job_back(
    make_service: Build, dirs: Dirs, clock: Clock
) -> None:
    first = make_service()
    write_wav(dirs.spool / "600.2.wav", 60.0)  # stop() kills ffmpeg before it can finish
    await first.ingest.apply(call_events("600.1", f"{PBX_DIR}/600.2.wav"))
    await first.worker.step()
    clock.advance(1.0)
    await first.worker.step()
    assert len(first.worker.in_flight) == 1
    await first.stop()
    job = await job_of(first, "600.1")
    assert job.status == JobStatus.PENDING
    assert job.reason == "interrupted by a shutdown; resumes at the next start"
    assert all_files(dirs.storage) == []
    assert (dirs.spool / "600.2.wav").exists()

    second = make_service()
    await settle(second, clock)
    job = await job_of(second, "600.1")
    assert job.status == JobStatus.DONE and job.attempts == 2
    assert job.duration_seconds == pytest.approx(60.0, abs=0.01)


async def test_other_hosts_jobs_wait_for_their_lease(
    make_service: Build, clock: Clock, dirs: Dirs
) -> None:
    service = make_service()
    await service.ingest.apply(call_events("700.1", f"{PBX_DIR}/700.2.wav"))
    await service.ingest.apply(call_events("701.1", f"{PBX_DIR}/701.2.wav"))
    a, b = await job_of(service, "700.1"), await job_of(service, "701.1")
    async with service.db.transaction() as session:
        for job, lease in ((a, clock() + 60), (b, clock() - 1)):
            await session.execute(
                update(RecordingJob)
                .where(RecordingJob.id == job.id)
                .values(status="processing", owner="other-node:1234:abcd", lease_until=utc(lease))
            )
    assert await service.store.reclaim(clock(), live={service.worker.owner}) == [b.id]
    assert (await job_of(service, "700.1")).status == JobStatus.PROCESSING


async def test_spool_files_without_an_event_are_adopted(
    make_service: Build, dirs: Dirs, clock: Clock
) -> None:
    service = make_service(orphan_after=600.0)
    # A call stored while the recordings service was down: its record names the file.
    await CallStore(service.db).save([record("800.1", f"{PBX_DIR}/800.2.wav", queue="sales")])
    known = copy_real(dirs.spool / "800.2.wav")
    stranger = write_wav(dirs.spool / "2026" / "11" / "unknown-call.wav", 1.0)
    fresh = write_wav(dirs.spool / "900.2.wav", 1.0)  # too new: its call may still be going on
    (dirs.spool / "notes.txt").write_text("not audio")
    old = clock() - 3600
    for path in (known, stranger):
        os.utime(path, (old, old))
    await settle(service, clock)

    jobs = {j.source_name: j for j in await service.store.list_jobs()}
    assert set(jobs) == {"800.2.wav", "unknown-call.wav"}
    linked = jobs["800.2.wav"]
    assert (linked.linkedid, linked.queue, linked.status) == ("800.1", "sales", JobStatus.DONE)
    assert linked.storage_key == f"2026/11/26/800.1-{linked.id}.mp3"
    orphan = jobs["unknown-call.wav"]
    assert orphan.linkedid is None and orphan.status == JobStatus.DONE
    assert orphan.storage_key is not None and orphan.storage_key.endswith(
        f"/orphan-{orphan.id}.mp3"
    )
    assert fresh.exists() and (dirs.spool / "notes.txt").exists()


async def test_without_ffmpeg_jobs_wait_and_resume(
    make_service: Build, dirs: Dirs, clock: Clock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    service = make_service()
    path = os.environ["PATH"]
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert not await service.check_tools()
    assert (
        service.worker.tools_error is not None
        and "ffmpeg and ffprobe not found" in service.worker.tools_error
    )
    copy_real(dirs.spool / "1795717766.1.wav")
    await service.ingest.apply(call_events("1795717766.0", f"{PBX_DIR}/1795717766.1.wav"))
    for _ in range(3):
        await service.worker.step()
        clock.advance(1.0)
    job = await job_of(service, "1795717766.0")
    assert job.status == JobStatus.PENDING and job.attempts == 0
    assert (dirs.spool / "1795717766.1.wav").exists()
    monkeypatch.setenv("PATH", path)  # ffmpeg gets installed
    clock.advance(service.config.tools_recheck)
    await settle(service, clock)
    assert service.worker.enabled and service.worker.tools_error is None
    assert (await job_of(service, "1795717766.0")).status == JobStatus.DONE


async def test_many_recordings_use_a_bounded_pool(
    make_service: Build, dirs: Dirs, clock: Clock
) -> None:
    service = make_service(workers=2)
    for i in range(6):
        write_wav(dirs.spool / f"{i}.wav", 1.0 + i)
        await service.ingest.apply(call_events(f"1000.{i}", f"{PBX_DIR}/{i}.wav"))
    await service.worker.step()
    clock.advance(1.0)
    await service.worker.step()
    assert len(service.worker.in_flight) == 2  # never more than `workers` at once
    counts = await service.store.counts()
    assert counts["processing"] == 2 and counts["pending"] == 4
    await settle(service, clock, steps=20)
    assert (await service.store.counts())["done"] == 6
    assert isinstance(service.storage, LocalStorage)
    assert len(all_files(dirs.storage)) == 6


async def test_timeouts_are_retried_then_fail(
    make_service: Build, dirs: Dirs, clock: Clock
) -> None:
    service = make_service(ffmpeg_timeout=0.05, retry_delay=60.0)
    write_wav(dirs.spool / "long.wav", 600.0)
    await service.ingest.apply(call_events("1100.1", f"{PBX_DIR}/long.wav"))
    for attempt in (1, 2):
        await settle(service, clock)
        job = await job_of(service, "1100.1")
        assert (job.status, job.attempts) == (JobStatus.PENDING, attempt)
        assert job.reason == "ffmpeg did not finish within 0s (retried automatically)"
        clock.advance(60.0)
    await settle(service, clock)
    job = await job_of(service, "1100.1")
    assert (job.status, job.attempts) == (JobStatus.FAILED, 3)
    assert job.reason == "ffmpeg did not finish within 0s (3 attempts)"
    assert (dirs.spool / "long.wav").exists() and all_files(dirs.storage) == []


async def test_a_timeout_is_retried_even_when_the_kill_beats_the_clock(
    make_service: Build, dirs: Dirs, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The timeout's kill decides, not the exit status (-9) of the ffmpeg it killed."""
    monkeypatch.setattr(threading, "Timer", FiresAtOnce)
    service = make_service(ffmpeg_timeout=30.0, retry_delay=60.0)
    write_wav(dirs.spool / "long.wav", 600.0)
    await service.ingest.apply(call_events("1100.2", f"{PBX_DIR}/long.wav"))
    await settle(service, clock)
    job = await job_of(service, "1100.2")
    assert (job.status, job.attempts) == (JobStatus.PENDING, 1)
    assert job.reason == "ffmpeg did not finish within 30s (retried automatically)"
