"""Bytes in, domain events out: AMI codec → typed events → reducer, without I/O.

The live AMI client, `trubka replay` and the benchmarks all push bytes through an
:class:`EventPipeline`. It knows nothing of actions: the live client takes the replies
to its own actions out of the frames before it hands them here, and applies the
:class:`~telephony.reducer.Resync` it builds from list replies through :meth:`apply`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from telephony.codec import AmiDecoder, Frame, FrameError, FrameKind, shorten
from telephony.domain import DomainEvent
from telephony.errors import MalformedEvent
from telephony.events import AmiEvent, parse_event
from telephony.reducer import CallState, Reducer, Resync

log = logging.getLogger(__name__)


def event_time(frame: Frame, arrived: float) -> float:
    """When Asterisk says the event happened (`Timestamp:`, sent with `timestampevents =
    yes` in manager.conf), else when it arrived. Asterisk's own time keeps durations
    right when Trubka read the event late (a stalled process, a slow database)."""
    stamp = frame.get("timestamp")
    if stamp:
        try:
            return float(stamp)
        except ValueError:
            pass
    return arrived


@dataclass(slots=True)
class PipelineStats:
    malformed_events: int = 0


@dataclass(slots=True)
class EventPipeline:
    state: CallState = field(default_factory=CallState)
    decoder: AmiDecoder = field(default_factory=AmiDecoder)
    stats: PipelineStats = field(default_factory=PipelineStats)
    banner: str | None = None
    _reducer: Reducer = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._reducer = Reducer(self.state)

    def feed(self, data: bytes, at: float) -> list[DomainEvent]:
        return self.feed_frames(self.decoder.feed(data), at)

    def feed_frames(self, frames: list[Frame], at: float) -> list[DomainEvent]:
        out: list[DomainEvent] = []
        for frame in frames:
            if frame.kind is FrameKind.BANNER:
                self.banner = frame.name
                continue
            out.extend(self.apply_frame(frame, at))
        return out

    def apply_frame(self, frame: Frame, at: float) -> list[DomainEvent]:
        try:
            event = parse_event(frame)
        except FrameError as exc:
            self.decoder.stats.malformed += 1
            log.warning("AMI: %s: %s", exc.reason, shorten(frame.raw))
            return []
        except MalformedEvent as exc:
            self.stats.malformed_events += 1
            log.warning("AMI: malformed %s event (%s): %s", frame.name, exc, shorten(frame.raw))
            return []
        if event is None:
            return []
        if frame.fallback_decoded:
            self.decoder.stats.fallback_decoded += 1
        return self._reducer.apply(event, event_time(frame, at))

    def apply(self, event: AmiEvent | Resync, at: float) -> list[DomainEvent]:
        """Apply an event that did not come as one frame (a Resync built from lists)."""
        return self._reducer.apply(event, at)
