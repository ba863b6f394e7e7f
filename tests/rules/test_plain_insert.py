"""The run log and the action keys written straight through the driver
(`crm.rules.batch.insert_plain`) read back exactly as rows written by SQLAlchemy's
INSERT (`insert_rows`): UTC times to the microsecond, JSON (empty lists, non-ASCII text,
nested values), booleans — on SQLite and PostgreSQL. And the engine's JSON text is
`json.dumps`'s."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select

from crm.database import Database, json_text
from crm.rules.batch import insert_plain, insert_rows
from crm.rules.models import Rule, RuleActionKey, RuleRun, table_of


def _run(rule_id: int, event_id: int, at: datetime, matched: bool) -> dict[str, Any]:
    return {
        "rule_id": rule_id,
        "event_id": event_id,
        "event_uid": f"uid-{event_id}",
        "event": "call.missed",
        "at": at,
        "matched": matched,
        "conditions": [{"field": "queue", "op": "eq", "value": "сад", "actual": None, "ok": 0}],
        "actions": [{"index": 0, "type": "create_task", "task_id": 7}] if matched else [],
        "errors": ["action 1 (webhook): «нет»"] if matched else [],
    }


def _row(obj: Any, names: list[str]) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in names}


async def test_plain_rows_read_back_as_sqlalchemys(db: Database) -> None:
    async with db.transaction() as session:
        stamp = datetime.now(UTC)
        rule = Rule(
            name="r",
            event="call.missed",
            conditions=[],
            actions=[],
            enabled=True,
            created_at=stamp,
            updated_at=stamp,
        )
        session.add(rule)
        await session.flush()
        rule_id = rule.id
    at = datetime(2026, 12, 6, 10, 0, 0, 0, tzinfo=UTC)
    moscow = timezone(timedelta(hours=3))
    runs = [
        _run(rule_id, 1, at, True),
        _run(rule_id, 2, at.astimezone(moscow) + timedelta(microseconds=5), False),
    ]
    keys = [
        {"rule_id": rule_id, "event_id": 1, "action_index": 0, "done_at": at, "result": {}},
        {
            "rule_id": rule_id,
            "event_id": 1,
            "action_index": 1,
            "done_at": at + timedelta(seconds=1, microseconds=123456),
            "result": {"status": "done", "task_id": 7, "title": "Перезвонить"},
        },
    ]
    async with db.transaction() as session:
        await insert_rows(session, table_of(RuleRun), runs)
        await insert_plain(session, table_of(RuleRun), runs)
        await insert_plain(session, table_of(RuleActionKey), keys)
    names = ["rule_id", "event_id", "event_uid", "event", "at", "matched"]
    names += ["conditions", "actions", "errors"]
    async with db.session() as session:
        stored = (await session.scalars(select(RuleRun).order_by(RuleRun.id))).all()
        stored_keys = (
            await session.scalars(select(RuleActionKey).order_by(RuleActionKey.action_index))
        ).all()
    by_sqlalchemy, plain = stored[:2], stored[2:]
    assert [_row(r, names) for r in plain] == [_row(r, names) for r in by_sqlalchemy]
    assert [r.at for r in plain] == [at, at + timedelta(microseconds=5)]
    assert [r.matched for r in plain] == [True, False]
    assert plain[1].actions == [] and plain[0].errors == ["action 1 (webhook): «нет»"]
    assert [(k.done_at, k.result) for k in stored_keys] == [
        (k["done_at"], k["result"]) for k in keys
    ]


async def test_a_naive_time_is_refused(db: Database) -> None:
    naive = {"rule_id": 1, "event_id": 1, "action_index": 0, "done_at": datetime(2026, 1, 1)}
    with pytest.raises(ValueError, match="naive"):
        async with db.transaction() as session:
            await insert_plain(session, table_of(RuleActionKey), [{**naive, "result": {}}])


@pytest.mark.parametrize("value", [[], {}, [1, "é"], {"a": [None, 1.5, True]}, "text", None, 3, ()])
def test_the_engines_json_text_is_json_dumps(value: Any) -> None:
    assert json_text(value) == json.dumps(value)
