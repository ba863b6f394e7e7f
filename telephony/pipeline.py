"""Bytes in, domain events out: AMI codec → typed events → reducer, without I/O.

The live AMI client, `trubka replay` and the benchmarks all push bytes through an
:class:`EventPipeline`; the live client also takes the action replies it returns.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from telephony.codec import AmiDecoder, Frame, FrameError, FrameKind, check_frame, shorten
from telephony.domain import DomainEvent
from telephony.errors import MalformedEvent
from telephony.events import parse_event
from telephony.reducer import CallState, Reducer

log = logging.getLogger(__name__)

# A frame that answers one of our actions is handed to this instead of the reducer;
# it returns True when it took the frame.
ReplyRouter = Callable[[Frame], bool]


@dataclass(slots=True)
class PipelineStats:
    malformed_events: int = 0


@dataclass(slots=True)
class EventPipeline:
    state: CallState = field(default_factory=CallState)
    decoder: AmiDecoder = field(default_factory=AmiDecoder)
    route_reply: ReplyRouter | None = None
    stats: PipelineStats = field(default_factory=PipelineStats)
    banner: str | None = None
    _reducer: Reducer | None = None

    def __post_init__(self) -> None:
        self._reducer = Reducer(self.state)

    def feed(self, data: bytes, at: float) -> list[DomainEvent]:
        return self.feed_frames(self.decoder.feed(data), at)

    def feed_frames(self, frames: list[Frame], at: float) -> list[DomainEvent]:
        out: list[DomainEvent] = []
        reducer = self._reducer
        assert reducer is not None
        route = self.route_reply
        for frame in frames:
            if frame.kind is FrameKind.BANNER:
                self.banner = frame.name
                continue
            if route is not None and (frame.kind is FrameKind.RESPONSE or b"ActionID" in frame.raw):
                if not check_frame(frame, self.decoder):
                    continue
                if route(frame):
                    continue
            out.extend(self.apply_frame(frame, at, reducer))
        return out

    def apply_frame(
        self, frame: Frame, at: float, reducer: Reducer | None = None
    ) -> list[DomainEvent]:
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
        return (reducer or Reducer(self.state)).apply(event, at)
