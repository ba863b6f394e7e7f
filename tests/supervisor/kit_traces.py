"""Drive a real AMI trace through the pipeline and stop at a chosen frame."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from telephony.codec import Frame
from telephony.domain import DomainEvent
from telephony.pipeline import EventPipeline
from telephony.reducer import CallState, ReducerConfig
from telephony.replay import load_index


def run_until(
    path: Path, stop: Callable[[Frame], bool] | None = None, *, nth: int = 1
) -> tuple[CallState, float]:
    """Feed the trace with its recorded chunking and clock until `stop` matched `nth` times
    (the matching frame applied); the whole trace without `stop`."""
    data = path.read_bytes()
    index = load_index(path)
    assert index, f"{path} has no read index"
    pipeline = EventPipeline(state=CallState(config=ReducerConfig()))
    seen = 0
    at = index[0][0]
    for at, offset, length in index:
        for frame in pipeline.decoder.feed(data[offset : offset + length]):
            pipeline.feed_frames([frame], at)
            if stop is not None and stop(frame):
                seen += 1
                if seen == nth:
                    return pipeline.state, at
    assert stop is None, "the stop frame never came"
    return pipeline.state, at


def event(name: str, **headers: str) -> Callable[[Frame], bool]:
    """Matches an event by name and (lower-cased) header values."""

    def match(frame: Frame) -> bool:
        if frame.name != name:
            return False
        return all(frame.headers.get(k.lower()) == v for k, v in headers.items())

    return match


def domain_events(path: Path) -> tuple[list[DomainEvent], float]:
    """Every domain event of a trace (recorded chunking and clock), and its last moment."""
    data = path.read_bytes()
    index = load_index(path)
    assert index, f"{path} has no read index"
    pipeline = EventPipeline(state=CallState(config=ReducerConfig()))
    events: list[DomainEvent] = []
    for at, offset, length in index:
        events.extend(pipeline.feed(data[offset : offset + length], at))
    return events, index[-1][0]
