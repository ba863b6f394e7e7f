"""The rules as admins manage them (`/api/rules`, `/admin/triggers`): list, create,
change, switch on and off, delete, a dry run against an event or a past call, and the
run log. Every change is validated whole (`validate`); a template that does not compile
or render is refused then, naming its field.
"""

from __future__ import annotations

import builtins
import uuid
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from crm.call_records import CallRow
from crm.database import Database
from crm.errors import Conflict, InvalidInput, NotFound
from crm.hooks.calls import call_events
from crm.hooks.webhooks import iso
from crm.rules import actions as rule_actions
from crm.rules import builtin as builtins_
from crm.rules import schedule as rule_schedule
from crm.rules.actions import EventRef
from crm.rules.conditions import validate as validate_conditions
from crm.rules.email_action import check_references
from crm.rules.engine import RuleView, Runtime, dry_run
from crm.rules.fields import CALL_EVENTS, EVENT_TYPES, SCHEDULE_EVENTS, sample_facts
from crm.rules.models import Rule, RuleRun
from crm.rules.record import rules_changed
from crm.timeline import call_json
from crm.users import UserDirectory
from routing.rules import RoutingRules

MAX_RULES = 200


def rule_json(row: Rule) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "event": row.event,
        "conditions": list(row.conditions or []),
        "actions": list(row.actions or []),
        "enabled": bool(row.enabled),
        "schedule": dict(row.schedule) if row.schedule else None,
        "schedule_day": row.schedule_day,
        "builtin": row.builtin,
        "position": row.position,
        "version": row.version,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }


def run_json(row: RuleRun) -> dict[str, Any]:
    return {
        "id": row.id,
        "rule_id": row.rule_id,
        "event_id": row.event_uid,
        "event": row.event,
        "at": iso(row.at),
        "matched": bool(row.matched),
        "conditions": list(row.conditions or []),
        "actions": list(row.actions or []),
        "errors": list(row.errors or []),
    }


def validate(data: dict[str, Any], *, builtin: str | None = None) -> dict[str, Any]:
    """A rule's fields, checked; `InvalidInput` names the first bad one."""
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 200:
        raise InvalidInput("the name must be 1 to 200 characters long", field="name")
    event = data.get("event")
    if event not in EVENT_TYPES:
        raise InvalidInput("unknown event", field="event")
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise InvalidInput("true or false is expected", field="enabled")
    if builtin is not None:
        if event != builtins_.CALLBACK_EVENT:
            raise InvalidInput("a built-in rule keeps its event", field="event")
        conditions = builtins_.CALLBACK_CONDITIONS
    else:
        conditions = validate_conditions(event, data.get("conditions", []))
    schedule = rule_schedule.validate(event, data.get("schedule"))
    actions = rule_actions.validate(
        event, data.get("actions"), sample_facts(event), builtin=builtin is not None
    )
    return {
        "name": name.strip(),
        "event": event,
        "conditions": conditions,
        "actions": actions,
        "enabled": enabled,
        "schedule": schedule,
    }


class RuleService:
    def __init__(self, db: Database, directory: UserDirectory) -> None:
        self.db = db
        self.runtime = Runtime(db, directory, RoutingRules, ZoneInfo("UTC"))
        self._ensured = False  # the built-in rules' rows exist (made on the first list)

    async def list(self) -> builtins.list[dict[str, Any]]:
        if not self._ensured:
            async with self.db.transaction() as session:
                await builtins_.ensure(session)
            self._ensured = True
        async with self.db.session() as session:
            rows = (
                await session.scalars(
                    select(Rule).order_by(Rule.builtin.is_(None), Rule.position, Rule.id)
                )
            ).all()
            return [rule_json(r) for r in rows]

    async def get(self, rule_id: int) -> dict[str, Any]:
        async with self.db.session() as session:
            return rule_json(await self._row(session, rule_id))

    async def _row(self, session: Any, rule_id: int) -> Rule:
        row: Rule | None = await session.get(Rule, rule_id)
        if row is None:
            raise NotFound("no such rule")
        return row

    async def create(self, data: dict[str, Any], user_id: int | None) -> dict[str, Any]:
        fields = validate(data)
        stamp = datetime.now(UTC)
        async with self.db.transaction() as session:
            await check_references(session, fields["actions"])
            count = await session.scalar(select(func.count()).select_from(Rule))
            if (count or 0) >= MAX_RULES:
                raise InvalidInput("at most 200 rules", field="name")
            position = await session.scalar(select(func.max(Rule.position))) or 0
            row = Rule(
                **fields,
                builtin=None,
                position=position + 1,
                version=1,
                created_at=stamp,
                updated_at=stamp,
                updated_by_id=user_id,
            )
            session.add(row)
            await session.flush()
            out = rule_json(row)
        rules_changed()
        return out

    async def update(
        self, rule_id: int, data: dict[str, Any], user_id: int | None
    ) -> dict[str, Any]:
        async with self.db.transaction() as session:
            row = await self._row(session, rule_id)
            version = data.get("version")
            if version is not None and version != row.version:
                raise Conflict("the rule changed meanwhile", current_version=row.version)
            merged = {**rule_json(row), **data}
            if "schedule" not in data and merged["event"] not in SCHEDULE_EVENTS:
                merged["schedule"] = None  # the event changed to one without a schedule
            fields = validate(merged, builtin=row.builtin)
            await check_references(session, fields["actions"])
            for key, value in fields.items():
                setattr(row, key, value)
            row.version += 1
            row.updated_at = datetime.now(UTC)
            row.updated_by_id = user_id
            await session.flush()
            out = rule_json(row)
        rules_changed()
        return out

    async def set_enabled(self, rule_id: int, enabled: bool, user_id: int | None) -> dict[str, Any]:
        return await self.update(rule_id, {"enabled": enabled}, user_id)

    async def delete(self, rule_id: int) -> None:
        async with self.db.transaction() as session:
            row = await self._row(session, rule_id)
            if row.builtin is not None:
                raise InvalidInput(
                    "a built-in rule cannot be deleted: switch it off instead", field="id"
                )
            await session.delete(row)
        rules_changed()

    async def runs(self, rule_id: int, limit: int = 50) -> builtins.list[dict[str, Any]]:
        async with self.db.session() as session:
            await self._row(session, rule_id)
            rows = (
                await session.scalars(
                    select(RuleRun)
                    .where(RuleRun.rule_id == rule_id)
                    .order_by(RuleRun.id.desc())
                    .limit(limit)
                )
            ).all()
            return [run_json(r) for r in rows]

    async def test(
        self,
        rule_id: int,
        *,
        event: dict[str, Any] | None = None,
        call_id: int | None = None,
    ) -> dict[str, Any]:
        """What the rule would do for the event (its data as the API gives the record)
        or for a past call: the conditions with the values seen, the actions planned.
        Nothing is written."""
        async with self.db.session() as session:
            row = await self._row(session, rule_id)
            rule = RuleView.of(row)
            if row.builtin is not None:
                rule = RuleView(rule.id, rule.name, rule.event, rule.conditions, [])
            if call_id is not None:
                data, occurred = await self._call(session, call_id, rule.event)
            elif isinstance(event, dict):
                data, occurred = dict(event), datetime.now(UTC)
            else:
                raise InvalidInput("give an event or a call_id", field="event")
        ref = EventRef(None, str(uuid.uuid4()), rule.event, occurred, data, None, 0)
        result = await dry_run(self.runtime, rule, ref)
        actions = result.actions
        if row.builtin is not None and result.matched:
            actions = [{"index": 0, "type": "callback_task", "status": "would"}]
        return {
            "rule_id": rule.id,
            "event": rule.event,
            "matched": result.matched,
            "conditions": result.conditions,
            "actions": actions,
            "errors": result.errors,
        }

    async def _call(
        self, session: Any, call_id: int, event: str
    ) -> tuple[dict[str, Any], datetime]:
        if event not in CALL_EVENTS:
            raise InvalidInput("this rule is not about calls", field="call_id")
        row = await session.get(CallRow, call_id)
        if row is None:
            raise NotFound("no such call")
        agents, _ = await self.runtime.directory.snapshot()
        data = call_json(row, agents)
        data["routed_agent"] = None
        if event not in call_events(row):
            raise InvalidInput("the call did not make this rule's event", field="call_id")
        return data, row.ended_at
