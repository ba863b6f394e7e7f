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

    python bench/ami_ingest.py            # 40 copies (~112k events)
    python bench/ami_ingest.py --full     # 400 copies (~1.1M events)
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


def build_stream(copies: int) -> bytes:
    """The trace `copies` times; copy k's Uniqueids are `epoch.(n + k·100000)`."""
    data = TRACE.read_bytes()
    banner_end = data.index(b"\r\n") + 2
    body = data[banner_end:]
    parts = [data]
    for k in range(1, copies):
        offset = k * 100_000
        parts.append(_UNIQUEID.sub(lambda m, k=offset: _shifted(m, k), body))
    return b"".join(parts)


def _shifted(match: re.Match[bytes], offset: int) -> bytes:
    return match.group(1) + b"." + str(int(match.group(2)) + offset).encode()


def chunks_of(stream: bytes) -> list[bytes]:
    return [stream[i : i + READ] for i in range(0, len(stream), READ)]


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


def run_panoramisk(chunks: list[bytes]) -> tuple[float, int]:
    protocol = AMIProtocol()
    protocol.connection_made(_Transport())
    factory = _Factory()
    protocol.factory = factory
    start = time.perf_counter()
    for chunk in chunks:
        protocol.data_received(chunk)
    return time.perf_counter() - start, factory.messages


def run_pipeline(chunks: list[bytes]) -> tuple[float, int, int]:
    pipeline = EventPipeline()
    at = 1_795_717_853.0
    finished = 0
    start = time.perf_counter()
    for chunk in chunks:
        for event in pipeline.feed(chunk, at):
            if isinstance(event, CallEnded):
                finished += 1
        at += 0.001
    elapsed = time.perf_counter() - start
    return elapsed, pipeline.decoder.stats.frames, finished


async def run_with_store(chunks: list[bytes], batch: int = 500) -> tuple[float, int, int]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite+aiosqlite:///{tmp}/bench.db")
        await db.upgrade()
        store = CallStore(db)
        pipeline = EventPipeline()
        pending: list[CallRecord] = []
        stored = 0
        at = 1_795_717_853.0
        start = time.perf_counter()
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
        elapsed = time.perf_counter() - start
        await db.dispose()
        return elapsed, pipeline.decoder.stats.frames, stored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--copies", type=int, default=40, help="copies of the load trace (default 40)"
    )
    parser.add_argument("--full", action="store_true", help="400 copies (~1.1M events)")
    parser.add_argument("--rounds", type=int, default=3, help="best of N rounds (default 3)")
    args = parser.parse_args()
    copies = 400 if args.full else args.copies
    stream = build_stream(copies)
    chunks = chunks_of(stream)
    megabytes = len(stream) / 1e6
    print(
        f"AMI ingest: {TRACE.name} x {copies} = {megabytes:.1f} MB in {len(chunks)} reads of 64 KB"
    )
    print(
        f"Python {platform.python_version()} on {platform.machine()}, one core; "
        "load average before: " + " ".join(f"{x:.2f}" for x in os.getloadavg())
    )
    gc.collect()
    best_pan = best_pipe = best_store = float("inf")
    frames = messages = finished = stored = 0
    for _ in range(args.rounds):
        elapsed, messages = run_panoramisk(chunks)
        best_pan = min(best_pan, elapsed)
        elapsed, frames, finished = run_pipeline(chunks)
        best_pipe = min(best_pipe, elapsed)
    elapsed, _, stored = asyncio.run(run_with_store(chunks))
    best_store = elapsed
    assert finished == stored, (finished, stored)
    pan_rate = messages / best_pan
    pipe_rate = frames / best_pipe
    store_rate = frames / best_store
    print(
        f"  panoramisk AMIProtocol parse only       {messages:>9,} messages  {pan_rate:>11,.0f} /s"
    )
    print(
        f"  trubka pipeline (frame+decode+reducer)  {frames:>9,} events    {pipe_rate:>11,.0f} /s"
        f"  ({finished:,} calls finished)"
    )
    print(
        f"  trubka pipeline + SQLite CallStore      {frames:>9,} events    {store_rate:>11,.0f} /s"
        f"  ({stored:,} records stored in batches of 500)"
    )
    print(f"  ratio pipeline / panoramisk: {pipe_rate / pan_rate:.2f}  (target >= 0.5)")
    print(f"  ratio pipeline+store / panoramisk: {store_rate / pan_rate:.2f}")
    ok = pipe_rate >= 40_000 and pipe_rate >= pan_rate / 2
    print(f"  target >= 40,000 events/s and >= half of panoramisk: {'met' if ok else 'NOT met'}")
    print("load average after: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
