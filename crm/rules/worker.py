"""The rules' worker (the task "rules"): claims pending events from `rule_events`, runs
the enabled rules of each (`crm.rules.engine.run`) and logs every run.

At least once: an event is marked done only after all its rules ran; a worker that dies
in the middle leaves it pending with a lease (`locked_until`) that runs out, and the next
one runs it again — the action keys make that skip what was done. On PostgreSQL events
are claimed with `FOR UPDATE SKIP LOCKED`, so several nodes share the queue. A failing
event is retried with a growing wait and given up (`failed`) after `MAX_ATTEMPTS`.

A round of fresh events is one batch (`together`, `crm.rules.batch`): a few statements
for the whole round, not per event, and the event loop given back while it works (the
screen pop and the AMI reader share it); the enabled rules are cached per worker.

Every hour it deletes finished events older than `keep_days` with their action keys (an
event is done by then: no action can be asked twice) and runs older than
`keep_runs_days` (and panel notices read that long ago). Every `overdue_every` seconds
it also queues `task.overdue` for open tasks past their due time (once per task and due
time), when a rule listens to it, and every `schedule_every` seconds (and on start: a
time passed while Trubka was down runs then, the same day only) the schedule rules whose
time came today queue their events (`crm.rules.schedule.run_due`, on the worker's
`clock`); a schedule's event runs only the rule that queued it.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, func, or_, select, update

from crm.models import Task, TaskStatus
from crm.notices import Notice
from crm.rules.actions import Context, EventRef
from crm.rules.batch import Batch, insert_plain
from crm.rules.engine import (
    MAX_DEPTH,
    RuleView,
    RunResult,
    Runtime,
    after_commit,
    event_facts,
    finish_together,
    run,
    run_together,
)
from crm.rules.fields import facts, now
from crm.rules.models import (
    CUT,
    DONE,
    PENDING,
    Rule,
    RuleActionKey,
    RuleEvent,
    RuleRun,
    table_of,
)
from crm.rules.record import WAKERS, listened, record, rule_changes
from crm.rules.schedule import RULE_KEY, run_due
from crm.tasks import task_views
from kernel import urgency

log = logging.getLogger(__name__)

FAILED = "failed"
MAX_ATTEMPTS = 8
OVERDUE_NAMESPACE = uuid.UUID("c6f0e3a2-1b7d-4c9e-8f2a-5d4b3c2a1f0e")


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    batch: int = 50
    lease: timedelta = timedelta(seconds=120)
    poll_interval: float = 1.0  # the shortest wait between two rounds that found nothing
    idle_max: float = 10.0  # the longest (`RuleWorker.idle_wait`)
    overdue_every: float = 60.0
    retry_initial: float = 5.0
    keep_days: int = 7  # finished events (and their action keys) are deleted after this
    keep_runs_days: int = 30  # the run log
    purge_every: float = 3600.0
    schedule_every: float = 30.0
    # the event loop is shared with the screen pop and the AMI reader: a round gives the
    # loop back after `slice` seconds of work, and pauses `busy_pause` before the next
    # round when the loop came back later than `busy_lag` (others had work waiting)
    slice: float = 0.001
    busy_lag: float = 0.005
    busy_pause: float = 0.01
    # the enabled rules are read again after a change in this process, and at least this
    # often (a change made on another node)
    rules_ttl: float = 2.0


def _of(event: EventRef, rules: list[RuleView]) -> list[RuleView]:
    """The rules that run on the event: a schedule's event only the rule that queued it."""
    if not event.event.startswith("schedule."):
        return rules
    return [r for r in rules if r.id == event.data.get(RULE_KEY)]


def _runs(event: EventRef, results: list[RunResult]) -> list[dict[str, Any]]:
    stamp = now()
    return [
        {
            "rule_id": r.rule_id,
            "event_id": event.id,
            "event_uid": event.uid,
            "event": event.event,
            "at": stamp,
            "matched": r.matched,
            "conditions": r.conditions,
            "actions": r.actions,
            "errors": r.errors,
        }
        for r in results
    ]


async def _log(session: Any, runs: list[dict[str, Any]]) -> None:
    if runs:  # a statement per `ROWS` runs
        await insert_plain(session, table_of(RuleRun), runs)


class RuleWorker:
    def __init__(self, runtime: Runtime, config: WorkerConfig | None = None) -> None:
        self.rt = runtime
        self.config = config or WorkerConfig()
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.processed = 0
        self.fail_after: Callable[[int], None] | None = None  # tests: stop mid-way
        self.clock: Callable[[], datetime] = now  # the schedules' time (tests inject one)
        # event type → (rule changes seen, when read, its enabled rules)
        self._rules: dict[str, tuple[int, float, list[RuleView]]] = {}

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        WAKERS.append(self.wake)  # a commit that queued events wakes this worker
        try:
            await self._loop()
        finally:
            if self.wake in WAKERS:
                WAKERS.remove(self.wake)

    async def _loop(self) -> None:
        overdue_at = purged_at = scheduled_at = 0.0
        while not self._stopping.is_set():
            try:
                if time.monotonic() - purged_at >= self.config.purge_every:
                    purged_at = time.monotonic()
                    await self.purge()
                if time.monotonic() - overdue_at >= self.config.overdue_every:
                    overdue_at = time.monotonic()
                    await self.queue_overdue()
                if time.monotonic() - scheduled_at >= self.config.schedule_every:
                    scheduled_at = time.monotonic()
                    await self.run_schedules()
                self._wake.clear()
                done = await self.run_once()
                if done:
                    await self._courtesy()
            except Exception:
                log.exception("rules round failed")
                done = 0
            if done == 0 and not self._stopping.is_set():
                periodic = min(
                    purged_at + self.config.purge_every,
                    overdue_at + self.config.overdue_every,
                    scheduled_at + self.config.schedule_every,
                )
                try:
                    async with asyncio.timeout(await self.idle_wait(periodic)):
                        await self._wake.wait()
                except TimeoutError:
                    pass

    async def idle_wait(self, periodic: float = float("inf")) -> float:
        """Seconds to wait when a round found nothing: until a pending event's lease
        runs out (a retry's wait, a dead worker's claim) or the next periodic job
        (`periodic`, on `time.monotonic`), at least `poll_interval`, at most `idle_max`.
        New events wake the worker before that (a commit here, or another node's `rq`)."""
        try:
            due = await self.next_due()
        except Exception:
            log.exception("rules worker: the next due event was not read")
            return self.config.poll_interval
        wait = min(self.config.idle_max, periodic - time.monotonic())
        if due is not None:
            wait = min(wait, (due - now()).total_seconds())
        return max(wait, self.config.poll_interval)

    async def next_due(self) -> datetime | None:
        """When the earliest pending event can be claimed (now, when one is free)."""
        stamp = now()
        e = RuleEvent
        free = or_(e.locked_until.is_(None), e.locked_until < stamp)
        query = select(
            func.max(case((free, 1), else_=0)), func.min(case((~free, e.locked_until)))
        ).where(e.status == PENDING)
        async with self.rt.db.engine.connect() as conn:
            any_free, locked = (await conn.execute(query)).one()
        return stamp if any_free else locked

    async def _courtesy(self) -> None:
        """Between two rounds: let the loop run what waits; if that took long (the pop,
        the AMI reader were busy), pause a little more before the next round."""
        asked = time.perf_counter()
        await asyncio.sleep(0)
        if time.perf_counter() - asked > self.config.busy_lag:
            await asyncio.sleep(self.config.busy_pause)

    async def stop(self) -> None:
        """Finish the event in hand, then stop (what is left stays pending)."""
        self._stopping.set()
        self._wake.set()
        try:
            async with asyncio.timeout(10):
                await self._idle.wait()
        except TimeoutError:
            log.warning("rules worker: an event was still running at shutdown")

    async def run_once(self) -> int:
        """One round: claim a batch and run it. How many events were taken."""
        self._idle.clear()
        try:
            events = await self.claim()
            rules: dict[str, list[RuleView]] = {}  # read once per round and event type
            for kind in {e.event for e in events}:
                rules[kind] = await self.rules_for(kind)
            fresh = [e for e in events if not e.replay and e.depth < MAX_DEPTH]
            taken = len(events)
            if len(fresh) > 1:
                try:  # the whole round in one transaction: all of it or none
                    await self.together(fresh, rules)
                    self.processed += len(fresh)
                    events = [e for e in events if e.replay or e.depth >= MAX_DEPTH]
                except Exception:
                    log.debug("rules: the round goes event by event", exc_info=True)
            for event in events:
                if self._stopping.is_set():
                    break  # its lease runs out; another round takes it
                await self.process(event, _of(event, rules[event.event]))
                await asyncio.sleep(0)
            return taken
        finally:
            self._idle.set()

    async def claim(self) -> list[EventRef]:
        stamp = now()
        e = RuleEvent
        free = or_(e.locked_until.is_(None), e.locked_until < stamp)
        query = (
            select(e.id, e.locked_until)
            .where(e.status == PENDING, free)
            .order_by(e.id)
            .limit(self.config.batch)
        )
        if self.rt.db.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        async with self.rt.db.transaction() as session:
            seen = {i: held is not None for i, held in (await session.execute(query))}
            if not seen:
                return []
            claimed = await session.execute(
                update(e)
                .where(e.id.in_(list(seen)), e.status == PENDING, free)
                .values(locked_until=stamp + self.config.lease)
                .returning(e.id)
            )
            ids = list(claimed.scalars().all())
            rows = (await session.scalars(select(e).where(e.id.in_(ids)).order_by(e.id))).all()
            return [
                EventRef(
                    r.id,
                    r.uid,
                    r.event,
                    r.occurred_at,
                    dict(r.data or {}),
                    r.contact_id,
                    r.depth,
                    replay=seen.get(r.id, False) or r.attempts > 0,
                )
                for r in rows
            ]

    async def rules_for(self, event: str) -> list[RuleView]:
        """The enabled rules of an event type, from the cache while no rule changed."""
        changes, stamp = rule_changes(), time.monotonic()
        cached = self._rules.get(event)
        if cached and cached[0] == changes and stamp - cached[1] < self.config.rules_ttl:
            return cached[2]
        views = await self._read_rules(event)
        self._rules[event] = (changes, stamp, views)
        return views

    async def _read_rules(self, event: str) -> list[RuleView]:
        async with self.rt.db.session() as session:
            rows = (
                await session.scalars(
                    select(Rule)
                    .where(Rule.event == event, Rule.enabled.is_(True), Rule.builtin.is_(None))
                    .order_by(Rule.position, Rule.id)
                )
            ).all()
            return [RuleView.of(r) for r in rows]

    async def process(self, event: EventRef, rules: list[RuleView] | None = None) -> None:
        assert event.id is not None
        if event.depth >= MAX_DEPTH:
            log.warning(
                "rules: event %s (%s) is %d rule actions deep: the chain is cut here",
                event.uid,
                event.event,
                event.depth,
            )
            await self._finish(event.id, CUT, [], f"chain cut at depth {event.depth}")
            return
        if rules is None:
            rules = _of(event, await self.rules_for(event.event))
        if not event.replay:
            try:  # the fast path: every action and the log in one transaction
                await self.at_once(event, rules)
                self.processed += 1
                return
            except Exception:
                log.debug("rules: event %s goes action by action", event.uid, exc_info=True)
        try:  # action by action, each in its own transaction with its key
            seen = await event_facts(self.rt, event) if rules else {}
            results = [
                await run(self.rt, rule, event, seen, fail_after=self.fail_after) for rule in rules
            ]
        except Exception as exc:
            log.exception("rules: event %s failed", event.uid)
            await self._retry(event.id, f"{type(exc).__name__}: {exc}"[:500])
            return
        await self._finish(event.id, DONE, _runs(event, results), None)
        self.processed += 1

    async def together(self, events: list[EventRef], rules: dict[str, list[RuleView]]) -> None:
        """Run a round's fresh events in one transaction (`crm.rules.batch`): their
        contacts read at once, the rules evaluated in memory, then the events marked done
        (one statement), the tasks, webhook rows, action keys and runs written
        `crm.rules.batch.ROWS` rows a statement. The loop is given back every
        `config.slice` seconds of work."""
        contexts: list[Context] = []
        runs: list[dict[str, Any]] = []
        keys: list[dict[str, Any]] = []
        batch = Batch(self.rt.db.dialect)
        async with self.rt.db.transaction() as session:
            await batch.preload(session, {e.contact_id for e in events if e.contact_id})
            started = time.perf_counter()
            for event in events:
                if time.perf_counter() - started > self.config.slice:
                    await asyncio.sleep(0)  # the pop and the AMI reader go first
                    await urgency.step_aside()  # and a pop on its way goes through
                    started = time.perf_counter()
                todo = _of(event, rules[event.event])
                seen = (
                    await facts(
                        session,
                        event.event,
                        event.data,
                        event.occurred_at,
                        directory=self.rt.directory,
                        timezone=self.rt.timezone,
                        tags=batch.tags,
                        contacts=batch.contacts,
                    )
                    if todo
                    else {}
                )
                results, done = await run_together(
                    self.rt,
                    session,
                    todo,
                    event,
                    seen,
                    fail_after=self.fail_after,
                    keys=keys,
                    batch=batch,
                )
                runs += _runs(event, results)
                contexts += done
            # the first write: on SQLite the transaction holds the write lock from here
            await session.execute(
                update(RuleEvent)
                .where(RuleEvent.id.in_([e.id for e in events]))
                .values(status=DONE, finished_at=now(), locked_until=None, error=None)
                .values(attempts=RuleEvent.attempts + 1)
            )
            await finish_together(session, keys, batch)
            await _log(session, runs)
        for ctx in contexts:
            after_commit(self.rt, ctx)

    async def at_once(self, event: EventRef, rules: list[RuleView]) -> None:
        """Run the event's rules in one transaction with their keys, logs and the event
        marked done: all of it or none (`together` with one event). An action that fails
        unexpectedly raises (then the event goes action by action, where a failing action
        is logged and the others done)."""
        await self.together([event], {event.event: rules})

    async def _finish(
        self, event_id: int, status: str, runs: list[dict[str, Any]], error: str | None
    ) -> None:
        async with self.rt.db.transaction() as session:
            await _log(session, runs)
            await session.execute(
                update(RuleEvent)
                .where(RuleEvent.id == event_id)
                .values(
                    status=status,
                    finished_at=now(),
                    locked_until=None,
                    error=error,
                    attempts=RuleEvent.attempts + 1,
                )
            )

    async def _retry(self, event_id: int, error: str) -> None:
        async with self.rt.db.transaction() as session:
            row = await session.get(RuleEvent, event_id)
            if row is None:
                return
            row.attempts += 1
            row.error = error
            if row.attempts >= MAX_ATTEMPTS:
                row.status = FAILED
                row.finished_at = now()
                row.locked_until = None
            else:
                wait = self.config.retry_initial * 2 ** (row.attempts - 1)
                row.locked_until = now() + timedelta(seconds=wait)

    async def purge(self) -> int:
        """Delete finished events older than `keep_days` (with their action keys) and
        runs older than `keep_runs_days`, panel notices read that long ago. How many events."""
        stamp = now()
        cutoff = stamp - timedelta(days=self.config.keep_days)
        old = (RuleEvent.status != PENDING) & (RuleEvent.finished_at < cutoff)
        async with self.rt.db.transaction() as session:
            await session.execute(
                delete(RuleActionKey).where(
                    RuleActionKey.event_id.in_(select(RuleEvent.id).where(old))
                )
            )
            result = await session.execute(delete(RuleEvent).where(old))
            await session.execute(
                delete(RuleRun).where(
                    RuleRun.at < stamp - timedelta(days=self.config.keep_runs_days)
                )
            )
            await session.execute(  # panel notices read that long ago (unread ones stay)
                delete(Notice).where(
                    Notice.read_at < stamp - timedelta(days=self.config.keep_runs_days)
                )
            )
        return int(getattr(result, "rowcount", 0) or 0)

    async def run_schedules(self) -> int:
        """Queue the events of the schedule rules due now (each once a local day)."""
        return await run_due(self.rt.db, self.rt.timezone, self.clock())

    async def queue_overdue(self) -> int:
        """`task.overdue` for open tasks past due (the last week), once per due time."""
        stamp = now()
        async with self.rt.db.transaction() as session:
            if not await listened(session, ["task.overdue"]):
                return 0
            tasks = (
                await session.scalars(
                    select(Task)
                    .where(
                        Task.status == TaskStatus.OPEN.value,
                        Task.due_at < stamp,
                        Task.due_at > stamp - timedelta(days=7),
                    )
                    .order_by(Task.id)
                    .limit(1000)
                )
            ).all()
            queued = 0
            for task, view in zip(tasks, await task_views(session, list(tasks)), strict=True):
                due = task.due_at.isoformat() if task.due_at else ""
                uid = str(uuid.uuid5(OVERDUE_NAMESPACE, f"{task.id}:{due}"))
                queued += await record(
                    session, "task.overdue", view, contact_id=task.contact_id, uid=uid, checked=True
                )
            return queued
