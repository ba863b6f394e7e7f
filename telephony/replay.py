"""Replay a recorded AMI byte stream through the pipeline, with no network or database.

When a `NAME.idx.jsonl` file sits beside `NAME.ami` (the recorder's socket-read index),
the bytes are fed with their original TCP chunking and each read's wall-clock time.
Without it, time comes from the stream itself: the epoch second in every `Uniqueid`, and
`EventTV`/`EventTime` stamps, so timestamps are right to the second.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from telephony.domain import CallEnded, DomainEvent
from telephony.pipeline import EventPipeline
from telephony.records import CallRecord
from telephony.reducer import CallState, ReducerConfig

CHUNK = 65536
_UNIQUEID_EPOCH = re.compile(rb"\r\nUniqueid: (\d{9,11})\.\d+")
_EVENT_TV = re.compile(rb"\r\nEventTV: (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)([+-]\d{4})?")
_EVENT_TIME = re.compile(rb"\r\nEventTime: (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)")


def load_index(path: Path) -> list[tuple[float, int, int]] | None:
    """(time, offset, length) of every inbound read, or None without a usable index."""
    idx = path.with_suffix(".idx.jsonl")
    if not idx.exists():
        return None
    start: float | None = None
    reads: list[tuple[float, int, int]] = []
    try:
        for line in idx.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            if "start_wall" in row:
                start = float(row["start_wall"])
            elif row.get("dir") == "in" and "off" in row:
                reads.append((float(row["t"]), int(row["off"]), int(row["len"])))
    except (ValueError, KeyError, TypeError):
        return None
    if start is None:
        return None
    return [(start + t, off, length) for t, off, length in reads]


def stream_time(data: bytes) -> float | None:
    """The latest moment a piece of the stream proves (to the second), if any."""
    best: float | None = None
    for match in _UNIQUEID_EPOCH.finditer(data):
        value = float(match.group(1))
        best = value if best is None else max(best, value)
    for match in _EVENT_TV.finditer(data):
        stamp = match.group(1).decode()
        offset = (match.group(2) or b"+0000").decode()
        try:
            value = datetime.fromisoformat(stamp + offset[:3] + ":" + offset[3:]).timestamp()
        except ValueError:
            continue
        best = value if best is None else max(best, value)
    if best is None:
        for match in _EVENT_TIME.finditer(data):
            try:
                value = (
                    datetime.fromisoformat(match.group(1).decode()).replace(tzinfo=UTC).timestamp()
                )
            except ValueError:
                continue
            best = value if best is None else max(best, value)
    return best


def replay_events(
    data: bytes,
    index: list[tuple[float, int, int]] | None = None,
    config: ReducerConfig | None = None,
) -> Iterator[DomainEvent]:
    pipeline = EventPipeline(state=CallState(config=config or ReducerConfig()))
    if index:
        covered = 0
        for at, offset, length in index:
            yield from pipeline.feed(data[offset : offset + length], at)
            covered = max(covered, offset + length)
        if covered < len(data):
            yield from pipeline.feed(data[covered:], index[-1][0])
    else:
        clock = stream_time(data[:CHUNK]) or 0.0
        for offset in range(0, len(data), CHUNK):
            for frame in pipeline.decoder.feed(data[offset : offset + CHUNK]):
                seen = stream_time(b"\r\n" + frame.raw)
                if seen is not None:
                    clock = max(clock, seen)
                yield from pipeline.feed_frames([frame], clock)
    pipeline.decoder.eof()


def replay_file(path: Path, config: ReducerConfig | None = None) -> Iterator[CallRecord]:
    data = path.read_bytes()
    for event in replay_events(data, load_index(path), config):
        if isinstance(event, CallEnded):
            yield event.record
