"""`trubka calls --json` with the recording object, and the `trubka recordings` commands."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from crm.call_records import CallStore
from crm.database import Database
from recordings.config import RecordingConfig
from recordings.service import RecordingService
from tests.kit_db import in_thread
from tests.recordings.conftest import PBX_DIR, REAL_WAV, Clock, settle, write_wav
from tests.recordings.test_worker import call_events, record
from trubka.cli import main


def seed(url: str, root: Path) -> dict[str, int]:
    """Calls and recording jobs in every state, made by the real ingest and worker."""

    async def run() -> dict[str, int]:
        db = Database(url)
        spool = root / "spool"
        spool.mkdir()
        clock = Clock()
        config = RecordingConfig(
            storage_dir=root / "store",
            pbx_dir=Path(PBX_DIR),
            spool=spool,
            missing_after=0.0,
            poll_interval=1.0,
        )
        service = RecordingService(db, config, clock=clock)
        await service.check_tools()
        write_wav(spool / "done.wav", 2.0)
        (spool / "bad.wav").write_bytes(REAL_WAV.read_bytes()[:30_000])
        started = clock() - 10 * 86400  # ten days ago
        await CallStore(db).save(
            [
                record("done.1", f"{PBX_DIR}/done.wav", started=started),
                record("bad.1", f"{PBX_DIR}/bad.wav", started=started),
                record("gone.1", f"{PBX_DIR}/gone.wav", started=started),
                record("plain.1", None, started=started),
                record("later.1", f"{PBX_DIR}/later.wav", started=started),  # no job yet
            ]
        )
        for name in ("done", "bad", "gone"):
            events = call_events(f"{name}.1", f"{PBX_DIR}/{name}.wav", started=started)
            await service.ingest.apply(events)
        await settle(service, clock)
        await service.stop()
        ids = {j.linkedid or "": j.id for j in await service.store.list_jobs()}
        await db.dispose()
        return ids

    return in_thread(lambda: asyncio.run(run()))


class Cli:
    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str) -> Result:
        return in_thread(lambda: self.runner.invoke(main, list(args)))


@pytest.fixture
def cli(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Cli, dict[str, int]]:
    monkeypatch.setenv("TRUBKA_DATABASE_URL", database_url)
    monkeypatch.setenv("TRUBKA_RECORDINGS_DIR", str(tmp_path / "store"))
    monkeypatch.setenv("TRUBKA_RECORDINGS_SPOOL", str(tmp_path / "spool"))
    monkeypatch.setenv("TRUBKA_RECORDINGS_PBX_DIR", PBX_DIR)
    return Cli(), seed(database_url, tmp_path)


def lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_calls_json_has_the_recording(cli: tuple[Cli, dict[str, int]]) -> None:
    runner, _ = cli
    result = runner("calls", "--json")
    assert result.exit_code == 0, result.output
    calls = {c["linkedid"]: c for c in lines(result.output)}
    done = calls["done.1"]["recording"]
    assert done["status"] == "done" and done["format"] == "mp3"
    assert done["duration_seconds"] == pytest.approx(2.0)
    assert done["url"] == f"/api/calls/{calls['done.1']['id']}/recording"
    assert len(done["sha256"]) == 64 and done["error"] is None
    bad = calls["bad.1"]["recording"]
    assert bad["status"] == "failed" and bad["error"] == "bad.wav: corrupt input packet in stream 0"
    assert bad["url"] is None and bad["format"] is None
    assert calls["gone.1"]["recording"]["status"] == "missing"
    assert calls["plain.1"]["recording"] is None  # not recorded
    assert calls["later.1"]["recording"]["status"] == "pending"
    # everything else of the call record is unchanged
    assert calls["done.1"]["recording_file"] == f"{PBX_DIR}/done.wav"
    assert calls["done.1"]["caller_name"] == "Иван"


def test_list_and_retry(cli: tuple[Cli, dict[str, int]]) -> None:
    runner, ids = cli
    listed = runner("recordings", "list", "--status", "missing", "--json")
    assert listed.exit_code == 0, listed.output
    assert [j["id"] for j in lines(listed.output)] == [ids["gone.1"]]
    assert "file not found" in lines(listed.output)[0]["reason"]

    retried = runner("recordings", "retry", "--status", "missing")
    assert retried.exit_code == 0, retried.output
    assert retried.output.strip() == f"1 job(s) re-queued: {ids['gone.1']}"
    pending = lines(runner("recordings", "list", "--status", "pending", "--json").output)
    assert [j["id"] for j in pending] == [ids["gone.1"]]

    both = runner("recordings", "retry")
    assert both.output.strip() == f"1 job(s) re-queued: {ids['bad.1']}"  # failed ones by default
    text = runner("recordings", "list")
    assert "done.wav" in text.output and "pending" in text.output
    audit = lines(runner("recordings", "audit", "--json").output)
    assert [(a["action"], a["job_id"]) for a in audit] == [
        ("retried", ids["bad.1"]),
        ("retried", ids["gone.1"]),
    ]


def test_hold_release_and_purge(
    cli: tuple[Cli, dict[str, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    runner, ids = cli
    held = runner("recordings", "hold", "done.1", "--reason", "complaint #17")
    assert held.exit_code == 0 and f"job {ids['done.1']} (call done.1) on legal hold" in held.output
    assert runner("calls", "--json").output.count('"legal_hold": true') == 1
    unknown = runner("recordings", "hold", "nope", "--reason", "x")
    assert (
        unknown.exit_code == 1 and "no recording job with id or linkedid 'nope'" in unknown.output
    )
    released = runner("recordings", "release", str(ids["done.1"]))
    assert "released from legal hold" in released.output

    monkeypatch.setenv("TRUBKA_RECORDINGS_RETENTION_DAYS", "7")  # the calls are 10 days old
    dry = runner("recordings", "purge", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.output.startswith("3 recording(s) would be purged")
    done = runner("recordings", "purge")
    assert done.output.startswith("3 recording(s) purged")
    statuses = {
        c["linkedid"]: (c["recording"] or {}).get("status")
        for c in lines(runner("calls", "--json").output)
    }
    assert statuses == {
        "done.1": "purged",
        "bad.1": "purged",
        "gone.1": "purged",
        "plain.1": None,
        "later.1": "pending",
    }


def test_status(
    cli: tuple[Cli, dict[str, int]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    runner, _ = cli
    ok = runner("recordings", "status", "--json")
    assert ok.exit_code == 0, ok.output
    data = json.loads(ok.output)
    assert data["enabled"] and data["ffmpeg"].startswith("ffmpeg version")
    assert (
        data["jobs"]["done"] == 1 and data["jobs"]["failed"] == 1 and data["jobs"]["missing"] == 1
    )
    monkeypatch.setenv("PATH", str(tmp_path))
    broken = runner("recordings", "status")
    assert broken.exit_code == 1
    assert "ffmpeg:    MISSING: ffmpeg and ffprobe not found on PATH" in broken.output
