"""The webhook delivery worker: claims due deliveries from the outbox, POSTs, retries.

One round: claim up to `batch` pending deliveries that are due, whose webhook is enabled
and that have no earlier pending delivery for the same webhook and contact (the order per
contact is kept); each claim is a lease (`locked_until`), so a worker that dies mid-way
only delays a delivery. On PostgreSQL the claim is `SELECT … FOR UPDATE SKIP LOCKED`, so
several nodes can share the work; SQLite serves one node. Each claimed delivery is POSTed
(the stored body, `X-Trubka-Event-Id`, `X-Trubka-Signature: sha256=<hex HMAC-SHA256 of the
body with the webhook's secret>`); a 2xx is success, anything else (another status, a
refused connection, a timeout) is an attempt logged with its status or error, and the
delivery is due again after an exponential backoff with jitter, capped. A delivery older
than `give_up_after` is given up (status "failed"); events whose deliveries all finished
are deleted after `keep_days`; a webhook that has failed for
`disable_after` without a single success is disabled (`on_disabled` is told: the log
and the audit).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import and_, case, delete, exists, func, or_, select, update
from sqlalchemy.orm import aliased

from crm.database import Database
from crm.hooks.models import (
    DELIVERED,
    FAILED,
    PENDING,
    Webhook,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
)
from crm.hooks.outbox import WAKERS

log = logging.getLogger(__name__)

USER_AGENT = "Trubka-Webhooks/1"
PURGE_EVERY = 3600.0  # seconds between purges of old events


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    backoff_initial: float = 5.0  # seconds before the 2nd attempt; doubles each time
    backoff_max: float = 900.0  # the cap of one wait
    timeout: float = 10.0  # one POST, connect to last byte
    poll_interval: float = 1.0  # the shortest wait between two rounds that found nothing
    idle_max: float = 10.0  # the longest (`DeliveryWorker.idle_wait`)
    batch: int = 20
    disable_after: float = 86_400.0  # a webhook failing this long is disabled
    give_up_after: float = 259_200.0  # a delivery this old is given up
    keep_days: int = 7  # events whose deliveries all finished are deleted after this

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.timeout * 2 + 5)


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def backoff(config: WorkerConfig, attempts: int) -> float:
    """The wait after the `attempts`-th failure: doubling, capped, half of it jitter."""
    delay = min(config.backoff_max, config.backoff_initial * 2 ** max(attempts - 1, 0))
    return float(delay / 2 + random.uniform(0, delay / 2))


@dataclass(slots=True)
class Job:
    delivery_id: int
    webhook_id: int
    url: str
    secret: str
    uid: str
    event: str
    body: bytes
    attempts: int


@dataclass(slots=True)
class Outcome:
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


DisabledHook = Callable[[int, str, str], Awaitable[None]]  # (webhook id, url, reason)


class DeliveryWorker:
    def __init__(
        self,
        db: Database,
        config: WorkerConfig | None = None,
        *,
        on_disabled: DisabledHook | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.db = db
        self.config = config or WorkerConfig()
        self.on_disabled = on_disabled
        self._client = client
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()

    def wake(self) -> None:
        """Look for due deliveries now (e.g. after an event was committed)."""
        self._wake.set()

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self.config.timeout,
                follow_redirects=False,
                headers={"User-Agent": USER_AGENT},
            )
        return self._client

    async def run(self) -> None:
        """Deliver until stopped; a failed round is logged and tried again. Once an hour
        (and at start) the finished events older than `keep_days` are purged."""
        purged_at = -PURGE_EVERY
        WAKERS.append(self.wake)
        try:
            await self._run(purged_at)
        finally:
            WAKERS.remove(self.wake)

    async def _run(self, purged_at: float) -> None:
        while not self._stopping.is_set():
            try:
                if time.monotonic() - purged_at >= PURGE_EVERY:
                    purged_at = time.monotonic()
                    await self.purge()
                self._wake.clear()  # a wake during the round brings the next one at once
                done = await self.run_once()
            except Exception:
                log.exception("webhook delivery round failed")
                done = 0
            if done == 0 and not self._stopping.is_set():
                try:
                    async with asyncio.timeout(await self.idle_wait()):
                        await self._wake.wait()
                except TimeoutError:
                    pass

    async def idle_wait(self) -> float:
        """Seconds to wait when a round found nothing: until the earliest pending
        delivery is due (a retry's `next_at`, a dead worker's lease running out), at least
        `poll_interval`, at most `idle_max`. A new event wakes the worker before that (a
        commit here, or another node's `wq`, `trubka.cluster.node`)."""
        try:
            due = await self.next_due()
        except Exception:
            log.exception("webhook worker: the next due delivery was not read")
            return self.config.poll_interval
        if due is None:
            return max(self.config.poll_interval, self.config.idle_max)
        wait = (due - datetime.now(UTC)).total_seconds()
        return min(max(wait, self.config.poll_interval), self.config.idle_max)

    async def next_due(self) -> datetime | None:
        """When the earliest pending delivery of an enabled webhook can be claimed."""
        now = datetime.now(UTC)
        d = WebhookDelivery
        free = or_(d.locked_until.is_(None), d.locked_until < now)
        query = (
            select(
                func.min(case((free, d.next_at))),
                func.min(case((d.locked_until >= now, d.locked_until))),
            )
            .join(Webhook, Webhook.id == d.webhook_id)
            .where(d.status == PENDING, Webhook.enabled.is_(True))
        )
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(query)).one()
        times = [t for t in row if t is not None]
        return min(times) if times else None

    async def stop(self) -> None:
        """Finish the round in flight (bounded by the POST timeout), close the client."""
        self._stopping.set()
        self._wake.set()
        try:
            async with asyncio.timeout(self.config.timeout + 1):
                await self._idle.wait()
        except TimeoutError:
            log.warning("webhook worker: a delivery was still in flight at shutdown")
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def run_once(self) -> int:
        """One round: claim, send, record. How many deliveries were attempted."""
        self._idle.clear()
        try:
            jobs = await self.claim()
            if not jobs:
                return 0
            outcomes = await asyncio.gather(*(self.send(job) for job in jobs))
            await self.record(list(zip(jobs, outcomes, strict=True)))
            return len(jobs)
        finally:
            self._idle.set()

    async def purge(self) -> int:
        """Delete events older than `keep_days` with no pending delivery (their
        deliveries and attempts go with them: ON DELETE CASCADE). How many."""
        cutoff = datetime.now(UTC) - timedelta(days=self.config.keep_days)
        pending = exists().where(
            WebhookDelivery.event_id == WebhookEvent.id, WebhookDelivery.status == PENDING
        )
        async with self.db.transaction() as session:
            result = await session.execute(
                delete(WebhookEvent).where(WebhookEvent.occurred_at < cutoff, ~pending)
            )
        return int(getattr(result, "rowcount", 0) or 0)

    async def claim(self) -> list[Job]:
        now = datetime.now(UTC)
        earlier = aliased(WebhookDelivery)
        d = WebhookDelivery
        blocked = exists().where(
            and_(
                earlier.webhook_id == d.webhook_id,
                earlier.order_key == d.order_key,
                earlier.status == PENDING,
                earlier.id < d.id,
            )
        )
        query = (
            select(d.id)
            .join(Webhook, Webhook.id == d.webhook_id)
            .where(
                d.status == PENDING,
                d.next_at <= now,
                or_(d.locked_until.is_(None), d.locked_until < now),
                Webhook.enabled.is_(True),
                or_(d.order_key == "", ~blocked),
            )
            .order_by(d.id)
            .limit(self.config.batch)
        )
        if self.db.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True, of=d)
        async with self.db.transaction() as session:
            ids = list((await session.scalars(query)).all())
            if not ids:
                return []
            # the lease is taken only where nobody took it meanwhile (SQLite reads without
            # a lock; the UPDATE is atomic): a delivery goes to one worker at a time
            claimed = await session.execute(
                update(d)
                .where(
                    d.id.in_(ids),
                    d.status == PENDING,
                    d.next_at <= now,
                    or_(d.locked_until.is_(None), d.locked_until < now),
                )
                .values(locked_until=now + self.config.lease)
                .returning(d.id)
            )
            ids = list(claimed.scalars().all())
            if not ids:
                return []
            rows = (
                await session.execute(
                    select(
                        d.id,
                        d.webhook_id,
                        d.attempts,
                        Webhook.url,
                        Webhook.secret,
                        WebhookEvent.uid,
                        WebhookEvent.event,
                        WebhookEvent.body,
                    )
                    .join(Webhook, Webhook.id == d.webhook_id)
                    .join(WebhookEvent, WebhookEvent.id == d.event_id)
                    .where(d.id.in_(ids))
                    .order_by(d.id)
                )
            ).all()
        return [
            Job(r.id, r.webhook_id, r.url, r.secret, r.uid, r.event, r.body.encode(), r.attempts)
            for r in rows
        ]

    async def send(self, job: Job) -> Outcome:
        headers = {
            "Content-Type": "application/json",
            "X-Trubka-Event-Id": job.uid,
            "X-Trubka-Event": job.event,
            "X-Trubka-Signature": signature(job.secret, job.body),
            "X-Trubka-Attempt": str(job.attempts + 1),
        }
        started = time.monotonic()
        try:
            response = await self.client.post(job.url, content=job.body, headers=headers)
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            return Outcome(None, error[:500], _ms(started))
        return Outcome(response.status_code, None, _ms(started))

    async def record(self, results: list[tuple[Job, Outcome]]) -> None:
        now = datetime.now(UTC)
        disabled: list[tuple[int, str, str]] = []
        async with self.db.transaction() as session:
            for job, outcome in results:
                delivery = await session.get(WebhookDelivery, job.delivery_id)
                hook = await session.get(Webhook, job.webhook_id)
                if delivery is None or hook is None:
                    continue  # the webhook was deleted meanwhile
                session.add(
                    WebhookAttempt(
                        delivery_id=delivery.id,
                        at=now,
                        status_code=outcome.status_code,
                        error=outcome.error
                        or (None if outcome.ok else f"HTTP {outcome.status_code}"),
                        duration_ms=outcome.duration_ms,
                    )
                )
                delivery.attempts += 1
                delivery.locked_until = None
                if outcome.ok:
                    delivery.status = DELIVERED
                    delivery.finished_at = now
                    hook.failing_since = None
                    continue
                age = (now - delivery.created_at).total_seconds()
                if age >= self.config.give_up_after:
                    delivery.status = FAILED
                    delivery.finished_at = now
                    log.warning(
                        "webhook %s: gave up event %s after %d attempts",
                        hook.id,
                        job.uid,
                        delivery.attempts,
                    )
                else:
                    delivery.next_at = now + timedelta(
                        seconds=backoff(self.config, delivery.attempts)
                    )
                if hook.failing_since is None:
                    hook.failing_since = now
                failing = (now - hook.failing_since).total_seconds()
                if hook.enabled and failing >= self.config.disable_after:
                    hook.enabled = False
                    hook.disabled_at = now
                    hook.disabled_reason = "failing for a day"
                    disabled.append((hook.id, hook.url, hook.disabled_reason))
        for hook_id, url, reason in disabled:
            log.error(
                "webhook %s (%s) disabled: every delivery failed for %.0f s",
                hook_id,
                url,
                self.config.disable_after,
            )
            if self.on_disabled is not None:
                try:
                    await self.on_disabled(hook_id, url, reason)
                except Exception:
                    log.exception("webhook %s: could not record the disabling", hook_id)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
