"""Triggers benchmark: events per second through the rules, and the screen pop with the
rules on and off.

1. Throughput (in this process): a fresh database (SQLite file, or `--database-url`) with
   10 enabled rules on `call.missed` / `call.ended` / `contact.updated` (conditions on
   the queue, talk time, tags, time of day; 2 of them match and create a task, one
   queues a webhook); N events are written into the rules' queue the way
   `CallsStored` writes them, then one `RuleWorker` drains the queue. Printed: events/s
   queued and events/s run (issue 13's target: 1,000 events/s with 10 rules enabled),
   tasks made, webhook deliveries queued, runs logged, SQL statements per event and the
   CPU per event of this process.
2. `--pop`: the screen-pop benchmark (`bench/screen_pop.py`: the simulated PBX over AMI,
   `trubka serve`, one WebSocket per agent) twice in one run — 10 rules on `call.ended`
   disabled, then the same rules enabled (every call runs them) — printing both p50/p99 for the same
   call rate. With `--feed N`, the rules-on phase also queues N `call.ended` events a
   second into the server's database from a process of its own (another writer, as an
   import or the API would be; not this process, whose event loop timestamps the pops
   on the agents' sockets), starting once the server has stored its first call, so the
   server's rules run N events/s beside the pop (the issue's pairing: 1,000 events/s
   while the PBX offers 50 calls/s). Printed: events fed, events the server ran and its
   backlog at the end, from a count of the queue sampled every second.

    python bench/rules.py                     # 5,000 events
    python bench/rules.py --events 200        # a smoke run (seconds)
    python bench/rules.py --pop [--rate 50 --agents 100 --phase 10] [--feed 1000]
    python bench/rules.py --pop --feed 1000 --rules-process
    python bench/rules.py --pop --feed 1000 --workers-node [--workers-nice 10] \
        --database-url postgresql+asyncpg://user:pw@host/postgres

With `--pop`, `--database-url` names a PostgreSQL server where the user may create
databases: each phase runs on a fresh database there (dropped after) instead of a SQLite
file. `--workers-node` (PostgreSQL only) splits the server in two, as docs/deploy.md
describes for a heavy rule load: the pop node `trubka serve --roles ami,agi,web` and a
second `trubka serve --roles workers` that runs the rules; both run in both phases
(the cluster bridge between them on), so the phases differ only by the rules enabled and
the events fed. Printed beside the figures above: the CPU of each node over the measured
phase. `--workers-nice N` starts the workers node with `TRUBKA_NICE=N` (docs/deploy.md:
a workers node sharing the pops' host). `--rules-process` starts the server with
`TRUBKA_RULES_PROCESS=true` in both phases (the rules worker in a child process of the
server, `trubka.rules_process`; SQLite or PostgreSQL); the child's CPU is printed beside
the server's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import event as sa_event  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from crm.database import Database  # noqa: E402
from crm.hooks.models import Webhook, WebhookDelivery  # noqa: E402
from crm.models import Task  # noqa: E402
from crm.rules.engine import Runtime  # noqa: E402
from crm.rules.models import DONE, PENDING, RuleEvent, RuleRun  # noqa: E402
from crm.rules.record import Queued, record, record_many  # noqa: E402
from crm.rules.service import RuleService  # noqa: E402
from crm.rules.worker import RuleWorker, WorkerConfig  # noqa: E402
from crm.users import UserDirectory  # noqa: E402
from routing.rules import RoutingRules  # noqa: E402


def ten_rules(
    event: str = "call.missed", webhook_id: int | None = None, user_id: int | None = None
) -> list[dict[str, Any]]:
    """10 rules: 8 whose conditions fail for the bench's calls, 2 that make a task (one
    of them also queues a webhook when `webhook_id` is given; the task goes to `user_id`
    when the call has no owner nor supervisor, if given)."""
    task: dict[str, Any] = {
        "type": "create_task",
        "title": "Call back {{ caller_number }}",
        "assignee": ["owner", "supervisor"],
        "due_hours": 1,
        "working_hours": True,
    }
    if user_id is not None:
        task["assignee"] = ["owner", "supervisor", "user"]
        task["user_id"] = user_id
    rules: list[dict[str, Any]] = []
    for i in range(8):
        rules.append(
            {
                "name": f"never {i}",
                "event": event,
                "conditions": [
                    {"field": "queue", "op": "eq", "value": f"nobody-{i}"},
                    {"field": "talk_seconds", "op": "gt", "value": 3600},
                ],
                "actions": [{"type": "add_tag", "tag": f"t{i}"}],
            }
        )
    rules.append({"name": "all calls", "event": event, "conditions": [], "actions": [task]})
    actions: list[dict[str, Any]] = [task]
    if webhook_id is not None:
        actions.append({"type": "webhook", "webhook_id": webhook_id})
    rules.append(
        {
            "name": "day time",
            "event": event,
            "conditions": [{"field": "time", "op": "between", "value": ["00:00", "23:59"]}],
            "actions": actions,
        }
    )
    return rules


async def make_webhook(db: Database) -> int:
    """A webhook for the rule that queues one (never delivered: the bench runs no
    delivery worker)."""
    async with db.transaction() as session:
        hook = Webhook(
            url="http://127.0.0.1:9/hook",
            events=["call.missed"],
            secret="s" * 20,
            enabled=True,
            created_at=datetime.now(UTC),
        )
        session.add(hook)
        await session.flush()
        return hook.id


def call_data(i: int) -> dict[str, Any]:
    return {
        "id": i,
        "linkedid": f"1700000000.{i}",
        "direction": "inbound",
        "caller_number": f"+7916{i:07d}",
        "called_number": "+74951110001",
        "queue": "support",
        "disposition": "abandoned",
        "talk_seconds": 0.0,
        "wait_seconds": 12.0,
        "agent_interface": None,
        "contact_id": None,
    }


async def throughput(url: str, events: int) -> None:
    db = Database(url)
    await db.upgrade()
    directory = UserDirectory(db)
    service = RuleService(db, directory)
    for rule in ten_rules(webhook_id=await make_webhook(db)):
        await service.create(rule, None)
    started = time.perf_counter()
    batch = 200
    for start in range(0, events, batch):
        async with db.transaction() as session:
            for i in range(start, min(events, start + batch)):
                await record(
                    session,
                    "call.missed",
                    call_data(i),
                    uid=str(uuid.uuid4()),
                    occurred_at=datetime.now(UTC),
                    checked=True,
                )
    queued = time.perf_counter() - started
    routing = RoutingRules()
    runtime = Runtime(db, directory, lambda: routing, ZoneInfo("Europe/Moscow"))
    worker = RuleWorker(runtime, WorkerConfig(batch=200, overdue_every=10**9))
    statements = 0

    def counted(*_args: Any) -> None:
        nonlocal statements
        statements += 1

    sa_event.listen(db.engine.sync_engine, "before_cursor_execute", counted)
    started, cpu = time.perf_counter(), time.process_time()
    while await worker.run_once():
        pass
    ran, cpu = time.perf_counter() - started, time.process_time() - cpu
    sa_event.remove(db.engine.sync_engine, "before_cursor_execute", counted)
    async with db.session() as session:
        tasks = await session.scalar(select(func.count()).select_from(Task))
        hooks = await session.scalar(select(func.count()).select_from(WebhookDelivery))
        runs = await session.scalar(select(func.count()).select_from(RuleRun))
    await db.dispose()
    print(f"rules: 10 enabled on call.missed, {events} events ({db.dialect})")
    print(f"  queued: {events / queued:,.0f} events/s ({queued:.2f} s, batches of {batch})")
    print(
        f"  run:    {worker.processed / ran:,.0f} events/s ({ran:.2f} s; {tasks} tasks made, "
        f"{hooks} webhook deliveries queued, {runs} runs logged)"
    )
    done = max(1, worker.processed)
    print(f"  CPU:    {cpu / done * 1000:.2f} ms per event (this process)")
    print(f"  SQL:    {statements / done:.2f} statements per event (batches of 200)")
    print(
        "  load average: {:.2f} {:.2f} {:.2f} (the machine may be shared)".format(*os.getloadavg())
    )


async def feed(url: str, rate: float, out: dict[str, Any]) -> None:
    """Queue `rate` call.ended events a second (20 inserts a second) once the server has
    stored its first call; every second, count the events the server has run."""
    from crm.call_records import CallRow

    db = Database(url)
    tick = 0.05
    per_tick = max(1, round(rate * tick))
    samples: list[tuple[float, int, int, int]] = []  # (time, fed, done, pending)
    fed = 0
    try:
        while True:  # the server is up and the PBX is placing calls
            async with db.session() as session:
                if await session.scalar(select(func.count()).select_from(CallRow)):
                    break
            await asyncio.sleep(0.2)
        started = last_sample = time.perf_counter()
        while True:
            rows = []
            for _ in range(per_tick):
                data = call_data(100_000_000 + fed)
                data["disposition"] = "answered"
                rows.append(Queued("call.ended", data, None, str(uuid.uuid4()), datetime.now(UTC)))
                fed += 1
            async with db.transaction() as session:
                await record_many(session, rows)
            now = time.perf_counter()
            if now - last_sample >= 1.0:
                last_sample = now
                async with db.session() as session:
                    done = await session.scalar(
                        select(func.count()).where(RuleEvent.status == DONE)
                    )
                    pending = await session.scalar(
                        select(func.count()).where(RuleEvent.status == PENDING)
                    )
                samples.append((now - started, fed, int(done or 0), int(pending or 0)))
                out["samples"] = list(samples)
                if out.get("print"):  # `--role feed`: to the benchmark's process
                    print(json.dumps(samples[-1]), flush=True)
            delay = started + fed / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
    finally:
        await db.dispose()


async def feed_process(url: str, rate: float, out: dict[str, Any]) -> None:
    """`feed` in a process of its own (`--role feed`): its inserts do not share the event
    loop of this process, which timestamps the pops on the agents' sockets. Its counts
    come back as JSON lines into `out["samples"]`."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--role",
        "feed",
        "--database-url",
        url,
        "--feed",
        str(rate),
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    samples: list[tuple[float, int, int, int]] = []
    try:
        while line := await process.stdout.readline():
            samples.append(tuple(json.loads(line)))  # type: ignore[arg-type]
            out["samples"] = list(samples)
    finally:
        if process.returncode is None:
            process.terminate()
            with contextlib.suppress(ProcessLookupError):
                await process.wait()


def fed_figures(out: dict[str, Any], runner: str = "the server") -> None:
    """Over the counts while the server ran events (before it stopped): the rate fed, the
    rate the server ran (its calls' own `call.ended` included, about 50/s), and the
    events still pending at the last count."""
    samples: list[tuple[float, int, int, int]] = out.get("samples", [])
    moving = [s for i, s in enumerate(samples) if i == 0 or s[2] > samples[i - 1][2]]
    if len(moving) < 2:
        print("  fed: too few samples (the server ran no fed event)")
        return
    (t0, f0, d0, _p0), (t1, f1, d1, p1) = moving[0], moving[-1]
    print(
        f"  fed beside the pop: {(f1 - f0) / (t1 - t0):,.0f} events/s for {t1 - t0:.0f} s; "
        f"{runner} ran {(d1 - d0) / (t1 - t0):,.0f} events/s (its calls' own included); "
        f"pending at the last count: {p1:,} events"
    )


async def pop(args: argparse.Namespace) -> None:
    """The screen-pop benchmark with the rules off, then on, in one run. The same 10
    rules exist in both phases: disabled in the first, enabled in the second."""
    import screen_pop  # bench/screen_pop.py

    plain = screen_pop.prepare_database
    feeding: list[asyncio.Task[None]] = []
    fed: dict[str, Any] = {}
    enabled = False

    async def with_rules(url: str, agents: int) -> list[tuple[int, str]]:
        sessions = await plain(url, agents)
        db = Database(url)
        service = RuleService(db, UserDirectory(db))
        for rule in ten_rules("call.ended", user_id=sessions[0][0] if args.feed else None):
            await service.create({**rule, "enabled": enabled}, None)
        await db.dispose()
        if args.feed and enabled:
            feeding.append(asyncio.create_task(feed_process(url, args.feed, fed)))
        return sessions

    pop_args = argparse.Namespace(agents=args.agents, rate=args.rate, phase=args.phase, full=False)
    if args.rules_process:  # the rules in the server's child process, in both phases
        pop_args.server_env = {"TRUBKA_RULES_PROCESS": "true"}
    if args.workers_node:  # the pop node without the workers role; the rules on another
        pop_args.server_env = {"TRUBKA_ROLES": "ami,agi,web"}
        workers_env = {"TRUBKA_ROLES": "workers", "TRUBKA_NICE": str(args.workers_nice)}
        pop_args.companions = [("workers node (--roles workers)", workers_env)]

    async def stop_feeding() -> None:
        for task in feeding:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        feeding.clear()

    async def phase() -> None:
        if not args.database_url:
            try:
                await screen_pop.main(pop_args)
            finally:
                await stop_feeding()
            return
        from cluster_pops import fresh_database  # bench/cluster_pops.py

        async with fresh_database(args.database_url) as url:
            pop_args.database_url = url
            try:
                await screen_pop.main(pop_args)
            finally:
                await stop_feeding()  # before the database is dropped

    where = (
        "rules on a second node (--roles workers, TRUBKA_NICE="
        f"{args.workers_nice}), the pop node --roles ami,agi,web"
        if args.workers_node
        else "rules in the server's child process (TRUBKA_RULES_PROCESS)"
        if args.rules_process
        else "rules in the pop's process"
    )
    print(f"=== rules off (10 rules disabled; {where}) ===", flush=True)
    screen_pop.prepare_database = with_rules
    try:
        await phase()
        extra = f", {args.feed:,.0f} more events/s fed" if args.feed else ""
        print(f"=== rules on: 10 rules on call.ended{extra} ({where}) ===", flush=True)
        enabled = True
        await phase()
    finally:
        screen_pop.prepare_database = plain
    if args.feed:
        fed_figures(fed, "the workers node" if args.workers_node else "the server")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--pop", action="store_true", help="screen pop p99, rules off vs on")
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--phase", type=float, default=10.0)
    parser.add_argument("--feed", type=float, default=0.0, help="with --pop: events/s fed")
    parser.add_argument(
        "--workers-node",
        action="store_true",
        help="with --pop and a PostgreSQL --database-url: the rules run on a second "
        "`trubka serve --roles workers` node, the pop node runs --roles ami,agi,web",
    )
    parser.add_argument(
        "--workers-nice",
        type=int,
        default=0,
        choices=range(20),
        metavar="0-19",
        help="with --workers-node: the workers node's TRUBKA_NICE (its CPU priority lowered "
        "by this much, as docs/deploy.md advises on a shared host)",
    )
    parser.add_argument(
        "--rules-process",
        action="store_true",
        help="with --pop: the server runs the rules in its own child process "
        "(TRUBKA_RULES_PROCESS=true) in both phases",
    )
    parser.add_argument(
        "--role", choices=["bench", "feed"], default="bench", help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.role == "feed":  # `feed_process`: the events fed from a process of their own
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(feed(args.database_url, args.feed, {"print": True}))
        return
    if args.rules_process and (args.workers_node or not args.pop):
        parser.error("--rules-process needs --pop and goes without --workers-node")
    if args.workers_node and not (args.pop and (args.database_url or "").startswith("postgresql")):
        parser.error("--workers-node needs --pop and a PostgreSQL --database-url")
    if args.pop:
        sys.path.insert(0, str(ROOT / "bench"))
        asyncio.run(pop(args))
        return
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{tmp}/rules.db"
        asyncio.run(throughput(url, args.events))


if __name__ == "__main__":
    main()
