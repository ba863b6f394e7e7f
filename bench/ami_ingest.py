"""AMI ingest benchmark: events per second through Trubka's pipeline, next to panoramisk.

The real load trace (`tests/traces/05-load-20-calls.ami`: 20 calls, 2,803 events recorded
from Asterisk 22.10.1) is replayed many times, each copy with its Uniqueids/Linkedids
rewritten so every copy's calls are distinct, and fed in 64 KB reads (the largest read
seen in the trace) through

  1. panoramisk's own `AMIProtocol.data_received` (its framing and parsing, nothing else);
  2. Trubka's `EventPipeline` (framing, decoding, typed events, the call-state reducer);
  3. the same, plus batched persistence of every finished call into SQLite (`CallStore`).

Prints events/s for each, the ratio, and the load average (the machine may be shared).
Targets (issue 2): (2) at least half of (1), and at least 40,000 events/s on one core.

    python bench/ami_ingest.py            # 40 copies (~113k events, 51 MB)
    python bench/ami_ingest.py --full     # 200 copies (~566k events, 256 MB held in memory)
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import platform
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from panoramisk.ami_protocol import AMIProtocol  # noqa: E402

from crm.call_records import CallStore  # noqa: E402
from crm.database import Database  # noqa: E402
from telephony.domain import CallEnded  # noqa: E402
from telephony.pipeline import EventPipeline  # noqa: E402
from telephony.records import CallRecord  # noqa: E402

TRACE = ROOT / "tests" / "traces" / "05-load-20-calls.ami"
READ = 65536
_UNIQUEID = re.compile(rb"(?<=[: ])(\d{10})\.(\d+)")


def build_chunks(copies: int) -> tuple[list[bytes], int]:
    """The trace `copies` times in 64 KB reads; copy k's Uniqueids are `epoch.(n + k·100000)`.

    Built read by read, so only the reads are held in memory (not a second, joined copy).
    """
    data = TRACE.read_bytes()
    banner_end = data.index(b"\r\n") + 2
    body = data[banner_end:]
    chunks: list[bytes] = []
    pending = bytearray()
    total = 0
    for k in range(copies):
        part = data if k == 0 else _UNIQUEID.sub(lambda m, k=k: _shifted(m, k * 100_000), body)
        pending += part
        total += len(part)
        while len(pending) >= READ:
            chunks.append(bytes(pending[:READ]))
            del pending[:READ]
    if pending:
        chunks.append(bytes(pending))
    return chunks, total


def _shifted(match: re.Match[bytes], offset: int) -> bytes:
    return match.group(1) + b"." + str(int(match.group(2)) + offset).encode()


class _Transport:
    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


class _Factory:
    save_stream = None

    def __init__(self) -> None:
        self.messages = 0

    def dispatch(self, message: object) -> None:
        self.messages += 1


Times = tuple[float, float]  # (wall seconds, CPU seconds of this process)


def _now() -> Times:
    return time.perf_counter(), time.process_time()


def _since(start: Times) -> Times:
    wall, cpu = _now()
    return wall - start[0], cpu - start[1]


def run_panoramisk(chunks: list[bytes]) -> tuple[Times, int]:
    protocol = AMIProtocol()
    protocol.connection_made(_Transport())
    factory = _Factory()
    protocol.factory = factory
    start = _now()
    for chunk in chunks:
        protocol.data_received(chunk)
    return _since(start), factory.messages


def run_pipeline(chunks: list[bytes]) -> tuple[Times, int, int]:
    pipeline = EventPipeline()
    at = 1_795_717_853.0
    finished = 0
    start = _now()
    for chunk in chunks:
        for event in pipeline.feed(chunk, at):
            if isinstance(event, CallEnded):
                finished += 1
        at += 0.001
    return _since(start), pipeline.decoder.stats.frames, finished


async def run_with_store(chunks: list[bytes], batch: int = 500) -> tuple[Times, int, int]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite+aiosqlite:///{tmp}/bench.db")
        await db.upgrade()
        store = CallStore(db)
        pipeline = EventPipeline()
        pending: list[CallRecord] = []
        stored = 0
        at = 1_795_717_853.0
        start = _now()
        for chunk in chunks:
            for event in pipeline.feed(chunk, at):
                if isinstance(event, CallEnded):
                    pending.append(event.record)
            if len(pending) >= batch:
                stored += await store.save(pending)
                pending = []
            at += 0.001
        if pending:
            stored += await store.save(pending)
        elapsed = _since(start)
        await db.dispose()
        return elapsed, pipeline.decoder.stats.frames, stored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--copies", type=int, default=40, help="copies of the load trace (default 40)"
    )
    parser.add_argument("--full", action="store_true", help="200 copies (~566k events)")
    parser.add_argument("--rounds", type=int, default=3, help="best of N rounds (default 3)")
    args = parser.parse_args()
    copies = 200 if args.full else args.copies
    chunks, size = build_chunks(copies)
    megabytes = size / 1e6
    print(
        f"AMI ingest: {TRACE.name} x {copies} = {megabytes:.1f} MB in {len(chunks)} reads of 64 KB"
    )
    print(
        f"Python {platform.python_version()} on {platform.machine()}, one core; "
        "load average before: " + " ".join(f"{x:.2f}" for x in os.getloadavg())
    )
    gc.collect()
    inf = (float("inf"), float("inf"))
    best_pan = best_pipe = inf
    frames = messages = finished = 0
    for _ in range(args.rounds):
        elapsed, messages = run_panoramisk(chunks)
        best_pan = min(best_pan, elapsed, key=lambda t: t[1])
        elapsed, frames, finished = run_pipeline(chunks)
        best_pipe = min(best_pipe, elapsed, key=lambda t: t[1])
    best_store, _, stored = asyncio.run(run_with_store(chunks))
    assert finished == stored, (finished, stored)
    print("  rates per CPU second of this process (per wall second in brackets; the wall figure")
    print("  drops when other processes share the cores, the CPU one much less):")
    rows = (
        ("panoramisk AMIProtocol parse only", messages, best_pan, ""),
        (
            "trubka pipeline (frame+decode+reducer)",
            frames,
            best_pipe,
            f"{finished:,} calls finished",
        ),
        (
            "trubka pipeline + SQLite CallStore",
            frames,
            best_store,
            f"{stored:,} records, batches of 500",
        ),
    )
    rates = {}
    for label, count, (wall, cpu), note in rows:
        rates[label] = count / cpu
        rate, wall_rate = count / cpu, count / wall
        print(f"  {label:<40} {count:>9,} events {rate:>9,.0f}/s [{wall_rate:>9,.0f}/s]  {note}")
    pan = rates["panoramisk AMIProtocol parse only"]
    pipe = rates["trubka pipeline (frame+decode+reducer)"]
    store = rates["trubka pipeline + SQLite CallStore"]
    print(
        f"  ratio pipeline / panoramisk: {pipe / pan:.2f}; "
        f"with persistence: {store / pan:.2f} (target >= 0.5)"
    )
    ok = min(pipe, store) >= 40_000 and min(pipe, store) >= pan / 2
    verdict = "met" if ok else "NOT met"
    print(f"  target >= 40,000 events/s per core and >= half of panoramisk: {verdict}")
    print("load average after: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
