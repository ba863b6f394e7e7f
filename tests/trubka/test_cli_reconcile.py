"""`trubka reconcile`: differences with Asterisk's books, and --fix backfilling them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.telephony.kit_books import MASTER_CSV, QUEUE_LOG
from trubka.cli import main

PERIOD = ["--since", "2026-12-06T01:00", "--until", "2026-12-06T02:00"]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "queue_log").write_text(QUEUE_LOG)
    (tmp_path / "Master.csv").write_text(MASTER_CSV)
    (tmp_path / "spool").mkdir()
    return {
        "TRUBKA_DATABASE_URL": f"sqlite:///{tmp_path}/trubka.db",
        "TRUBKA_ASTERISK_QUEUE_LOG": str(tmp_path / "queue_log"),
        "TRUBKA_ASTERISK_CDR": str(tmp_path / "Master.csv"),
        "TRUBKA_TIMEZONE": "UTC",
        "TRUBKA_RECORDINGS_SPOOL": str(tmp_path / "spool"),
        "TRUBKA_RECORDINGS_PBX_DIR": str(tmp_path / "spool"),
        "TRUBKA_RECORDINGS_DIR": str(tmp_path / "recordings"),
    }


def _run(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.output


def test_missing_calls_are_reported_then_fixed_once(env: dict[str, str]) -> None:
    code, out = _run(env, "reconcile", *PERIOD, "--json")
    assert code == 1
    report = json.loads(out)
    assert report["counts"] == {"missing": 4}
    assert report["calls_in_books"] == 4 and report["calls_in_trubka"] == 0
    assert report["problems"] == ["line 4: a CDR row has [16, 17, 18, 19, 21] columns, not 4"]

    code, out = _run(env, "reconcile", *PERIOD, "--fix")
    assert code == 0, out
    assert "backfilled 4 call(s)" in out and "no difference" in out

    code, out = _run(env, "calls", "--json")
    calls = [json.loads(line) for line in out.splitlines()]
    assert [c["linkedid"] for c in calls] == [
        "1796520475.0",
        "1796520480.2",
        "1796520485.4",
        "1796520493.8",
    ]
    assert {c["source"] for c in calls} == {"backfill"}
    assert calls[0]["agent_name"] == "Agent 201" and calls[2]["disposition"] == "abandoned"

    code, out = _run(env, "reconcile", *PERIOD, "--fix")
    assert code == 0 and "backfilled" not in out  # nothing twice
    code, out = _run(env, "calls", "--json")
    assert len(out.splitlines()) == 4


def test_without_books_it_says_what_to_set(env: dict[str, str]) -> None:
    env = {**env, "TRUBKA_ASTERISK_QUEUE_LOG": "", "TRUBKA_ASTERISK_CDR": ""}
    result = CliRunner().invoke(main, ["reconcile", *PERIOD], env=env)
    assert result.exit_code == 1
    assert "TRUBKA_ASTERISK_QUEUE_LOG" in result.output


def test_a_cdr_table_that_is_not_a_plain_name_is_refused(env: dict[str, str]) -> None:
    env = {**env, "TRUBKA_ASTERISK_CDR": 'postgresql://asterisk@db/asterisk#cdr";drop'}
    result = CliRunner().invoke(main, ["reconcile", *PERIOD], env=env)
    assert result.exit_code == 1
    assert "TRUBKA_ASTERISK_CDR" in result.output and "schema.name" in result.output


def test_queue_log_is_a_file_not_a_table(env: dict[str, str]) -> None:
    env = {**env, "TRUBKA_ASTERISK_QUEUE_LOG": "postgresql://asterisk@db/asterisk#queue_log"}
    result = CliRunner().invoke(main, ["reconcile", *PERIOD], env=env)
    assert result.exit_code == 1
    assert "TRUBKA_ASTERISK_QUEUE_LOG" in result.output and "CDR only" in result.output


async def test_the_status_page_shows_the_books_and_the_last_reconciliation(
    env: dict[str, str],
) -> None:
    from tests.kit_server import InProcess, sign_in
    from trubka.app import build_app
    from trubka.settings import load_settings

    code, _ = await asyncio.to_thread(_run, env, "reconcile", *PERIOD)
    assert code == 1
    settings = load_settings(
        database_url=env["TRUBKA_DATABASE_URL"],
        asterisk_queue_log=env["TRUBKA_ASTERISK_QUEUE_LOG"],
        asterisk_cdr=env["TRUBKA_ASTERISK_CDR"],
        timezone="UTC",
    )
    app = build_app(settings)
    async with InProcess(app) as server, server.client() as http:
        services = app.state.services
        await sign_in(http, services, login="boss", role="supervisor")
        books = (await http.get("/api/status")).json()["books"]
        assert books["configured"] is True
        assert books["last_reconcile"]["counts"] == {"missing": 4}
        page = await http.get("/status")
        assert "Last reconciliation" in page.text or "Последняя сверка" in page.text
        async with server.client() as agent:
            await sign_in(agent, services, login="anna", role="agent")
            assert (await agent.get("/api/status")).json()["books"] is None


async def test_a_backfilled_missed_call_of_a_customer_is_linked_and_gets_one_callback_task(
    env: dict[str, str],
) -> None:
    from sqlalchemy import select

    from crm.access import Actor
    from crm.models import Task
    from crm.schemas import ContactCreate
    from tests.kit_server import InProcess
    from trubka.app import build_app
    from trubka.settings import load_settings

    app = build_app(load_settings(database_url=env["TRUBKA_DATABASE_URL"], timezone="UTC"))
    async with InProcess(app):
        services = app.state.services
        contact = await services.crm.contacts.create(
            ContactCreate(name="Анна", phones=["8 499 777-00-03"]), Actor.system()
        )
    for _ in range(2):  # --fix twice: the consequences happen once
        code, out = await asyncio.to_thread(_run, env, "reconcile", *PERIOD, "--fix")
        assert code == 0, out
    app = build_app(load_settings(database_url=env["TRUBKA_DATABASE_URL"], timezone="UTC"))
    async with InProcess(app):
        services = app.state.services
        stored = await services.calls.get("1796520485.4")  # abandoned, from 84997770003
        assert stored is not None and stored.source == "backfill"
        assert stored.contact_id == contact["id"]
        async with services.db.session() as session:
            tasks = list((await session.scalars(select(Task))).all())
        assert [(t.kind, t.contact_id, t.call_linkedid) for t in tasks] == [
            ("call_back", contact["id"], "1796520485.4")
        ]
