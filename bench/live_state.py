"""Live-state benchmark: 2,000 concurrent calls and 500 agents in the reducer.

Calls are synthetic copies of real ones from the load trace
(`tests/traces/05-load-20-calls.ami`): an answered call (its frames up to the
conversation, and later the rest) and an abandoned one (up to waiting in the queue, and
later the abandon), with Uniqueids, numbers and agents rewritten per copy. 500 agents are
queue members; the first 500 calls are answered by them, the rest wait in the queue.

The calls are fed in buckets while they accumulate, then ended in buckets; each bucket
prints its per-event cost and the process RSS, which must stay flat as the number of
live calls grows (no per-event cost that scales with the number of calls or agents).

    python bench/live_state.py                    # 2,000 calls, 500 agents
    python bench/live_state.py --calls 10000 --agents 2000
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import sys
import time
import tracemalloc
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from telephony.codec import AmiDecoder  # noqa: E402
from telephony.domain import CallEnded  # noqa: E402
from telephony.pipeline import EventPipeline  # noqa: E402
from telephony.reducer import ReducerConfig  # noqa: E402

TRACE = ROOT / "tests" / "traces" / "05-load-20-calls.ami"
_UNIQUEID = re.compile(rb"(?<=[: ])(\d{10})\.(\d+)")


def _frames_of(data: bytes, linkedid: bytes) -> list[bytes]:
    marker = (b"Linkedid: " + linkedid, b"LinkedID: " + linkedid, b"UniqueID: " + linkedid)
    return [
        f + b"\r\n\r\n"
        for f in data.split(b"\r\n\r\n")
        if any(m + b"\r\n" in f + b"\r\n" for m in marker)
    ]


def _call(data: bytes, *, answered: bool) -> tuple[list[bytes], list[bytes], bytes, bytes]:
    """(frames up to the conversation or the queue, the rest, customer number, agent number)."""
    frames = data.split(b"\r\n\r\n")
    wanted = b"Event: AgentConnect" if answered else b"Event: QueueCallerAbandon"
    for frame in frames:
        if frame.startswith(wanted):
            linkedid = re.search(rb"\r\nLinkedid: (\S+)", frame)
            assert linkedid is not None
            call = _frames_of(data, linkedid.group(1))
            number = re.search(rb"Channel: Local/(\d+)@from-trunk", frame)
            agent = re.search(rb"Interface: Local/(\d+)@agents", frame)
            assert number is not None
            cut_at = b"Event: BridgeEnter" if answered else b"Event: MusicOnHoldStart"
            cut = next(i for i, f in enumerate(call) if f.startswith(cut_at)) + (
                2 if answered else 1
            )
            return call[:cut], call[cut:], number.group(1), agent.group(1) if agent else b"101"
    raise SystemExit(f"no {wanted.decode()} in {TRACE}")


def _copy(frames: list[bytes], index: int, number: bytes, agent: bytes, new_agent: int) -> bytes:
    blob = b"".join(frames)
    blob = _UNIQUEID.sub(
        lambda m: m.group(1) + b"." + str(int(m.group(2)) + index * 1000).encode(), blob
    )
    blob = blob.replace(number, f"7916{index:07d}".encode())
    blob = blob.replace(b"Local/" + agent + b"@agents", f"Local/{new_agent}@agents".encode())
    return blob.replace(b"Agent " + agent, f"Agent {new_agent}".encode())


def _members(agents: int, queues: int) -> bytes:
    out = []
    for i in range(agents):
        number = 1000 + i
        out.append(
            (
                f"Event: QueueMemberAdded\r\nPrivilege: agent,all\r\nQueue: q{i % queues}\r\n"
                f"MemberName: Agent {number}\r\nInterface: Local/{number}@agents/n\r\n"
                f"StateInterface: Local/{number}@agents/n\r\nMembership: dynamic\r\nPenalty: 0\r\n"
                f"CallsTaken: 0\r\nLastCall: 0\r\nLastPause: 0\r\nLoginTime: 1795717000\r\n"
                f"InCall: 0\r\n"
                f"Status: 1\r\nPaused: 0\r\nPausedReason: \r\nRinginuse: 0\r\nWrapuptime: 0\r\n\r\n"
            ).encode()
        )
    return b"".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--queues", type=int, default=10)
    parser.add_argument("--buckets", type=int, default=10)
    parser.add_argument(
        "--waves", type=int, default=2, help="rounds of calls (a leak shows in wave 2)"
    )
    args = parser.parse_args()
    data = TRACE.read_bytes()
    answered = _call(data, answered=True)
    waiting = _call(data, answered=False)

    def blob(first: int, last: int, wave: int, part: int) -> bytes:
        out = []
        for i in range(first, last):
            agent = 1000 + i % args.agents
            head, tail, number, agent_number = answered if i < args.agents else waiting
            index = wave * args.calls + i + 1
            out.append(_copy(head if part == 0 else tail, index, number, agent_number, agent))
        return b"".join(out)

    proc = psutil.Process()
    pipeline = EventPipeline(decoder=AmiDecoder(expect_banner=False))
    pipeline.state.config = ReducerConfig()
    talking = min(args.agents, args.calls)
    print(
        f"Live state: {args.calls:,} concurrent calls ({talking:,} answered, the rest queued), "
        f"{args.agents:,} agents in {args.queues} queues, {args.waves} wave(s)"
    )
    print("load average before: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    at = 1_795_717_853.0
    pipeline.feed(_members(args.agents, args.queues), at)
    gc.collect()
    base = proc.memory_info().rss
    print(f"  RSS with {args.agents} agents and no call: {base / 2**20:.1f} MB")
    print("  (µs/event: CPU time of this process per event, insensitive to other load)")
    print(
        f"  {'wave':<4} {'phase':<6} {'live calls':>10} {'channels':>9} {'events':>8} "
        f"{'µs/event':>9} {'RSS +MB':>8}"
    )
    size = max(1, args.calls // args.buckets)
    costs: dict[str, list[float]] = {"start": [], "end": []}
    peaks: list[float] = []
    ended = 0
    for wave in range(args.waves):
        for part, phase in ((0, "start"), (1, "end")):
            for first in range(0, args.calls, size):
                chunk = blob(first, min(args.calls, first + size), wave, part)
                frames_before = pipeline.decoder.stats.frames
                start = time.process_time()
                for offset in range(0, len(chunk), 65536):
                    for event in pipeline.feed(chunk[offset : offset + 65536], at):
                        if isinstance(event, CallEnded):
                            ended += 1
                    at += 0.01
                elapsed = time.process_time() - start
                del chunk
                events = pipeline.decoder.stats.frames - frames_before
                cost = elapsed / events * 1e6
                costs[phase].append(cost)
                state = pipeline.state
                grown = (proc.memory_info().rss - base) / 2**20
                print(
                    f"  {wave + 1:<4} {phase:<6} {len(state.calls):>10,} {len(state.channels):>9,} "
                    f"{events:>8,} {cost:>9.2f} {grown:>8.1f}"
                )
            if phase == "start":
                peaks.append((proc.memory_info().rss - base) / 2**20)
    state = pipeline.state
    print(
        f"  calls ended: {ended:,}; left in the live state: {len(state.calls)} calls, "
        f"{len(state.channels)} channels; malformed frames: {pipeline.decoder.stats.malformed}"
    )
    for phase, values in costs.items():
        print(
            f"  {phase}: per-event cost min {min(values):.2f}, max {max(values):.2f} µs; "
            f"first bucket {values[0]:.2f}, last {values[-1]:.2f}"
        )
    print(
        f"  RSS growth at {args.calls:,} live calls, per wave: "
        + ", ".join(f"{p:.1f} MB" for p in peaks)
        + " (process RSS, the bench's own buffers included)"
    )
    # The live state's own memory, exactly (tracemalloc slows everything: untimed).
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    held: list[float] = []
    for part in (0, 1):
        for first in range(0, args.calls, size):
            chunk = blob(first, min(args.calls, first + size), args.waves, part)
            for offset in range(0, len(chunk), 65536):
                pipeline.feed(chunk[offset : offset + 65536], at)
            del chunk
            held.append((tracemalloc.get_traced_memory()[0] - before) / 2**20)
    tracemalloc.stop()
    print(
        f"  live-state memory (tracemalloc): {max(held):.1f} MB at {args.calls:,} live calls "
        f"({max(held) * 1024 / args.calls:.1f} KB per call), {held[-1]:.2f} MB after they all ended"
    )
    print("load average after: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
