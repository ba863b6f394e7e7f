"""Running the rules on one event: the facts once, then each rule's conditions, then its
actions in order — each in its own transaction next to its key (rule, event, action
index), so a restart in the middle neither loses nor repeats an action; a dry run plans
the same actions and writes nothing.

An action's own changes (a contact re-tagged, a deal moved) are events too, one level
deeper in their chain; an event `MAX_DEPTH` levels deep is not run (a warning is
logged, the event is marked `cut`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from crm.database import Database
from crm.hooks import outbox
from crm.rules.actions import ActionError, Context, EventRef, apply, plan, upsert
from crm.rules.conditions import evaluate
from crm.rules.fields import facts, now
from crm.rules.models import Rule, RuleActionKey
from crm.rules.record import DEPTH_KEY
from crm.users import UserDirectory
from routing.rules import RoutingRules

log = logging.getLogger(__name__)

MAX_DEPTH = 4  # events caused by this many rule actions in a row are not run

Notify = Callable[[list[int], dict[str, Any]], object]


@dataclass(frozen=True, slots=True)
class RuleView:
    """What running needs of a rule (a plain copy: no session attached)."""

    id: int
    name: str
    event: str
    conditions: list[dict[str, Any]]
    actions: list[dict[str, Any]]

    @classmethod
    def of(cls, row: Rule) -> RuleView:
        return cls(row.id, row.name, row.event, list(row.conditions), list(row.actions))


@dataclass
class Runtime:
    db: Database
    directory: UserDirectory
    routing: Callable[[], RoutingRules]
    timezone: ZoneInfo
    notify: Notify | None = None


@dataclass
class RunResult:
    rule_id: int
    matched: bool
    conditions: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    errors: list[str]


async def event_facts(rt: Runtime, event: EventRef) -> dict[str, Any]:
    async with rt.db.session() as session:
        return await facts(
            session,
            event.event,
            event.data,
            event.occurred_at,
            directory=rt.directory,
            timezone=rt.timezone,
        )


def _context(
    rt: Runtime, session: Any, event: EventRef, seen: dict[str, Any], rule: RuleView
) -> Context:
    return Context(
        session=session,
        event=event,
        facts=seen,
        rule_id=rule.id,
        rule_name=rule.name,
        directory=rt.directory,
        routing=rt.routing,
        dialect=rt.db.dialect,
    )


async def dry_run(rt: Runtime, rule: RuleView, event: EventRef) -> RunResult:
    """What the rule would do for the event: conditions and planned actions, no writes."""
    seen = await event_facts(rt, event)
    checks = [c.json() for c in evaluate(rule.conditions, seen)]
    matched = all(c["ok"] for c in checks)
    actions: list[dict[str, Any]] = []
    errors: list[str] = []
    if matched:
        async with rt.db.session() as session:
            ctx = _context(rt, session, event, seen, rule)
            for index, spec in enumerate(rule.actions):
                try:
                    planned = await plan(ctx, index, spec)
                    actions.append(
                        {"index": index, "type": spec["type"], "status": "would", **planned}
                    )
                except Exception as exc:
                    errors.append(f"action {index} ({spec['type']}): {_text(exc)}")
                    actions.append(
                        {
                            "index": index,
                            "type": spec["type"],
                            "status": "error",
                            "error": _text(exc),
                        }
                    )
            await session.rollback()
    return RunResult(rule.id, matched, checks, actions, errors)


def _text(exc: Exception) -> str:
    return str(exc) if isinstance(exc, ActionError) else f"{type(exc).__name__}: {exc}"[:400]


async def run(
    rt: Runtime,
    rule: RuleView,
    event: EventRef,
    seen: dict[str, Any],
    *,
    fail_after: Callable[[int], None] | None = None,
) -> RunResult:
    """Run the rule for a stored event; each action once (its key says it was done).
    `fail_after(index)`: a test's hook, called after action `index` committed."""
    assert event.id is not None
    checks = [c.json() for c in evaluate(rule.conditions, seen)]
    matched = all(c["ok"] for c in checks)
    done: list[dict[str, Any]] = []
    errors: list[str] = []
    if not matched:
        return RunResult(rule.id, False, checks, done, errors)
    for index, spec in enumerate(rule.actions):
        entry: dict[str, Any] = {"index": index, "type": spec["type"]}
        ctx: Context | None = None
        try:
            async with rt.db.transaction() as session:
                session.info[DEPTH_KEY] = event.depth + 1
                if not await _claim(rt, session, rule.id, event.id, index, {}):
                    done.append({**entry, **await _before(session, rule.id, event.id, index)})
                    continue
                ctx = _context(rt, session, event, seen, rule)
                planned = await plan(ctx, index, spec)
                await apply(ctx, index, spec, planned)
                entry.update(planned, status="done")
                key = await session.get(RuleActionKey, (rule.id, event.id, index))
                if key is not None:
                    key.result = _result(entry)
        except Exception as exc:
            log.warning("rule %s, event %s, action %s: %s", rule.id, event.uid, index, exc)
            entry.update(status="error", error=_text(exc))
            errors.append(f"action {index} ({spec['type']}): {_text(exc)}")
            async with rt.db.transaction() as session:  # the failed action is not repeated
                await _claim(rt, session, rule.id, event.id, index, _result(entry))
            ctx = None
        done.append(entry)
        if ctx is not None:
            _after_commit(rt, ctx)
        if fail_after is not None:
            fail_after(index)
    return RunResult(rule.id, True, checks, done, errors)


def _result(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k not in ("index", "type")}


async def _claim(
    rt: Runtime, session: Any, rule_id: int, event_id: int, index: int, result: dict[str, Any]
) -> bool:
    """Take the action's key; False when it was taken before (the action was done)."""
    claimed = await session.execute(
        upsert(rt.db.dialect)(RuleActionKey)
        .values(
            rule_id=rule_id, event_id=event_id, action_index=index, done_at=now(), result=result
        )
        .on_conflict_do_nothing(index_elements=["rule_id", "event_id", "action_index"])
    )
    return bool(getattr(claimed, "rowcount", 0) or 0)


async def _before(session: Any, rule_id: int, event_id: int, index: int) -> dict[str, Any]:
    result = await session.scalar(
        select(RuleActionKey.result).where(
            RuleActionKey.rule_id == rule_id,
            RuleActionKey.event_id == event_id,
            RuleActionKey.action_index == index,
        )
    )
    return {**(result or {}), "status": "done before"}


def _after_commit(rt: Runtime, ctx: Context) -> None:
    if ctx.hooks_queued:
        for wake in outbox.WAKERS:
            wake()
    if rt.notify is not None:
        for user_id, message in ctx.notices:
            try:
                rt.notify([user_id], message)
            except Exception:
                log.exception("rule %s: the panel notice was not sent", ctx.rule_id)
