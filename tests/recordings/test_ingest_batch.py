"""The ingest reads the recording jobs of the calls ended in a batch with one statement."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event

from crm.database import Database
from recordings.models import JobStatus
from recordings.service import RecordingService
from telephony.domain import CallEnded, RecordingStarted, RecordingStopped
from tests.recordings.conftest import PBX_DIR, job_of
from tests.recordings.test_worker import CALL_START, call_events, record

Build = Callable[..., RecordingService]


async def test_the_jobs_of_the_calls_ended_in_a_batch_are_read_once(
    make_service: Build, db: Database
) -> None:
    service = make_service()
    ids = ["800.1", "800.2", "800.3"]
    await service.ingest.apply(
        [RecordingStarted(i, CALL_START, f"{PBX_DIR}/{i}.wav") for i in ids]
        + [RecordingStopped(i, CALL_START + 15, f"{PBX_DIR}/{i}.wav") for i in ids]
    )
    reads: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "recording_jobs" in statement:
            reads.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        # the calls end; a fourth call records and ends within the same batch
        await service.ingest.apply(
            [CallEnded(record(i, None)) for i in ids] + call_events("800.4", f"{PBX_DIR}/4.wav")
        )
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", seen)
    # one read for the three calls ended (was one per call), two for the new job (its
    # look-up, and its row after the insert that ignores a duplicate)
    assert len(reads) == 3
    for linkedid in [*ids, "800.4"]:
        job = await job_of(service, linkedid)
        assert job.call_ended and job.recording_stopped
        assert job.status == JobStatus.PENDING and job.ready_at is not None
        assert job.queue == "support"
