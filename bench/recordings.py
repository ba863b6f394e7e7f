"""Recordings benchmark: transcode throughput, and the event loop's lag under audio work.

1. Throughput: real MixMonitor audio (the 12 s trace recording, looped to each file's
   length) converted to MP3 one file after another, the process pinned to one core:
   seconds of audio per second of wall time (and per CPU second of ffmpeg).
2. Event-loop lag: 20 recordings queued at once and processed by the real worker (its
   bounded pool, SQLite job queue, local storage) while an AMI load runs on the same
   loop; a 10 ms ticker measures how late the loop wakes up. Printed for the AMI load
   alone (baseline) and with the recordings; the target is p99 <= 10 ms.

The AMI load is a `LoadSource`:

- `sim` (the default): the simulated PBX (`telephony.simpbx`) in a process of its own,
  as Asterisk would be, placing a customer call every `--call-interval` seconds into the
  demo's queues and agents (MixMonitor on every inbound call); Trubka's real AMI client
  (`telephony.ami_client`: TCP, login, codec, reducer) reads it on the measured loop and
  publishes the domain events on the bus the recordings service subscribes to.
- `trace`: the real 20-call trace (`tests/traces/05-load-20-calls.ami`) fed through the
  codec and reducer in its recorded socket reads at `--ami-rate` events per second.

The recordings of the load's own calls do not exist here: their events are load, kept
off the recordings queue.

    python bench/recordings.py                 # default size: a few minutes at most
    python bench/recordings.py --full          # 20 × 10-minute recordings, longer runs
    python bench/recordings.py --load trace    # the recorded trace instead of the sim
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import time
import wave
from collections.abc import Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Protocol

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crm.database import Database, upgrade  # noqa: E402
from kernel.bus import EventBus  # noqa: E402
from kernel.task_set import TaskSet  # noqa: E402
from recordings.audio import find_tools, transcode  # noqa: E402
from recordings.config import RecordingConfig  # noqa: E402
from recordings.ingest import KINDS  # noqa: E402
from recordings.service import RecordingService  # noqa: E402
from telephony.ami_client import AmiClient, AmiConfig  # noqa: E402
from telephony.codec import Frame  # noqa: E402
from telephony.domain import CallEnded, DomainEvent, RecordingStarted  # noqa: E402
from telephony.pipeline import EventPipeline  # noqa: E402
from telephony.records import CallRecord, Direction, Disposition  # noqa: E402
from telephony.replay import load_index  # noqa: E402

TRACES = ROOT / "tests" / "traces"
REAL_WAV = TRACES / "recordings" / "1795717766.1.wav"
LOAD_TRACE = TRACES / "05-load-20-calls.ami"
PBX_DIR = "/var/spool/asterisk/monitor"


# --- the machine ---------------------------------------------------------------------
def machine() -> str:
    model = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    python = platform.python_version()
    return f"{model}; {cores} cores ({usable} usable); load average {load}; Python {python}"


def looped_wav(path: Path, seconds: float) -> float:
    """A WAV of `seconds` made by looping the real MixMonitor recording."""
    with wave.open(str(REAL_WAV), "rb") as src:
        params = src.getparams()
        frames = src.readframes(src.getnframes())
    total = int(seconds * params.framerate) * params.sampwidth * params.nchannels
    data = (frames * (total // len(frames) + 1))[:total]
    with wave.open(str(path), "wb") as out:
        out.setparams(params)
        out.writeframes(data)
    return len(data) / (params.framerate * params.sampwidth * params.nchannels)


# --- 1. throughput on one core ---------------------------------------------------------
def throughput(work: Path, files: int, seconds: float, bitrate: int) -> None:
    tools = find_tools("mp3")
    sources = [work / f"t{i}.wav" for i in range(files)]
    audio = sum(looped_wav(p, seconds) for p in sources)
    pinned = False
    if hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[-1]})  # ffmpeg inherits it: one core
        pinned = True
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    for i, source in enumerate(sources):
        transcode(tools, source, work / f"t{i}.mp3", bitrate_kbps=bitrate, buckets=500)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if pinned:
        os.sched_setaffinity(0, set(cpus))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(
        f"throughput: {files} × {seconds:.0f} s of 8 kHz mono WAV → MP3 {bitrate} kbit/s, "
        f"one core{'' if pinned else ' (not pinned)'}"
    )
    print(f"  {audio:.0f} s of audio in {wall:.2f} s wall, {cpu:.2f} s ffmpeg CPU")
    print(
        f"  {audio / wall:.0f} s of audio per wall second; {audio / cpu:.0f} per ffmpeg CPU second"
    )
    print(f"  {tools.version}; ffmpeg runs on idle CPU priority, so on a busy")
    print("  machine the wall figure includes waiting for spare CPU (the CPU figure does not)")


# --- 2. event-loop lag -------------------------------------------------------------------
class LoadSource(Protocol):
    """Something that drives AMI traffic through Trubka's telephony edge on this loop."""

    name: str

    async def run(self, stop: asyncio.Event) -> int:
        """Generate load until `stop` is set; returns the number of domain events published."""
        ...


class TraceLoad:
    """The real 20-call trace, fed read by read through codec + reducer at `rate` events/s."""

    name = "trace"

    def __init__(self, bus: EventBus[DomainEvent], rate: float) -> None:
        self.bus = bus
        self.rate = rate
        data = LOAD_TRACE.read_bytes()
        index = load_index(LOAD_TRACE) or []
        self.reads = [data[off : off + length] for _, off, length in index]
        self.events_per_pass = data.count(b"\r\nEvent: ") + data.startswith(b"Event: ")

    async def run(self, stop: asyncio.Event) -> int:
        published = 0
        loop = asyncio.get_running_loop()
        start = loop.time()
        while not stop.is_set():
            pipeline = EventPipeline()
            for chunk in self.reads:
                if stop.is_set():
                    break
                events = pipeline.feed(chunk, time.time())
                # The recordings of this trace's calls do not exist here: only their
                # events are load; keep them off the recordings queue.
                self.bus.publish(e for e in events if not isinstance(e, KINDS))
                published += chunk.count(b"Event: ")
                ahead = published / self.rate - (loop.time() - start)
                await asyncio.sleep(max(ahead, 0))
        return published


class Ticker:
    """Measures how late the loop runs a 10 ms sleep."""

    def __init__(self, period: float = 0.010) -> None:
        self.period = period
        self.lags: list[float] = []

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            before = loop.time()
            await asyncio.sleep(self.period)
            self.lags.append(max(loop.time() - before - self.period, 0.0))

    def summary(self) -> str:
        if not self.lags:
            return "no samples"
        lags = sorted(self.lags)
        p = lambda q: lags[min(int(q * len(lags)), len(lags) - 1)] * 1000  # noqa: E731
        return (
            f"lag p50 {p(0.50):.2f} ms, p99 {p(0.99):.2f} ms, max {lags[-1] * 1000:.2f} ms "
            f"({len(lags)} samples, mean {statistics.fmean(lags) * 1000:.2f} ms)"
        )

    def p99_ms(self) -> float:
        lags = sorted(self.lags)
        return lags[min(int(0.99 * len(lags)), len(lags) - 1)] * 1000 if lags else 0.0


def _sim_process(conn: Connection, call_interval: float, seed: int) -> None:
    """The simulated PBX, in a child process (Asterisk is another process too)."""
    from telephony.simpbx import SimConfig, SimPbx, Timing

    async def serve() -> None:
        timing = Timing(
            call_interval=call_interval,
            answer_delay=(0.3, 1.5),
            talk_time=(2.0, 10.0),
            patience=(3.0, 20.0),
            agi_timeout=0.5,
        )
        pbx = SimPbx(
            SimConfig(username="bench", secret="bench-secret", port=0, timing=timing, seed=seed)
        )
        await pbx.start()
        conn.send(pbx.port)
        await asyncio.to_thread(conn.recv)  # until the benchmark says stop
        conn.send(len(pbx.history) + len(pbx.live_calls))
        await pbx.stop()

    asyncio.run(serve())


class CountingPipeline(EventPipeline):
    """Counts the AMI frames the client decodes (events and replies) on their way in."""

    frames = 0

    def feed_frames(self, frames: list[Frame], at: float) -> list[DomainEvent]:
        self.frames += len(frames)
        return super().feed_frames(frames, at)


class SimLoad:
    """The simulated PBX in its own process, read by Trubka's AMI client on this loop."""

    name = "sim"

    def __init__(self, bus: EventBus[DomainEvent], call_interval: float) -> None:
        self.bus = bus
        self.call_interval = call_interval
        self.published = 0
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=_sim_process, args=(child, call_interval, 7), daemon=True
        )
        self.port = 0
        self.calls = 0

    def describe(self) -> str:
        return f"simulated PBX (a call every ~{self.call_interval:g} s)"

    async def start(self) -> None:
        self.process.start()
        if not await asyncio.to_thread(self.conn.poll, 30):
            raise SystemExit("the simulated PBX did not start within 30 s")
        self.port = int(self.conn.recv())

    async def close(self) -> None:
        self.conn.send("stop")
        if await asyncio.to_thread(self.conn.poll, 30):
            self.calls = int(self.conn.recv())
        await asyncio.to_thread(self.process.join, 10)

    def publish(self, events: Sequence[DomainEvent]) -> None:
        self.published += len(events)
        self.bus.publish(e for e in events if not isinstance(e, KINDS))

    async def run(self, stop: asyncio.Event) -> int:
        """Returns the AMI frames read while `stop` was not set."""
        pipeline = CountingPipeline()
        client = AmiClient(
            AmiConfig(port=self.port, username="bench", secret="bench-secret"),
            pipeline,
            self.publish,
        )
        await client.start()
        await client.wait_connected(10)
        await stop.wait()
        await client.stop()
        return pipeline.frames


def call_events(i: int, name: str) -> list[DomainEvent]:
    now = time.time()
    record = CallRecord(
        linkedid=f"bench.{i}",
        direction=Direction.INBOUND,
        caller_number=f"+7916000{i:04d}",
        caller_name=None,
        called_number=None,
        queue="support",
        agent_interface="Local/101@agents/n",
        agent_name=None,
        started_at=now - 60,
        answered_at=now - 50,
        ended_at=now,
        wait_seconds=10.0,
        talk_seconds=50.0,
        disposition=Disposition.ANSWERED,
        recording_file=f"{PBX_DIR}/{name}",
    )
    return [
        RecordingStarted(record.linkedid, now - 60, record.recording_file or ""),
        CallEnded(record),
    ]


async def drain(subscription_queue: asyncio.Queue[DomainEvent], stop: asyncio.Event) -> None:
    """Stands in for the other bus subscribers (call writer, web): takes what arrives."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.1):
                await subscription_queue.get()
                while not subscription_queue.empty():
                    subscription_queue.get_nowait()


async def lag_run(
    work: Path,
    recordings: int,
    seconds: float,
    rate: float,
    workers: int,
    load_name: str,
    poll: float = 2.0,
    call_interval: float = 0.1,
) -> bool:
    url = f"sqlite+aiosqlite:///{work / 'bench.db'}"
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    spool = work / "spool"
    spool.mkdir()
    bus: EventBus[DomainEvent] = EventBus()
    config = RecordingConfig(
        storage_dir=work / "store",
        pbx_dir=Path(PBX_DIR),
        spool=spool,
        poll_interval=0.2,
        workers=workers,
    )
    service = RecordingService(
        db, config, subscription=bus.subscribe("recordings", kinds=KINDS, maxsize=100_000)
    )
    others = bus.subscribe("others", maxsize=100_000)
    load: TraceLoad | SimLoad
    if load_name == "sim":
        load = SimLoad(bus, call_interval)
        await load.start()
    elif load_name == "trace":
        load = TraceLoad(bus, rate)
    else:
        raise SystemExit(f"unknown load {load_name!r}: sim or trace")
    audio = 0.0
    for i in range(recordings):
        audio += looped_wav(spool / f"bench-{i}.wav", seconds)

    background = TaskSet("bench")

    async def phase(label: str, with_recordings: bool) -> tuple[Ticker, float, int]:
        stop = asyncio.Event()
        ticker = Ticker()
        tasks = [
            asyncio.create_task(ticker.run(stop)),
            asyncio.create_task(load.run(stop)),
            asyncio.create_task(drain(others.queue, stop)),
        ]
        started = time.perf_counter()
        if with_recordings:
            await service.start(background)
            for i in range(recordings):
                bus.publish(call_events(i, f"bench-{i}.wav"))
            worker = service.worker
            async with asyncio.timeout(3600):
                while True:
                    worker.progress.clear()
                    stats = worker.stats
                    if stats.done + stats.empty + stats.failed + stats.missing >= recordings:
                        break
                    await worker.progress.wait()
            counts = await service.store.counts()
            if counts["done"] != recordings:
                print(f"  WARNING: not every recording was converted: {counts}")
        else:
            await asyncio.sleep(5.0)
        wall = time.perf_counter() - started
        stop.set()
        if with_recordings:
            await service.stop()
            await background.stop()
        ticker_task, load_task, drain_task = tasks
        events = await load_task
        await ticker_task
        drain_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await drain_task
        print(f"  {label}: {ticker.summary()}; {events / wall:.0f} AMI frames/s over {wall:.1f} s")
        return ticker, wall, events

    what = load.describe() if isinstance(load, SimLoad) else f"trace at {rate:.0f} events/s"
    print(
        f"event-loop lag: {recordings} recordings × {seconds:.0f} s queued at once, "
        f"{workers} worker(s), AMI load: {what}"
    )
    await phase("AMI load alone       ", with_recordings=False)
    ticker, wall, _ = await phase("AMI load + recordings", with_recordings=True)
    if isinstance(load, SimLoad):
        await load.close()
        print(f"  the simulated PBX placed {load.calls} calls during the run")
    print(
        f"  {recordings} recordings ({audio:.0f} s of audio) done in {wall:.1f} s: "
        f"{audio / wall:.0f} s of audio/s"
    )
    await db.dispose()
    ok = ticker.p99_ms() <= 10.0
    print(f"  target lag p99 <= 10 ms: {'met' if ok else 'NOT met'}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--full", action="store_true", help="20 × 10-minute recordings, 10 files for throughput"
    )
    parser.add_argument("--seconds", type=float, default=None, help="length of each recording")
    parser.add_argument("--recordings", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2, help="TRUBKA_RECORDINGS_WORKERS")
    parser.add_argument(
        "--ami-rate", type=float, default=1300.0, help="AMI events per second (trace peak: 1271)"
    )
    parser.add_argument(
        "--load", default="sim", choices=["sim", "trace"], help="AMI load source (default sim)"
    )
    parser.add_argument(
        "--call-interval",
        type=float,
        default=0.1,
        help="sim: seconds between new customer calls (0.1: about 10 calls/s)",
    )
    parser.add_argument("--bitrate", type=int, default=32)
    parser.add_argument("--poll", type=float, default=2.0, help="TRUBKA_RECORDINGS_POLL_INTERVAL")
    args = parser.parse_args()
    seconds = args.seconds or (600.0 if args.full else 120.0)
    print(f"machine: {machine()}")
    work = Path(tempfile.mkdtemp(prefix="trubka-bench-rec-"))
    try:
        throughput(work, 10 if args.full else 5, seconds, args.bitrate)
        asyncio.run(
            lag_run(
                work,
                args.recordings,
                seconds,
                args.ami_rate,
                args.workers,
                args.load,
                args.poll,
                args.call_interval,
            )
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"machine after: load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
