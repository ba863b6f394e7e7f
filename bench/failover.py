"""Benchmark: AMI fail-over between two nodes on one PostgreSQL database.

The simulated PBX offers customer calls steadily (default 2 calls/s, answered by the
agents after the usual ring) and writes Asterisk's books (`queue_log`, `Master.csv`).
Node A is a `trubka serve --roles ami` process and takes the AMI lease first; node B
runs in this process with the same settings and stands by. After `--warmup` seconds A
is killed with SIGKILL. Printed:

- the time from the kill until B consumes AMI (lease held and AMI connected; the
  target is ≤ 5 s), and until B holds the lease;
- pops missed in the gap: agent rings that started while no node consumed AMI (no node
  saw them ring, so no browser got a pop);
- records lost: calls the PBX finished that have no record once the backfill settled;
  records duplicated: records whose linked id is not a call the PBX placed (the same
  call stored again under another id) — the unique index makes a second row with the
  same linked id impossible;
- how many records came from the backfill (Asterisk's books), the load average.

    python bench/failover.py --postgres postgresql://user:pw@host/empty_db
    python bench/failover.py --postgres … --rate 5 --warmup 10 --after 15
    python bench/failover.py --postgres … --no-books   # what is lost without the books

The database must be one Trubka may migrate and fill (use an empty one).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crm.call_records import CallRow  # noqa: E402
from crm.database import Database  # noqa: E402
from crm.node_leases import LeaseStore  # noqa: E402
from telephony.simpbx import SimPbx, Timing  # noqa: E402
from telephony.simpbx.model import SimCall  # noqa: E402
from tests.telephony.kit_sim import FAST_QUEUES, SECRET, USER, sim_config  # noqa: E402
from trubka.app import build_app  # noqa: E402
from trubka.settings import load_settings  # noqa: E402
from trubka.wiring import Services  # noqa: E402

TIMING = Timing(
    call_interval=0,
    answer_delay=(0.3, 0.8),
    talk_time=(1.0, 4.0),
    patience=(30.0, 30.0),
    agent_hangup_share=0.3,
    transfer_share=0.0,
    no_answer_share=0.0,
    agi_timeout=0.5,
    auth_fail_delay=0.01,
    remote_answer_delay=0.05,
    remote_talk_time=0.15,
)


def books(folder: Path, enabled: bool) -> dict[str, Any]:
    if not enabled:
        return {}
    return {
        "asterisk_queue_log": folder / "queue_log",
        "asterisk_cdr": folder / "Master.csv",
        "asterisk_cdr_timezone": "UTC",
        "backfill_interval": 1.0,
        "backfill_settle": 2.0,
    }


def node_process(
    url: str, pbx: SimPbx, folder: Path, extra: dict[str, Any]
) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRUBKA_")}
    env.update(
        PYTHONPATH=str(ROOT),
        TRUBKA_DATABASE_URL=url,
        TRUBKA_NODE_NAME="bench-a",
        TRUBKA_AMI_PORT=str(pbx.port),
        TRUBKA_AMI_USER=USER,
        TRUBKA_AMI_SECRET=SECRET,
        TRUBKA_AGI_ENABLED="false",
        TRUBKA_HTTP_PORT="0",
        TRUBKA_LOG_LEVEL="WARNING",
    )
    env.update({f"TRUBKA_{k.upper()}": str(v) for k, v in extra.items()})
    log = (folder / "node-a.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "trubka", "serve", "--roles", "ami"],
        env=env,
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


async def run(args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix="trubka-failover-"))
    extra = books(folder, not args.no_books)
    url = load_settings(database_url=args.postgres).database_url
    db = Database(url)
    await db.upgrade()
    await db.dispose()
    config = sim_config(
        timing=TIMING,
        queues=FAST_QUEUES,
        queue_log_path=folder / "queue_log",
        cdr_csv_path=folder / "Master.csv",
    )
    pbx = SimPbx(config)
    await pbx.start(generate=False)
    proc = node_process(url, pbx, folder, extra)
    settings = load_settings(
        database_url=url,
        node_name="bench-b",
        roles="ami",
        ami_enabled=True,
        ami_port=pbx.port,
        ami_user=USER,
        ami_secret=SECRET,
        **extra,
    )
    standby: Services = build_app(settings).state.services
    store = LeaseStore(url)
    calls: list[SimCall] = []
    offering = True

    async def offer() -> None:
        while offering:
            calls.append(pbx.place_call())
            await asyncio.sleep(1.0 / args.rate)

    rang: set[tuple[str, str, float]] = set()

    async def watch_rings() -> None:
        # The simulated PBX drops a ring from its call when it ends: note every ring
        # while it lasts (rings last 0.3 s at least, a sample is taken every 20 ms).
        while offering or any(c.rings for c in calls):
            rang.update((c.linkedid, r.interface, r.started) for c in calls for r in c.rings)
            await asyncio.sleep(0.02)

    def consuming() -> bool:
        lease, ami = standby.node.lease, standby.ami
        return lease is not None and lease.valid() and ami is not None and ami.connected

    try:
        async with asyncio.timeout(60):
            while True:
                holder = await store.holder("ami:default")
                if holder is not None and holder.holder == "bench-a" and not holder.expired:
                    break
                if proc.poll() is not None:
                    raise SystemExit((folder / "node-a.log").read_text())
                await asyncio.sleep(0.1)
        await standby.start()
        offerer = asyncio.create_task(offer())
        watcher = asyncio.create_task(watch_rings())
        await asyncio.sleep(args.warmup)
        killed_at = time.time()
        proc.send_signal(signal.SIGKILL)
        lease_at = consumed_at = None
        async with asyncio.timeout(30):
            while consumed_at is None:
                lease = standby.node.lease
                if lease_at is None and lease is not None and lease.valid():
                    lease_at = time.time()
                if consuming():
                    consumed_at = time.time()
                await asyncio.sleep(0.01)
        await asyncio.sleep(args.after)
        offering = False
        await offerer
        await pbx.wait_idle(60)
        await watcher
        await asyncio.sleep(settings.backfill_settle + 3.0)  # the books' last calls
        async with standby.db.session() as session:
            rows = (await session.execute(select(CallRow.linkedid, CallRow.source))).all()
    finally:
        offering = False
        if proc.poll() is None:
            proc.kill()
        await standby.stop()
        await store.dispose()
        await pbx.stop()
    placed = {c.linkedid for c in calls}
    stored = {linkedid for linkedid, _ in rows}
    in_gap = [(linkedid, s) for linkedid, _, s in rang if killed_at <= s < consumed_at]
    missed_pops = len(in_gap)
    load = os.getloadavg()
    print(f"calls offered: {len(calls)} at {args.rate}/s; killed node A after {args.warmup}s")
    print(f"standby holds the lease after:   {lease_at - killed_at:.2f} s" if lease_at else "")
    print(f"standby consumes AMI after:      {consumed_at - killed_at:.2f} s  (target <= 5 s)")
    print(
        f"pops missed in the gap:          {missed_pops} "
        f"(agent rings of {len({linkedid for linkedid, _ in in_gap})} call(s))"
    )
    print(f"records lost:                    {len(placed - stored)}")
    print(f"records duplicated:              {len(stored - placed)}")
    print(f"records from Asterisk's books:   {sum(1 for _, s in rows if s == 'backfill')}")
    print(f"books read for the gap:          {'yes' if extra else 'no'}")
    print(f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", required=True, help="an empty PostgreSQL database URL")
    parser.add_argument("--rate", type=float, default=2.0, help="calls offered per second")
    parser.add_argument("--warmup", type=float, default=8.0, help="seconds before the kill")
    parser.add_argument("--after", type=float, default=10.0, help="seconds after the take-over")
    parser.add_argument("--no-books", action="store_true", help="no backfill from the books")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
