"""A hand-written set of calls whose report figures are computed by hand in the tests.

Times are local to Europe/Moscow (UTC+3, no DST). Thresholds: 20 s by default, 30 s
for `sales`. Agents answer through queues as `Local/1XX@agents/n` (as AgentConnect
names them) and directly as `Local/1XX@agents`: both are the same agent.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from telephony.records import CallRecord, Direction, Disposition

MSK = ZoneInfo("Europe/Moscow")
TIMEZONE = "Europe/Moscow"
SERVICE_LEVELS = {"sales": 30}


def number(n: int) -> str:
    return f"+7495100{n:04d}"


def call(
    n: int,
    local: str,
    *,
    queue: str | None,
    agent: str | None,
    disposition: str,
    hold: int | None = None,
    talk: float = 0.0,
    direction: str = "inbound",
    wait: float | None = None,
    to: str | None = None,
) -> CallRecord:
    started = datetime.fromisoformat(local).replace(tzinfo=MSK).timestamp()
    waited = float(wait if wait is not None else (hold or 0))
    answered = disposition == "answered"
    answered_at = started + waited if answered else None
    ended = (answered_at or started + waited) + talk
    iface = None
    if agent:
        iface = f"Local/{agent}@agents/n" if queue else f"Local/{agent}@agents"
    outbound = direction == "outbound"
    return CallRecord(
        linkedid=f"1700000000.{n}",
        direction=Direction(direction),
        caller_number=(agent if outbound else number(n)),
        caller_name=None if outbound else f"Caller {n}",
        called_number=(to or number(900 + n)) if outbound else "+74950000000",
        queue=queue,
        agent_interface=iface,
        agent_name=f"Agent {agent}" if agent else None,
        started_at=started,
        answered_at=answered_at,
        ended_at=ended,
        wait_seconds=waited + 0.4,  # the whole wait is a bit longer than the queue's
        talk_seconds=talk + 0.3,
        disposition=Disposition(disposition),
        queue_hold_seconds=hold if queue else None,
        queue_talk_seconds=int(talk) if queue and answered else None,
        agents=(iface,) if iface and answered else (),
    )


A, AB, NA = "answered", "abandoned", "no-answer"

CALLS = [
    # --- Monday 2026-11-02 -----------------------------------------------------------
    call(1, "2026-11-02 09:05:00", queue="support", agent="101", disposition=A, hold=5, talk=100),
    call(2, "2026-11-02 09:10:00", queue="support", agent="101", disposition=A, hold=20, talk=200),
    call(3, "2026-11-02 09:20:00", queue="support", agent="102", disposition=A, hold=21, talk=300),
    call(4, "2026-11-02 09:40:00", queue="support", agent=None, disposition=AB, hold=10),
    call(5, "2026-11-02 09:50:00", queue="support", agent=None, disposition=AB, hold=20),
    call(6, "2026-11-02 10:05:00", queue="support", agent=None, disposition=AB, hold=45),
    call(7, "2026-11-02 10:30:00", queue="support", agent="102", disposition=A, hold=0, talk=60),
    call(8, "2026-11-02 10:45:00", queue="support", agent=None, disposition=NA, hold=60),
    call(9, "2026-11-02 09:15:00", queue="sales", agent="103", disposition=A, hold=25, talk=120),
    call(10, "2026-11-02 11:00:00", queue="sales", agent="103", disposition=A, hold=30, talk=180),
    call(11, "2026-11-02 11:10:00", queue="sales", agent=None, disposition=AB, hold=31),
    # routed straight to an agent, no queue
    call(12, "2026-11-02 12:00:00", queue=None, agent="101", disposition=A, wait=4.0, talk=50),
    call(13, "2026-11-02 12:30:00", queue=None, agent=None, disposition=NA, wait=25.0),
    # outbound
    call(
        14,
        "2026-11-02 13:00:00",
        queue=None,
        agent="102",
        disposition=A,
        direction="outbound",
        wait=8,
        talk=90,
    ),
    call(
        15,
        "2026-11-02 13:30:00",
        queue=None,
        agent="102",
        disposition=NA,
        direction="outbound",
        wait=30,
    ),
    # agent 101 calls back the caller who abandoned at 09:40
    call(
        23,
        "2026-11-02 15:00:00",
        queue=None,
        agent="101",
        disposition=A,
        direction="outbound",
        wait=6,
        talk=40,
        to=number(4),
    ),
    # around midnight (Moscow): 23:59:50 is Monday; 00:00:10 is Tuesday though still
    # Monday 21:00:10 in UTC; 02:30 Tuesday is Monday 23:30 UTC
    call(16, "2026-11-02 23:59:50", queue="support", agent="101", disposition=A, hold=15, talk=100),
    call(17, "2026-11-03 00:00:10", queue="support", agent=None, disposition=AB, hold=5),
    call(21, "2026-11-03 02:30:00", queue="support", agent="103", disposition=A, hold=8, talk=70),
    # --- Tuesday 2026-11-03 ----------------------------------------------------------
    call(18, "2026-11-03 08:00:00", queue="support", agent="102", disposition=A, hold=12, talk=240),
    call(19, "2026-11-03 08:30:00", queue="support", agent="101", disposition=A, hold=40, talk=30),
    call(20, "2026-11-03 14:00:00", queue="sales", agent=None, disposition=AB, hold=2),
    # --- Wednesday 2026-11-04 --------------------------------------------------------
    call(22, "2026-11-04 10:00:00", queue="support", agent="101", disposition=A, hold=3, talk=33),
]
