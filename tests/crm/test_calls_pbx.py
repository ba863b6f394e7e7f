"""Calls of several PBXes: unique by (linkedid, pbx), the one-PBX JSON unchanged, and the
calls stored before `0017_pbxes` belong to the PBX named "default"."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

from crm.call_records import CallStore
from crm.database import Database, upgrade
from kernel.call_record import DEFAULT_PBX, record_json
from tests.crm.kit_builders import call
from tests.kit_db import in_thread


async def test_the_same_linkedid_on_two_pbxes_is_two_calls(db: Database) -> None:
    on_a = replace(call("+79161110001", ago=60), pbx="a")
    on_b = replace(on_a, caller_number="+79161110002", pbx="b")
    store = CallStore(db)
    assert await store.insert_keys([on_a, on_b]) == {(on_a.linkedid, "a"), (on_a.linkedid, "b")}
    assert await store.insert_keys([replace(on_b, caller_number="+7000")]) == set()  # stays
    rows = {row.pbx: row for row in await store.list()}
    assert rows["a"].caller_number == "+79161110001"
    assert rows["b"].caller_number == "+79161110002"
    assert rows["b"].to_json()["pbx"] == "b"


def test_the_default_pbx_leaves_the_record_as_it_was() -> None:
    record = call("+79161110003")
    assert record.pbx == DEFAULT_PBX
    assert "pbx" not in record_json(record)
    assert record_json(replace(record, pbx="b"))["pbx"] == "b"


def test_calls_stored_before_belong_to_the_default_pbx(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    url = f"sqlite+aiosqlite:///{path}"
    in_thread(lambda: upgrade(url, "0012_admin_people"))
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO calls (linkedid, direction, started_at, ended_at, wait_seconds,"
            " talk_seconds, disposition, agents, ended_during_outage, timeline)"
            " VALUES ('1764170000.12', 'inbound', '2026-11-26 09:00:00',"
            " '2026-11-26 09:01:00', 1, 59, 'answered', '[]', 0, '[]')"
        )
    in_thread(lambda: upgrade(url))
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT linkedid, pbx FROM calls").fetchall() == [
            ("1764170000.12", "default")
        ]
        conn.execute(
            "INSERT INTO calls (linkedid, pbx, direction, started_at, ended_at, wait_seconds,"
            " talk_seconds, disposition, agents, ended_during_outage, timeline)"
            " VALUES ('1764170000.12', 'b', 'inbound', '2026-11-26 09:00:00',"
            " '2026-11-26 09:01:00', 1, 59, 'answered', '[]', 0, '[]')"
        )
        assert conn.execute("SELECT count(*) FROM calls").fetchone() == (2,)
