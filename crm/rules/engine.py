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
from sqlalchemy.exc import DBAPIError

from crm.database import Database
from crm.hooks import outbox
from crm.rules.actions import ActionError, Context, EventRef, apply, plan, upsert
from crm.rules.batch import Batch, insert_plain
from crm.rules.conditions import evaluate
from crm.rules.email_action import Mailer
from crm.rules.fields import facts, now
from crm.rules.models import Rule, RuleActionKey, table_of
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
    mailer: Mailer | None = None  # the `send_email` letters (set by crm.services)


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
        mailer=rt.mailer,
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
    """Run the rule for a stored event; each action once: its key (rule, event, index) is
    written in the action's own transaction. An event taken again after a worker stopped
    (`replay`) first reads which keys exist and skips those actions.
    `fail_after(index)`: a test's hook, called after action `index` committed."""
    assert event.id is not None
    checks = [c.json() for c in evaluate(rule.conditions, seen)]
    matched = all(c["ok"] for c in checks)
    done: list[dict[str, Any]] = []
    errors: list[str] = []
    if not matched:
        return RunResult(rule.id, False, checks, done, errors)
    before = await _done_before(rt, rule.id, event.id) if event.replay else {}
    for index, spec in enumerate(rule.actions):
        entry: dict[str, Any] = {"index": index, "type": spec["type"]}
        if index in before:  # a run that stopped in the middle did it
            done.append({**entry, **before[index], "status": "done before"})
            continue
        ctx: Context | None = None
        try:
            async with rt.db.transaction() as session:
                session.info[DEPTH_KEY] = event.depth + 1
                ctx = _context(rt, session, event, seen, rule)
                planned = await plan(ctx, index, spec)
                await apply(ctx, index, spec, planned)
                entry.update(planned, status="done")
                if not await _claim(rt, session, rule.id, event.id, index, _result(entry)):
                    raise _Taken  # another worker did it meanwhile: undo this one
        except _Taken:
            earlier = (await _done_before(rt, rule.id, event.id)).get(index, {})
            done.append({**entry, **earlier, "status": "done before"})
            continue
        except DBAPIError:
            raise  # the database, not the action: the whole event is tried again later
        except Exception as exc:
            log.warning("rule %s, event %s, action %s: %s", rule.id, event.uid, index, exc)
            entry.update(status="error", error=_text(exc))
            errors.append(f"action {index} ({spec['type']}): {_text(exc)}")
            async with rt.db.transaction() as session:  # the failed action is not repeated
                await _claim(rt, session, rule.id, event.id, index, _result(entry))
            ctx = None
        done.append(entry)
        if ctx is not None:
            after_commit(rt, ctx)
        if fail_after is not None:
            fail_after(index)
    return RunResult(rule.id, True, checks, done, errors)


async def run_together(
    rt: Runtime,
    session: Any,
    rules: list[RuleView],
    event: EventRef,
    seen: dict[str, Any],
    *,
    fail_after: Callable[[int], None] | None = None,
    keys: list[dict[str, Any]],
    batch: Batch,
) -> tuple[list[RunResult], list[Context]]:
    """Every rule of the event in the caller's transaction; each action's key is added to
    `keys`, for the caller to insert in the same transaction (a plain INSERT: a key taken
    meanwhile by another worker fails it, and the caller rolls back). An action that
    cannot be done for the event (`ActionError`: raised before it writes anything) is
    logged with its key as in `run`; anything else raises (the caller rolls back and goes
    action by action)."""
    assert event.id is not None
    session.info[DEPTH_KEY] = event.depth + 1
    results: list[RunResult] = []
    contexts: list[Context] = []
    for rule in rules:
        checks = [c.json() for c in evaluate(rule.conditions, seen)]
        matched = all(c["ok"] for c in checks)
        done: list[dict[str, Any]] = []
        errors: list[str] = []
        if matched:
            ctx = _context(rt, session, event, seen, rule)
            ctx.batch = batch
            for index, spec in enumerate(rule.actions):
                entry: dict[str, Any] = {"index": index, "type": spec["type"]}
                try:
                    entry.update(await plan(ctx, index, spec))
                    await apply(ctx, index, spec, entry)
                    entry["status"] = "done"
                except ActionError as exc:
                    log.warning("rule %s, event %s, action %s: %s", rule.id, event.uid, index, exc)
                    entry = {"index": index, "type": spec["type"]}
                    entry.update(status="error", error=_text(exc))
                    errors.append(f"action {index} ({spec['type']}): {_text(exc)}")
                keys.append(
                    {
                        "rule_id": rule.id,
                        "event_id": event.id,
                        "action_index": index,
                        "done_at": now(),
                        "result": entry,  # the caller stores `_result` of it
                    }
                )
                done.append(entry)
                if fail_after is not None:
                    fail_after(index)
            contexts.append(ctx)
        results.append(RunResult(rule.id, matched, checks, done, errors))
    return results, contexts


async def finish_together(session: Any, keys: list[dict[str, Any]], batch: Batch) -> None:
    """After `run_together` and the round's first write: the tasks and webhook rows
    made (`Batch.write`), then the keys (one statement; a key another worker took
    meanwhile fails it, and the caller's transaction is undone)."""
    await session.flush()
    await batch.write(session)
    if keys:
        rows = [{**key, "result": _result(key["result"])} for key in keys]
        await insert_plain(session, table_of(RuleActionKey), rows)


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


class _Taken(Exception):
    """The action's key was taken by another worker while this one did the action."""


async def _done_before(rt: Runtime, rule_id: int, event_id: int) -> dict[int, dict[str, Any]]:
    """The actions of this rule already done for this event, by index, with their result."""
    async with rt.db.session() as session:
        rows = await session.execute(
            select(RuleActionKey.action_index, RuleActionKey.result).where(
                RuleActionKey.rule_id == rule_id, RuleActionKey.event_id == event_id
            )
        )
        return {index: dict(result or {}) for index, result in rows}


def after_commit(rt: Runtime, ctx: Context) -> None:
    if ctx.hooks_queued:
        for wake in outbox.WAKERS:
            wake()
    if rt.notify is not None:
        for user_id, message in ctx.notices:
            try:
                rt.notify([user_id], message)
            except Exception:
                log.exception("rule %s: the panel notice was not sent", ctx.rule_id)
