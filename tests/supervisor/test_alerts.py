"""Supervisor alerts computed from a live state (pure: a state, figures and a moment in)."""

from __future__ import annotations

from kernel.agents import AFTER_CALL_REASON
from supervisor.alerts import AlertThresholds, compute_alerts, next_alert_at
from telephony.reducer import CallState
from telephony.state import Agent, Membership, Queue, QueueCaller

NOW = 1_800_000_000.0
THRESHOLDS = AlertThresholds.create(
    wait_seconds=60,
    queue_wait={"vip": 10},
    service_level_target=80,
    queue_service_level_targets={"vip": 95},
    pause_limit=1800,
    pause_limits={"break": 600, "training": 0},
    wrapup_limit=60,
    queue_wrapup_limits={"vip": 30},
)


def member(queue: str, interface: str, *, paused: str | None = None, status: int = 1) -> Membership:
    return Membership(
        queue=queue,
        interface=interface,
        state_interface=interface,
        name=interface,
        status=status,
        paused=paused is not None,
        paused_reason=paused or "",
        in_call=False,
        calls_taken=0,
        wrapup_time=0,
        penalty=0,
    )


def agent(
    key: str, queue: str, since: float, *, paused: str | None = None, device: str = "NOT_INUSE"
) -> Agent:
    a = Agent(key=key, device_state=device, state_since=since)
    a.memberships[queue] = member(queue, key, paused=paused)
    return a


def state(*agents: Agent, callers: dict[str, list[float]] | None = None) -> CallState:
    s = CallState()
    for a in agents:
        s.agents[a.key] = a
        for name in a.memberships:
            s.queues.setdefault(name, Queue(name)).members.add(a.key)
    for name, joined in (callers or {}).items():
        queue = s.queues.setdefault(name, Queue(name))
        for n, at in enumerate(joined):
            queue.entries[f"{name}-{n}"] = QueueCaller(f"{name}-{n}", f"u{n}", "+7495", None, at)
    return s


def kinds(alerts: list[dict[str, object]]) -> list[tuple[object, ...]]:
    return [(a["kind"], a["queue"] or a["agent"]) for a in alerts]


def test_nothing_to_say_when_all_is_well() -> None:
    s = state(agent("PJSIP/101", "support", NOW - 5000), callers={"support": [NOW - 59]})
    assert compute_alerts(s, lambda q: 85.0, THRESHOLDS, NOW) == []


def test_a_service_level_under_the_queues_target() -> None:
    s = state(agent("PJSIP/101", "support", NOW), agent("PJSIP/102", "vip", NOW))
    levels = {"support": 81.0, "vip": 90.0}
    alerts = compute_alerts(s, levels.get, THRESHOLDS, NOW)
    assert kinds(alerts) == [("service_level", "vip")]  # 81 ≥ 80, but vip wants 95
    assert alerts[0]["value"] == 90.0 and alerts[0]["limit"] == 95
    # no calls today: no level, no alert
    assert compute_alerts(s, lambda q: None, THRESHOLDS, NOW) == []


def test_a_caller_waiting_past_the_queues_limit() -> None:
    s = state(callers={"support": [NOW - 61, NOW - 30], "vip": [NOW - 11]})
    alerts = compute_alerts(s, lambda q: None, THRESHOLDS, NOW)
    assert kinds(alerts) == [("long_wait", "support"), ("long_wait", "vip")]
    assert [a["key"] for a in alerts] == ["long_wait:support-0", "long_wait:vip-0"]
    assert alerts[0]["value"] == 61.0 and alerts[1]["limit"] == 10
    # the next limit to pass: the support caller who has waited 30 s, in 30 s
    assert next_alert_at(s, THRESHOLDS, NOW) == NOW + 30


def test_a_pause_past_its_reasons_limit() -> None:
    s = state(
        agent("PJSIP/101", "support", NOW - 601, paused="break"),  # limit 600
        agent("PJSIP/102", "support", NOW - 1000, paused="lunch"),  # default 1800
        agent("PJSIP/103", "support", NOW - 99_999, paused="training"),  # 0: never
    )
    alerts = compute_alerts(s, lambda q: None, THRESHOLDS, NOW)
    assert kinds(alerts) == [("long_pause", "PJSIP/101")]
    assert alerts[0]["paused_reason"] == "break" and alerts[0]["limit"] == 600
    assert next_alert_at(s, THRESHOLDS, NOW) == NOW - 1000 + 1800


def test_after_call_work_past_the_queues_limit() -> None:
    s = state(
        agent("PJSIP/101", "support", NOW - 61, paused=AFTER_CALL_REASON),
        agent("PJSIP/102", "vip", NOW - 20, paused=AFTER_CALL_REASON),
    )
    alerts = compute_alerts(s, lambda q: None, THRESHOLDS, NOW)
    assert kinds(alerts) == [("long_wrap_up", "PJSIP/101")]
    assert compute_alerts(s, lambda q: None, THRESHOLDS, NOW + 10)[1]["agent"] == "PJSIP/102"


def test_an_unreachable_phone() -> None:
    s = state(
        agent("PJSIP/101", "support", NOW - 3, device="UNAVAILABLE"),
        agent("PJSIP/102", "support", NOW - 3),
    )
    alerts = compute_alerts(s, lambda q: None, THRESHOLDS, NOW)
    assert kinds(alerts) == [("unreachable", "PJSIP/101")]
    assert alerts[0]["key"] == "unreachable:PJSIP/101"
