"""SQL statements per event through the rules worker (no timing: safe on a busy machine).

The throughput bench's set-up (`bench/rules.py`: 10 rules on call.missed, 2 of them make
a task, one also queues a webhook), a SQLAlchemy `before_cursor_execute` counter on the
engine, and one `RuleWorker` draining the queue. Printed: statements (and round trips:
an `executemany` counts once) per event, and the CPU per event of this process — a
figure to compare branches on the same machine, not a benchmark.

    python bench/rules_statements.py [--events 1000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from rules import call_data, make_webhook, ten_rules  # noqa: E402  # bench/rules.py
from sqlalchemy import event as sa_event  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from crm.database import Database  # noqa: E402
from crm.models import Task  # noqa: E402
from crm.rules.engine import Runtime  # noqa: E402
from crm.rules.record import record  # noqa: E402
from crm.rules.service import RuleService  # noqa: E402
from crm.rules.worker import RuleWorker, WorkerConfig  # noqa: E402
from crm.users import UserDirectory  # noqa: E402
from routing.rules import RoutingRules  # noqa: E402


async def count(url: str, events: int, batch: int) -> None:
    db = Database(url)
    await db.upgrade()
    directory = UserDirectory(db)
    service = RuleService(db, directory)
    hook_id = await make_webhook(db)
    for rule in ten_rules(webhook_id=hook_id):
        await service.create(rule, None)
    async with db.transaction() as session:
        for i in range(events):
            await record(
                session,
                "call.missed",
                call_data(i),
                uid=str(uuid.uuid4()),
                occurred_at=datetime.now(UTC),
                checked=True,
            )
    routing = RoutingRules()
    runtime = Runtime(db, directory, lambda: routing, ZoneInfo("Europe/Moscow"))
    worker = RuleWorker(runtime, WorkerConfig(batch=batch, overdue_every=10**9))
    kinds: Counter[str] = Counter()
    rows = 0

    def seen(_conn: Any, _cursor: Any, statement: str, params: Any, _ctx: Any, many: bool) -> None:
        nonlocal rows
        kinds[statement.split(None, 1)[0].upper()] += 1
        rows += len(params) if many else 1

    sa_event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    cpu = time.process_time()
    while await worker.run_once():
        pass
    cpu = time.process_time() - cpu
    sa_event.remove(db.engine.sync_engine, "before_cursor_execute", seen)
    async with db.session() as session:
        tasks = await session.scalar(select(func.count()).select_from(Task))
    await db.dispose()
    done = max(1, worker.processed)
    total = sum(kinds.values())
    print(f"rules: 10 on call.missed, {events} events, batch {batch} ({db.dialect})")
    print(f"  statements: {total / done:.2f} per event ({total} for {worker.processed} events)")
    print("  by kind:    " + ", ".join(f"{k} {v}" for k, v in kinds.most_common()))
    print(f"  parameter sets: {rows / done:.2f} per event; {tasks} tasks made")
    print(f"  CPU: {cpu / done * 1000:.3f} ms per event (this process; not a benchmark)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{tmp}/rules.db"
        asyncio.run(count(url, args.events, args.batch))


if __name__ == "__main__":
    main()
