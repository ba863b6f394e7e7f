"""Sales forecast benchmark: the time of `GET /api/reports/forecast`'s work
(`crm.forecast.ForecastService.report`) over many deals, and of one inbound lead.

Seeds a fresh SQLite database (or `--url` PostgreSQL) with `--deals` deals spread over
the default funnel's stages, 40 owners and the next 12 months (a fifth of them won in the
past year), then times the report (median and worst of `--samples` runs) and
`--leads` inbound leads (`crm.leads.LeadService.receive`, half of them repeats of a known
number written another way).

    python bench/forecast.py                 # 20,000 deals
    python bench/forecast.py --deals 100000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select  # noqa: E402

from crm.database import Database, upgrade  # noqa: E402
from crm.deals import PipelineService  # noqa: E402
from crm.forecast import ForecastService  # noqa: E402
from crm.leads import LeadIn, LeadService  # noqa: E402
from crm.models import Deal, Stage, User  # noqa: E402


async def seed(db: Database, deals: int) -> int:
    rng = random.Random(7)
    now = datetime.now(UTC)
    async with db.transaction() as session:
        pipeline = await PipelineService(db).ensure_default(session)
        stages = list((await session.scalars(select(Stage))).all())
        users = [
            {"login": f"owner{i}", "name": f"Менеджер {i}", "role": "agent",
             "password_hash": "x", "language": "ru", "active": True,
             "created_at": now, "updated_at": now, "version": 1}
            for i in range(40)
        ]  # fmt: skip
        await session.execute(insert(User), users)
        owner_ids = list((await session.scalars(select(User.id))).all())
        open_ids = [s for s in stages if s.kind == "open"]
        won = next(s for s in stages if s.kind == "won")
        rows = []
        for i in range(deals):
            is_won = rng.random() < 0.2
            stage = won if is_won else rng.choice(open_ids)
            rows.append({
                "title": f"Сделка {i}", "pipeline_id": pipeline.id, "stage_id": stage.id,
                "amount_minor": rng.randint(1_000, 10_000_000), "currency": "RUB",
                "owner_id": rng.choice(owner_ids), "created_at": now, "updated_at": now,
                "version": 1,
                "closed_at": now - timedelta(days=rng.randint(0, 360)) if is_won else None,
                "expected_close_on": None if is_won or rng.random() < 0.1
                else date.today() + timedelta(days=rng.randint(0, 365)),
            })  # fmt: skip
        for start in range(0, len(rows), 5000):
            await session.execute(insert(Deal), rows[start : start + 5000])
    return owner_ids[0]


async def run(url: str, deals: int, samples: int, leads: int) -> None:
    db = Database(url)
    try:
        sender = await seed(db, deals)
        service = ForecastService(db)
        times = []
        for _ in range(samples):
            started = time.perf_counter()
            report = await service.report(months=12)
            times.append(time.perf_counter() - started)
        print(f"forecast over {deals} deals: median {statistics.median(times) * 1000:.1f} ms, "
              f"worst {max(times) * 1000:.1f} ms; {len(report['by_month'])} month rows, "
              f"{len(report['by_owner'])} owner rows")  # fmt: skip
        lead_service = LeadService(db)
        lead_times = []
        for i in range(leads):
            number = f"8 (916) 555-{i // 2 % 100:02d}-{i // 200 % 100:02d}"
            if i % 2:
                number = "+7" + number[1:].replace(" ", "").replace("(", "").replace(")", "")
            lead = LeadIn(name=f"Лид {i}", phone=number, source="bench")
            started = time.perf_counter()
            await lead_service.receive(
                lead, token_id=1, sender_id=sender, title=lambda _l, x: f"Lead {x.name}"
            )
            lead_times.append(time.perf_counter() - started)
        if lead_times:
            lead_times.sort()
            print(f"{leads} inbound leads: median {statistics.median(lead_times) * 1000:.1f} ms, "
                  f"p99 {lead_times[int(len(lead_times) * 0.99) - 1] * 1000:.1f} ms")  # fmt: skip
        print(f"load average: {os.getloadavg()}")
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deals", type=int, default=20_000)
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--leads", type=int, default=200)
    parser.add_argument("--url", help="a migrated database URL (default: a new SQLite file)")
    args = parser.parse_args()
    url = args.url
    if url is None:
        path = Path(tempfile.mkdtemp(prefix="trubka-forecast-")) / "forecast.db"
        url = f"sqlite+aiosqlite:///{path}"
        upgrade(url)
    asyncio.run(run(url, args.deals, args.samples, args.leads))


if __name__ == "__main__":
    main()
