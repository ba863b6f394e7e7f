"""Routing rules files: TOML and JSON, defaults ← queue ← DID, clear errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from routing.errors import RulesError
from routing.rules import Policy, RoutingRules, load_rules, parse_rules

TOML = """
queue = "support"
prefer = ["last-agent", "owner"]
lookback_days = 60
ring_seconds = 25

[vip]
VIP = 10
gold = 5

[hours]
timezone = "Europe/Moscow"
mon = "09:00-18:00"
tue = "09:00-18:00"
wed = "09:00-18:00"
thu = "09:00-18:00"
fri = ["09:00-13:00", "14:00-17:00"]
holidays = [2026-12-31]

[after_hours]
action = "goto"
goto = "voicemail,s,1"

[queues.sales]
when_busy = "wait"
wait_seconds = 40

[queues.sales.after_hours]
action = "queue"
queue = "sales-night"

[dids."8 (495) 111-22-33"]
queue = "sales"
prefer = "owner"

[dids."+74952223344"]
hours = { timezone = "Asia/Vladivostok", sat = "10:00-14:00" }
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_file() -> None:
    rules = load_rules(None)
    policy = rules.for_did("+74951112233")
    assert policy == Policy()
    assert (policy.queue, policy.prefer, policy.lookback_days, policy.ring_seconds) == (
        "support",
        ("last-agent", "owner"),
        90.0,
        20,
    )
    assert (policy.when_busy, policy.hours, policy.vip) == ("queue", None, {})
    assert load_rules("").for_did(None) == Policy()


def test_toml_file_resolves_defaults_then_queue_then_did(tmp_path: Path) -> None:
    rules = load_rules(write(tmp_path, "routing.toml", TOML))
    default = rules.for_did(None)
    assert (default.queue, default.lookback_days, default.ring_seconds, default.when_busy) == (
        "support",
        60,
        25,
        "queue",
    )
    assert default.vip == {"vip": 10, "gold": 5}
    assert default.priority_for(frozenset({"Vip"})) == 10
    assert default.after_hours.goto == "voicemail,s,1"

    sales_line = rules.for_did("+74951112233")  # written as "8 (495) 111-22-33"
    assert sales_line is rules.for_did("84951112233")
    assert (sales_line.queue, sales_line.prefer) == ("sales", ("owner",))
    assert (sales_line.when_busy, sales_line.wait_seconds) == ("wait", 40)  # from [queues.sales]
    assert sales_line.after_hours.queue == "sales-night"
    assert sales_line.ring_seconds == 25  # from the defaults
    assert rules.for_queue("sales").prefer == ("last-agent", "owner")
    assert rules.for_queue("sales").queue == "sales"

    far = rules.for_did("+74952223344")
    assert far.hours is not None and far.hours.timezone == "Asia/Vladivostok"
    assert far.hours.is_open(datetime(2026, 11, 28, 1, 0, tzinfo=UTC))  # Sat 11:00 there
    assert not far.hours.is_open(datetime(2026, 11, 26, 1, 0, tzinfo=UTC))  # Thursday: not listed

    assert rules.for_did("+70000000000") is rules.for_did(None)  # an unknown DID: the defaults


def test_json_file_works_the_same(tmp_path: Path) -> None:
    data = {"queue": "support", "when_busy": "wait", "dids": {"+74951112233": {"queue": "sales"}}}
    rules = load_rules(write(tmp_path, "routing.json", json.dumps(data)))
    assert rules.for_did("84951112233").queue == "sales"
    assert rules.for_did("84951112233").when_busy == "wait"


def test_the_default_queue_can_have_overrides() -> None:
    rules = parse_rules({"queues": {"support": {"ring_seconds": 9}}})
    assert rules.for_did(None).ring_seconds == 9


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"dids": {"+74951112233": {"whenbusy": "wait"}}},
            "dids.+74951112233.whenbusy: unknown key",
        ),
        ({"when_busy": "later"}, "when_busy: Input should be 'queue' or 'wait' (got 'later')"),
        ({"prefer": ["boss"]}, "prefer.0: Input should be 'last-agent' or 'owner'"),
        ({"prefer": ["owner", "owner"]}, "prefer: name each of last-agent/owner at most once"),
        ({"ring_seconds": 0}, "ring_seconds: Input should be greater than or equal to 1"),
        ({"lookback_days": -1}, "lookback_days: Input should be greater than 0"),
        ({"vip": {"gold": "lots"}}, "vip.gold: Input should be a valid integer"),
        ({"queue": "sup port"}, "queue: a queue name is letters, digits"),
        ({"queues": {"a b": {}}}, "queues: a queue name is letters, digits"),
        ({"hours": {"timezone": "Moscow"}}, "hours.timezone: unknown time zone 'Moscow'"),
        ({"hours": {"mon": "9-18"}}, "hours.mon: '9-18' is not \"HH:MM-HH:MM\""),
        ({"hours": {"mon": "18:00-09:00"}}, "hours.mon: '18:00-09:00' ends before it starts"),
        ({"hours": {"mon": "09:00-25:00"}}, "hours.mon: '09:00-25:00' is not a time of day"),
        ({"hours": {"monday": "09:00-18:00"}}, "hours.monday: unknown key"),
        (
            {"after_hours": {"action": "dial"}},
            'after_hours: action "dial" needs dial = "TECH/resource"',
        ),
        (
            {"after_hours": {"action": "goto", "goto": "voicemail"}},
            "after_hours.goto: 'voicemail' is not",
        ),
        (
            {"after_hours": {"action": "dial", "dial": "PJSIP/200,10,G(x)"}},
            "after_hours.dial: 'PJSIP/200,10,G(x)'",
        ),
        (
            {"dids": {"+7495": {"after_hours": {"action": "fax"}}}},
            "dids.+7495.after_hours.action: Input should be",
        ),
        (
            {"after_hours": {"action": "dial", "dial": "PJSIP/200\n"}},
            "after_hours.dial: 'PJSIP/200\\n' is not",
        ),
        ({"queue": "support\n"}, "queue: a queue name is letters"),
        (
            {"queues": {"sales": {"queue": "support"}}},
            "[queues.sales] cannot send calls to queue 'support'",
        ),
    ],
)
def test_errors_name_the_bad_key(data: dict[str, object], message: str) -> None:
    with pytest.raises(RulesError) as caught:
        parse_rules(data, source="routing.toml")
    assert str(caught.value).startswith("routing rules routing.toml: ")
    assert message in str(caught.value)


def test_file_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="does not exist"):
        load_rules(tmp_path / "missing.toml")
    with pytest.raises(RulesError, match=r"is not valid TOML: .*line 1"):
        load_rules(write(tmp_path, "bad.toml", "queue = \n"))
    with pytest.raises(RulesError, match="is not valid JSON"):
        load_rules(write(tmp_path, "bad.json", "{"))
    with pytest.raises(RulesError, match="top level must be a table"):
        load_rules(write(tmp_path, "list.json", "[]"))
    with pytest.raises(RulesError, match="cannot be read"):
        load_rules(tmp_path)  # a directory
    with pytest.raises(
        RulesError, match=r"dids\.\+7\.queue: unknown key|dids\.\+7\.queeu: unknown key"
    ):
        load_rules(write(tmp_path, "typo.toml", '[dids."+7"]\nqueeu = "x"\n'))


def test_rules_source_is_remembered(tmp_path: Path) -> None:
    path = write(tmp_path, "routing.toml", 'queue = "sales"\n')
    rules = load_rules(path, region="DE")
    assert isinstance(rules, RoutingRules)
    assert (rules.source, rules.region, rules.default.queue) == (str(path), "DE", "sales")


def test_callback_keys_per_queue_and_did_and_the_rules_of_a_finished_call() -> None:
    rules = parse_rules(
        {
            "supervisor": "Starshaya",
            "queues": {"sales": {"supervisor": "sales.head", "callback_due_minutes": 10}},
            "dids": {"+74951110000": {"queue": "sales", "callback_tasks": False}},
        }
    )
    assert (rules.default.supervisor, rules.default.callback_due_minutes) == ("starshaya", 30)
    assert rules.default.callback_tasks is True
    # A call's rules: its DID's when configured, else its queue's, else the default line's.
    by_did = rules.for_call("84951110000", "support")
    assert (by_did.callback_tasks, by_did.supervisor) == (False, "sales.head")
    by_queue = rules.for_call("+74959999999", "sales")
    assert (by_queue.supervisor, by_queue.callback_due_minutes) == ("sales.head", 10)
    assert rules.for_call(None, "no-such-queue").supervisor == "starshaya"
    assert rules.for_call(None, None).queue == "support"
    with pytest.raises(RulesError, match="supervisor: a supervisor is named by login"):
        parse_rules({"supervisor": "Анна Петрова"})
    with pytest.raises(RulesError, match="callback_due_minutes"):
        parse_rules({"queues": {"sales": {"callback_due_minutes": -1}}})


def test_next_opening_of_the_working_hours() -> None:
    hours = parse_rules(
        {
            "hours": {
                "timezone": "Europe/Moscow",
                "mon": ["09:00-13:00", "14:00-18:00"],
                "tue": "09:00-18:00",
                "fri": "10:00-16:00",
                "holidays": ["2026-11-24"],
            }
        }
    ).default.hours
    assert hours is not None
    msk = hours.zone()

    def at(day: int, hour: int, minute: int = 0) -> datetime:
        return datetime(2026, 11, day, hour, minute, tzinfo=msk)

    monday_noon = at(23, 12).astimezone(UTC)
    assert hours.next_open(monday_noon) == monday_noon  # open: at once
    assert hours.next_open(at(23, 13, 30)) == at(23, 14)  # the lunch break
    # Monday evening → Tuesday is a holiday → Friday 10:00 (Wed, Thu closed).
    evening = hours.next_open(at(23, 19).astimezone(UTC))
    assert evening == at(27, 10) and evening is not None and evening.tzinfo is UTC
    assert hours.next_open(at(27, 16)) == at(30, 9)  # Friday after closing → Monday
    closed = parse_rules({"hours": {"timezone": "UTC"}}).default.hours
    assert closed is not None and closed.next_open(monday_noon) is None
