"""Report presets (pure), the agent sessions report from seeded data (both databases),
and the report page's presets, sessions and definitions of every figure (ru/en)."""

from __future__ import annotations

import asyncio
import re
import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from crm.database import Database
from crm.session_events import AgentSessionEvent
from crm.sessions import SessionStore
from crm.users import UserService
from kernel.bus import EventBus
from supervisor.agent_sessions import AgentSessions, AgentUser, QueueSessionRecorder, queue_events
from supervisor.agent_time import AgentTimeRecorder
from supervisor.errors import ReportParameterError
from supervisor.periods import ReportPeriod, parse_period
from supervisor.presets import PRESETS, all_presets, local_today, preset_period
from telephony.domain import AgentStateChanged, DomainEvent
from tests.supervisor.conftest import reporting
from tests.supervisor.kit_dataset import MSK
from tests.web.kit_panel import panel_stack

AGENT = "Local/101@agents"


def P(start: str, end: str) -> ReportPeriod:
    return ReportPeriod(date.fromisoformat(start), date.fromisoformat(end))


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (  # a Wednesday in the middle of a month
            "2026-11-18",
            {
                "today": P("2026-11-18", "2026-11-18"),
                "yesterday": P("2026-11-17", "2026-11-17"),
                "this_week": P("2026-11-16", "2026-11-18"),
                "last_week": P("2026-11-09", "2026-11-15"),
                "this_month": P("2026-11-01", "2026-11-18"),
                "last_month": P("2026-10-01", "2026-10-31"),
            },
        ),
        (  # a Monday: this week is today alone; the first of a month
            "2026-06-01",
            {
                "today": P("2026-06-01", "2026-06-01"),
                "yesterday": P("2026-05-31", "2026-05-31"),
                "this_week": P("2026-06-01", "2026-06-01"),
                "last_week": P("2026-05-25", "2026-05-31"),
                "this_month": P("2026-06-01", "2026-06-01"),
                "last_month": P("2026-05-01", "2026-05-31"),
            },
        ),
        (  # a Sunday ends the week (weeks start on Monday); New Year's Day
            "2023-01-01",
            {
                "today": P("2023-01-01", "2023-01-01"),
                "yesterday": P("2022-12-31", "2022-12-31"),
                "this_week": P("2022-12-26", "2023-01-01"),
                "last_week": P("2022-12-19", "2022-12-25"),
                "this_month": P("2023-01-01", "2023-01-01"),
                "last_month": P("2022-12-01", "2022-12-31"),
            },
        ),
        (  # after a leap February
            "2024-03-10",
            {
                "today": P("2024-03-10", "2024-03-10"),
                "yesterday": P("2024-03-09", "2024-03-09"),
                "this_week": P("2024-03-04", "2024-03-10"),
                "last_week": P("2024-02-26", "2024-03-03"),
                "this_month": P("2024-03-01", "2024-03-10"),
                "last_month": P("2024-02-01", "2024-02-29"),
            },
        ),
    ],
)
def test_presets_are_the_right_local_days(today: str, expected: dict[str, ReportPeriod]) -> None:
    assert all_presets(date.fromisoformat(today)) == expected
    assert list(expected) == list(PRESETS)


def test_presets_start_from_the_local_day_of_the_call_center() -> None:
    # 21:30 UTC on Monday 30 November is already Tuesday 1 December in Moscow.
    now = datetime(2026, 11, 30, 21, 30, tzinfo=UTC)
    today = local_today(MSK, now)
    assert today == date(2026, 12, 1)
    assert preset_period("this_month", today) == P("2026-12-01", "2026-12-01")
    assert preset_period("last_month", today) == P("2026-11-01", "2026-11-30")
    assert preset_period("this_week", today) == P("2026-11-30", "2026-12-01")  # across months
    assert local_today(ZoneInfo("UTC"), now) == date(2026, 11, 30)
    # a preset's period covers whole local days, in UTC
    assert preset_period("yesterday", today).utc_bounds(MSK) == (
        datetime(2026, 11, 29, 21, tzinfo=UTC),
        datetime(2026, 11, 30, 21, tzinfo=UTC),
    )
    with pytest.raises(ReportParameterError) as caught:
        preset_period("fortnight", today)
    assert caught.value.parameter == "preset"


def at(local: str) -> float:
    return datetime.fromisoformat(local).replace(tzinfo=MSK).timestamp()


def change(when: str, state: str, previous: str, reason: str | None = None) -> AgentStateChanged:
    return AgentStateChanged(AGENT, at(when), state, previous, reason)


DAY = [
    change("2026-11-02 09:00:00", "available", "logged_out"),
    change("2026-11-02 09:10:00", "ringing", "available"),
    change("2026-11-02 09:10:10", "on_call", "ringing"),
    change("2026-11-02 09:20:10", "wrap_up", "on_call"),
    change("2026-11-02 09:22:10", "available", "wrap_up"),
    change("2026-11-02 10:00:00", "paused", "available", "lunch"),
    change("2026-11-02 10:30:00", "paused", "paused", "break"),
    change("2026-11-02 10:40:00", "available", "paused"),
    change("2026-11-02 11:00:00", "logged_out", "available"),
    change("2026-11-02 11:30:00", "available", "logged_out"),
    change("2026-11-02 12:00:00", "logged_out", "available"),
]


def test_queue_logins_and_logouts_are_the_changes_from_and_to_logged_out() -> None:
    rows = queue_events(DAY)
    assert [(r.kind, r.agent) for r in rows] == [
        ("queue_login", AGENT),
        ("queue_logout", AGENT),
        ("queue_login", AGENT),
        ("queue_logout", AGENT),
    ]
    assert rows[0].at == datetime(2026, 11, 2, 6, tzinfo=UTC)


async def test_the_sessions_report_from_seeded_data(db: Database) -> None:
    r = reporting(db)
    users = UserService(db)
    anna = await users.create(
        login="anna", name="Анна", role="agent", password="pw-anna-123", interfaces=(AGENT,)
    )
    boris = await users.create(login="boris", name="Борис", role="agent", password="pw-b-1234")
    sessions = SessionStore(db)
    first = await sessions.create(anna.id)
    await sessions.create(anna.id)
    await sessions.delete(first)
    await sessions.delete(first)  # twice: one sign-out
    await sessions.create(boris.id)
    await sessions.revoke_user(anna.id)  # a new password ends her other session: signed out
    await sessions.revoke_user(anna.id)  # none left: nothing more
    bus: EventBus[DomainEvent] = EventBus()
    recorder = AgentTimeRecorder(db, bus.subscribe("t", kinds=[AgentStateChanged]), r.config)
    await recorder.write(recorder.apply(DAY))
    queue = QueueSessionRecorder(db, bus.subscribe("q", kinds=[AgentStateChanged]))
    await queue._store(queue_events(DAY))

    day = parse_period("2026-11-02", None)
    rows = await AgentSessions(db, MSK).report(
        day, await r.reports.agents(day), {"local/101@agents": AgentUser(anna.id, "Анна")}
    )
    [row] = rows  # sign-ins are today, not on 2 November: only the queue day
    assert row["agent_interface"] == AGENT and row["user_id"] == anna.id
    assert (row["queue_logins"], row["queue_logouts"]) == (2, 2)
    assert row["panel_sign_ins"] == 0
    assert row["logged_in_seconds"] == 2 * 3600 + 30 * 60
    assert row["pause_seconds"] == 40 * 60
    assert row["pause_reasons"] == {"lunch": 1800.0, "break": 600.0}
    assert row["wrap_up_seconds"] == 120.0
    # ringing 10 s + on a call 600 s + wrap-up 120 s over 2:30 − 0:40 in a queue, unpaused
    assert row["occupancy"] == round(100 * 730 / (110 * 60), 1)

    today = local_today(MSK)
    period = ReportPeriod(today, today)
    rows = await AgentSessions(db, MSK).report(
        period, await r.reports.agents(period), {"local/101@agents": AgentUser(anna.id, "Анна")}
    )
    by_user = {row["user_id"]: row for row in rows}
    assert by_user[anna.id]["panel_sign_ins"] == 2
    async with db.session() as session:
        outs = await session.scalar(
            select(func.count()).where(
                AgentSessionEvent.user_id == anna.id, AgentSessionEvent.kind == "panel_sign_out"
            )
        )
    assert outs == 2
    assert by_user[anna.id]["last_sign_out"] is not None
    assert by_user[anna.id]["first_sign_in"] is not None
    assert by_user[boris.id]["panel_sign_ins"] == 1
    assert by_user[boris.id]["last_sign_out"] is None
    assert by_user[boris.id]["agent_interface"] is None
    assert by_user[boris.id]["occupancy"] is None
    assert re.match(r"\d{4}-\d\d-\d\dT", by_user[anna.id]["first_sign_in"])


async def test_the_running_service_books_queue_logins_and_panel_sign_ins(
    tmp_path: Path, sqlite_template: Path
) -> None:
    path = tmp_path / "live.db"
    shutil.copy(sqlite_template, path)
    async with panel_stack(f"sqlite+aiosqlite:///{path}") as stack:
        anna = await stack.agent("anna", "101")
        async with stack.client("anna") as http:
            assert (await http.delete("/api/session")).status_code == 204
        kinds: set[tuple[str, str, int | None]] = set()
        for _ in range(200):  # the members the PBX reported at connect joined the queues
            async with stack.services.db.session() as session:
                rows = await session.execute(
                    select(
                        AgentSessionEvent.kind, AgentSessionEvent.agent, AgentSessionEvent.user_id
                    )
                )
                kinds = {(k, a, u) for k, a, u in rows}
            if ("queue_login", "Local/101@agents", None) in kinds:
                break
            await asyncio.sleep(0.05)
        assert ("queue_login", "Local/101@agents", None) in kinds
        assert ("panel_sign_in", "", anna.id) in kinds
        assert ("panel_sign_out", "", anna.id) in kinds
