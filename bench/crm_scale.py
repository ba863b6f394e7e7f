"""CRM at scale: phone lookup, name search, contact card and routing facts, p50/p99.

Seeds a database with N contacts and M call records (`trubka seed`'s bulk path), then
times, over real connections through the services the API uses:
- phone lookup: a number typed as `8 (9XX) XXX-XX-XX` → contact ids (exact + suffix),
- number search as people type it (what GET /api/search?q= does for a number), one figure
  per shape of the issue: `8 916 555`, `+7 916 555`, `916 555`, `8 (916) 555-0`,
  `8916555` (the start or a middle run of a random contact's number),
- name search: a surname prefix (+ first-name prefix) → the first page of contacts and
  companies with their numbers, tags, company and owner (what GET /api/search returns),
- contact card: contact + company + last 50 timeline items + open tasks + deals,
- routing facts: `crm.routing_facts` lookup for a caller (owner, last agent, tags),
and prints the database size. Default 100,000 contacts / 1,000,000 calls (a few
minutes); `--full` for the issue's 1,000,000 / 10,000,000.

    python bench/crm_scale.py [--full] [--contacts N --calls M] [--postgres URL]
                               [--db PATH] [--reuse]

SQLite targets: phone lookup p99 ≤ 2 ms, card p99 ≤ 20 ms, search p99 ≤ 50 ms.
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
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select, text

from crm.database import Database, sqlite_path, upgrade
from crm.models import Contact
from crm.names import RU_SURNAMES
from crm.seed import mobile, seed
from crm.services import CrmServices


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return p50 * 1000, p99 * 1000, max(ordered) * 1000


async def timed(
    name: str, target: float | None, count: int, work: Callable[[int], Awaitable[Any]]
) -> None:
    for i in range(min(50, count)):  # warm up
        await work(i)
    samples = []
    for i in range(count):
        started = time.perf_counter()
        await work(i)
        samples.append(time.perf_counter() - started)
    p50, p99, worst = percentiles(samples)
    goal = f"  (target p99 ≤ {target:g} ms)" if target else ""
    print(
        f"{name:<28} p50 {p50:8.2f} ms   p99 {p99:8.2f} ms   max {worst:8.2f} ms   n={count}{goal}"
    )


def number_shapes(numbers: list[str]) -> dict[str, list[str]]:
    """Each E.164 number `+7XXXYYYZZZZ` typed the ways of issue 12: its start with 8 or
    +7, its code and exchange, with brackets and a dash, and its digits run together."""
    shapes: dict[str, list[str]] = {}
    for n in numbers:
        code, mid, rest = n[2:5], n[5:8], n[8:]
        for shape, typed in (
            ("'8 916 555'", f"8 {code} {mid}"),
            ("'+7 916 555'", f"+7 {code} {mid}"),
            ("'916 555'", f"{code} {mid}"),
            ("'8 (916) 555-0'", f"8 ({code}) {mid}-{rest[0]}"),
            ("'8916555'", f"8{code}{mid}"),
            ("'555 01' (middle)", f"{mid} {rest[:2]}"),
        ):
            shapes.setdefault(shape, []).append(typed)
    return shapes


async def database_size(db: Database) -> str:
    path = sqlite_path(db.url)
    if path is not None:
        total = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
        return f"{total / 2**30:.2f} GiB ({path})"
    async with db.session() as session:
        size = await session.scalar(text("SELECT pg_database_size(current_database())"))
    return f"{int(size or 0) / 2**30:.2f} GiB (PostgreSQL)"


async def run(url: str, contacts: int, calls: int, reuse: bool, samples: int, cache: bool) -> None:
    db = Database(url)
    async with db.session() as session:
        have = int(await session.scalar(select(func.count(Contact.id))) or 0)
    if not (reuse and have):
        started = time.perf_counter()
        last = [time.perf_counter()]

        def progress(kind: str, count: int) -> None:
            if time.perf_counter() - last[0] > 10:
                last[0] = time.perf_counter()
                print(f"  seeding … {kind} +{count}", flush=True)

        report = await seed(db, contacts=contacts, calls=calls, rng_seed=1, progress=progress)
        print(
            f"seeded {report.contacts:,} contacts, {report.companies:,} companies, "
            f"{report.calls:,} calls "
            f"in {time.perf_counter() - started:.0f} s"
        )
    async with db.session() as session:
        first, last_id = (
            await session.execute(select(func.min(Contact.id), func.max(Contact.id)))
        ).one()
        calls_count = await session.scalar(text("SELECT COUNT(*) FROM calls"))
    print(
        f"database: {last_id - first + 1:,} contacts, {calls_count:,} calls, size "
        f"{await database_size(db)}"
    )
    crm = CrmServices.create(db, routing_cache_ttl=0.0)
    rng = random.Random(5)
    ids = [rng.randint(first, last_id) for _ in range(samples)]
    numbers = [mobile(i) for i in ids]
    national = [f"8 ({n[2:5]}) {n[5:8]}-{n[8:10]}-{n[10:]}" for n in numbers]
    prefixes = []
    for _ in range(samples):
        surname = rng.choice(RU_SURNAMES)
        prefixes.append(surname[: rng.randint(3, len(surname))])

    await timed("phone lookup", 2, samples, lambda i: crm.search.contact_ids_by_number(national[i]))
    for shape, typed in number_shapes(numbers).items():
        await timed(
            f"number search {shape}",
            50,
            samples,
            lambda i, typed=typed: crm.search.search(typed[i]),  # type: ignore[misc]
        )
        checked = min(samples, 20)
        hits = 0
        for i in range(checked):  # a run shared by more than a page of numbers may miss
            found = await crm.search.search(typed[i], limit=100)
            hits += any(c["id"] == ids[i] for c in found["contacts"])
        print(f"{'':<28} found the typed number's contact {hits}/{checked}")
    await timed("name search (page of 20)", 50, samples, lambda i: crm.search.search(prefixes[i]))
    await timed(
        "contact card (+50 timeline)",
        20,
        samples,
        lambda i: crm.cards.for_contact(ids[i], timeline=50),
    )
    await timed("routing facts", 2, samples, lambda i: crm.routing_facts.lookup(numbers[i]))
    if cache:
        warm = CrmServices.create(db, routing_cache_ttl=30.0)
        hot = numbers[: max(samples // 10, 1)]
        await timed(
            "routing facts (warm cache)",
            2,
            samples,
            lambda i: warm.routing_facts.lookup(hot[i % len(hot)]),
        )
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}  cpus: {os.cpu_count()}")
    await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--full", action="store_true", help="1,000,000 contacts and 10,000,000 calls"
    )
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument(
        "--postgres",
        metavar="URL",
        default=None,
        help="run against this (empty) PostgreSQL database",
    )
    parser.add_argument(
        "--db", type=Path, default=None, help="SQLite file to use (default: a temporary one)"
    )
    parser.add_argument(
        "--reuse", action="store_true", help="skip seeding when the database has contacts"
    )
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument(
        "--no-cache", action="store_true", help="skip the warm-cache routing figure"
    )
    args = parser.parse_args()
    contacts, calls = (1_000_000, 10_000_000) if args.full else (args.contacts, args.calls)
    if args.postgres:
        from trubka.settings import normalize_database_url

        url = normalize_database_url(args.postgres)
    else:
        path = args.db or Path(tempfile.mkdtemp(prefix="trubka-scale-")) / "scale.db"
        url = f"sqlite+aiosqlite:///{path}"
    upgrade(url)
    asyncio.run(run(url, contacts, calls, args.reuse, args.samples, not args.no_cache))


if __name__ == "__main__":
    main()
