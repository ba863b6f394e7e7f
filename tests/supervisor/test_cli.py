"""`trubka reports …` on a real SQLite file."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from crm.call_records import CallStore
from crm.database import Database
from tests.supervisor.kit_dataset import CALLS
from trubka.cli import main


@pytest.fixture
async def database(tmp_path: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    path = tmp_path / "trubka.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite+aiosqlite:///{path}"
    db = Database(url)
    try:
        await CallStore(db).save(CALLS)  # stored without the rollups (e.g. an import)
    finally:
        await db.dispose()
    monkeypatch.setenv("TRUBKA_DATABASE_URL", url)
    monkeypatch.setenv("TRUBKA_TIMEZONE", "Europe/Moscow")
    monkeypatch.setenv("TRUBKA_QUEUE_SERVICE_LEVELS", "sales=30")
    return url


async def trubka(*args: str) -> Result:
    """The command in a thread of its own: its asyncio.run stays away from the test's loop."""
    return await asyncio.to_thread(CliRunner().invoke, main, list(args))


async def test_rebuild_then_report(database: str) -> None:
    rebuilt = await trubka("reports", "rebuild", "--start", "2026-11-01", "--end", "2026-11-05")
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "rebuilt 5 day(s) in Europe/Moscow" in rebuilt.output
    queues = await trubka("reports", "queues", "--start", "2026-11-02")
    assert queues.exit_code == 0, queues.output
    rows = {row["queue"]: row for row in map(json.loads, queues.output.splitlines())}
    assert (rows["support"]["offered"], rows["support"]["service_level"]) == (9, 57.1)
    as_csv = await trubka("reports", "agents", "--start", "2026-11-02", "--csv")
    assert as_csv.exit_code == 0, as_csv.output
    agents = list(csv.DictReader(io.StringIO(as_csv.output)))
    assert {a["agent_interface"]: a["answered"] for a in agents} == {
        "Local/101@agents": "4",
        "Local/102@agents": "2",
        "Local/103@agents": "2",
    }


def test_reports_roll_up_what_is_not_yet(database: str) -> None:
    queues = CliRunner().invoke(
        main, ["reports", "queues", "--start", "2026-11-02", "--queue", "sales"]
    )
    assert queues.exit_code == 0, queues.output
    [sales] = map(json.loads, queues.output.splitlines())
    assert (sales["offered"], sales["sl_threshold_seconds"]) == (3, 30)


def test_bad_dates_are_usage_errors(database: str) -> None:
    result = CliRunner().invoke(
        main, ["reports", "queues", "--start", "2026-11-05", "--end", "2026-11-01"]
    )
    assert result.exit_code == 2
    assert "Invalid value for --end: 2026-11-01 is before start 2026-11-05" in result.output
