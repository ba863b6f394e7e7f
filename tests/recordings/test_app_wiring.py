"""The recordings service inside the real app: started by the lifespan, fed by the bus."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from crm.database import Database
from recordings.models import JobStatus
from tests.kit_server import InProcess, sign_in
from tests.recordings.conftest import PBX_DIR, copy_real
from tests.recordings.test_worker import call_events
from trubka.app import build_app
from trubka.settings import load_settings


def settings_for(database_url: str, tmp_path: Path) -> object:
    (tmp_path / "spool").mkdir(exist_ok=True)
    return load_settings(
        database_url=database_url,
        recordings_dir=tmp_path / "store",
        recordings_spool=tmp_path / "spool",
        recordings_pbx_dir=PBX_DIR,
        recordings_poll_interval=0.05,
    )


async def test_the_app_processes_recordings_from_the_bus(
    database_url: str, db: Database, tmp_path: Path
) -> None:
    app = build_app(settings_for(database_url, tmp_path))  # type: ignore[arg-type]
    services = app.state.services
    async with InProcess(app) as server, server.client() as client:
        await sign_in(client, app.state.services)
        assert services.recordings.started and services.recordings.worker.enabled
        names = {t.get_name() for t in asyncio.all_tasks()}
        assert {"recordings-ingest", "recordings-worker", "recordings-purge"} <= names
        copy_real(tmp_path / "spool" / "1795717766.1.wav")
        services.bus.publish(call_events("1795717766.0", f"{PBX_DIR}/1795717766.1.wav"))
        worker = services.recordings.worker
        async with asyncio.timeout(30):
            while True:
                worker.progress.clear()
                if worker.stats.done >= 1:
                    break
                await worker.progress.wait()
        assert (await client.get("/api/status")).status_code == 200
        jobs = await services.recordings.store.list_jobs()
        assert [(j.linkedid, j.status) for j in jobs] == [("1795717766.0", JobStatus.DONE)]
    assert not (tmp_path / "spool" / "1795717766.1.wav").exists()


async def test_the_app_starts_without_ffmpeg_and_says_so(
    database_url: str,
    db: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    app = build_app(settings_for(database_url, tmp_path))  # type: ignore[arg-type]
    services = app.state.services
    caplog.set_level(logging.ERROR, logger="recordings")
    async with InProcess(app) as server, server.client() as client:
        await sign_in(client, app.state.services)
        assert (await client.get("/status")).status_code == 200  # the rest of Trubka runs
        assert not services.recordings.worker.enabled
        status = services.recordings.status()
        assert status["enabled"] is False and "ffmpeg and ffprobe not found" in status["error"]
        services.bus.publish(call_events("1.0", f"{PBX_DIR}/1.1.wav"))
        await services.recordings.ingest.drain(services.recordings.subscription)
        jobs = await services.recordings.store.list_jobs()  # queued even so: nothing is lost
        assert [(j.linkedid, j.status, j.call_ended) for j in jobs] == [("1.0", "pending", True)]
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(
        m.startswith("RECORDINGS ARE NOT BEING PROCESSED: ffmpeg and ffprobe not found")
        for m in messages
    )
