"""The pieces of a rule on their own: conditions, working hours."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crm.errors import InvalidInput
from crm.rules.conditions import evaluate, validate
from crm.rules.due import due_at
from routing.rules import Hours


def test_conditions_are_typed_and_evaluated_with_what_they_saw() -> None:
    conditions = validate(
        "call.missed",
        [
            {"field": "queue", "op": "in", "value": ["support", "sales"]},
            {"field": "talk_seconds", "op": "lt", "value": 5},
            {"field": "contact_tags", "op": "has", "value": "VIP"},
            {"field": "time", "op": "between", "value": ["18:00", "09:00"]},
        ],
    )
    facts = {"queue": "sales", "talk_seconds": 0.0, "contact_tags": ["vip"], "time": "23:10"}
    assert [c.ok for c in evaluate(conditions, facts)] == [True, True, True, True]
    facts["time"] = "12:00"
    checked = evaluate(conditions, facts)
    assert [c.ok for c in checked] == [True, True, True, False]
    assert checked[3].actual == "12:00"
    for bad, field in (
        ({"field": "deal_stage", "op": "eq", "value": "x"}, "conditions.0.field"),
        ({"field": "queue", "op": "gt", "value": "x"}, "conditions.0.op"),
        ({"field": "talk_seconds", "op": "gt", "value": "x"}, "conditions.0.value"),
        ({"field": "time", "op": "before", "value": "25:00"}, "conditions.0.value"),
        ({"field": "queue", "op": "in", "value": []}, "conditions.0.value"),
    ):
        with pytest.raises(InvalidInput) as refused:
            validate("call.missed", [bad])
        assert refused.value.field == field


def test_working_hours_skip_the_night_and_the_weekend() -> None:
    line = Hours(timezone="UTC", mon="09:00-18:00", fri="09:00-18:00")
    friday_evening = datetime(2026, 12, 4, 17, 30, tzinfo=UTC)  # a Friday
    assert due_at(friday_evening, 1, working=True, line=line) == datetime(
        2026, 12, 7, 9, 30, tzinfo=UTC
    )
    assert due_at(friday_evening, 1, working=False, line=line) == datetime(
        2026, 12, 4, 18, 30, tzinfo=UTC
    )
    assert due_at(friday_evening, 1, working=True, line=None) == datetime(
        2026, 12, 4, 18, 30, tzinfo=UTC
    )
