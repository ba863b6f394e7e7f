"""Asterisk played from the real traces, against the whole running app.

:class:`TracePbx` feeds recorded AMI byte streams (``tests/traces``) into the app's live
state through the real pipeline and publishes the domain events on the app's bus, as the
AMI client does — with the recorded TCP chunking and timing, shifted to just before now.

:meth:`TracePbx.call_with_agi` replays a recorded call whose dialplan asks FastAGI:

1. the stream up to the call's first ``AGIExecStart`` is fed (the live state Trubka
   decides from);
2. the FastAGI session runs for real, over TCP, against the app's AGI server, with the
   environment Asterisk sent for that call (``NAME.agi``);
3. the stream goes on; the ``VarSet`` events Asterisk emits for the variables our server
   set (``ROUTE_BY``, ``ROUTE_REASON``, …, ``ROUTE_AGENT``) are inserted where the AGI
   step ended (just before ``AGISTATUS``), in the order they were set, in place of what
   the lab's own AGI server set (``ROUTE_AGENT: 102``, ``CRM_CONTACT``);
4. the rest of the call is fed: hang-up, ``CallEnded`` on the bus, the call writer.

So the stored call record carries the decision exactly as it would with Asterisk.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from telephony.pipeline import EventPipeline
from telephony.reducer import CallState
from telephony.replay import load_index
from tests.kit_traces import trace_path
from tests.telephony.kit_fake_asterisk import Session, call, trace_environments

Condition = Callable[[CallState, float], bool]

_LAB_AGI_VARSET = re.compile(
    rb"\r\nVariable: (?:CRM_CONTACT|ROUTE_AGENT)\r\nValue: ([^\r]*)\r\n", re.MULTILINE
)
_VARIABLE = re.compile(rb"Variable: AGISTATUS\r\nValue: [^\r]*")


@dataclass
class Segment:
    at: float  # recorded time of the read
    data: bytes


def _frame_start(data: bytes, pos: int) -> int:
    return data.rfind(b"\r\n\r\n", 0, pos) + 4


def _frame_end(data: bytes, pos: int) -> int:
    return data.find(b"\r\n\r\n", pos) + 4


@dataclass
class Replay:
    """One trace being fed, read by read; may stop at a condition and resume later."""

    name: str
    pbx: TracePbx
    segments: list[Segment]
    shift: float
    pipeline: EventPipeline
    position: int = 0
    at: float = 0.0

    def feed_until(self, condition: Condition | None = None) -> float:
        """Feed reads until `condition` holds after one (to the end without one)."""
        while self.position < len(self.segments):
            segment = self.segments[self.position]
            self.position += 1
            self.at = segment.at + self.shift
            self.pbx.publish(self.pipeline.feed(segment.data, self.at))
            if condition is not None and condition(self.pbx.state, self.at):
                return self.at
        assert condition is None, f"{self.name} never reached the state asked for"
        return self.at

    @property
    def done(self) -> bool:
        return self.position >= len(self.segments)


@dataclass
class AgiCall:
    """A recorded call replayed with a real FastAGI session against the app."""

    linkedid: str
    uniqueid: str
    session: Session
    inserted: list[tuple[str, str]] = field(default_factory=list)  # VarSets fed
    pipeline: EventPipeline | None = None  # to go on feeding this call's stream
    at: float = 0.0  # when its last read was fed


class TracePbx:
    def __init__(self, services: Any, *, start: float | None = None) -> None:
        self.services = services
        # Traces are fed as if recorded in the last few minutes, so "now" follows them.
        self.clock = start if start is not None else time.time() - 600

    @property
    def state(self) -> CallState:
        state: CallState = self.services.live
        return state

    def publish(self, events: list[Any]) -> None:
        if events:
            self.services.bus.publish(events)

    def _segments(self, name: str, drop: list[tuple[int, int]]) -> tuple[bytes, list[Segment]]:
        path = trace_path(f"{name}.ami")
        data = path.read_bytes()
        index = load_index(path)
        assert index, f"{name} has no socket-read index"
        segments = []
        for at, offset, length in index:
            chunk = bytearray()
            cursor = offset
            for start, end in drop:
                if end <= cursor or start >= offset + length:
                    continue
                chunk += data[cursor : max(cursor, start)]
                cursor = max(cursor, min(end, offset + length))
            chunk += data[cursor : offset + length]
            segments.append(Segment(at, bytes(chunk)))
        return data, segments

    def replay(self, name: str, *, drop: list[tuple[int, int]] | None = None) -> Replay:
        _, segments = self._segments(name, drop or [])
        shift = self.clock - segments[0].at
        self.clock += segments[-1].at - segments[0].at + 1.0
        return Replay(name, self, segments, shift, EventPipeline(state=self.state))

    def play(self, name: str, until: Condition | None = None) -> Replay:
        replay = self.replay(name)
        replay.feed_until(until)
        return replay

    async def call_with_agi(
        self,
        name: str,
        port: int,
        *,
        env: dict[str, str] | None = None,
        session: int = 0,
        stop_before: tuple[bytes, ...] = (),
    ) -> AgiCall:
        """Replay the call of trace `name` with its FastAGI session run against `port`.

        `env` replaces or adds AGI environment values (e.g. ``agi_arg_1``: the DID).
        `stop_before` ends the replay at a frame: each marker is searched for after the
        previous one (after the AGI step), the last one's frame and what follows are not
        fed — the test goes on with :meth:`feed` (a different ending of the call)."""
        raw_env = trace_environments(name)[session].decode()
        values = dict(
            line.split(": ", 1) if ": " in line else (line.rstrip(":"), "")
            for line in raw_env.splitlines()
            if line
        )
        values.update(env or {})
        environment = "".join(f"{k}: {v}\n" for k, v in values.items()).encode() + b"\n"
        uniqueid = values["agi_uniqueid"]
        data = trace_path(f"{name}.ami").read_bytes()
        channel_marker = f"\r\nUniqueid: {uniqueid}\r\n".encode()
        start = _first_frame(data, b"Event: AGIExecStart\r\n", channel_marker)
        status = _first_frame(data, b"Event: VarSet\r\n", channel_marker, b"Variable: AGISTATUS")
        assert 0 < start < status, f"{name}: no AGI step for {uniqueid}"
        drop = [
            (_frame_start(data, m.start() + 2), _frame_end(data, m.start() + 2))
            for m in _LAB_AGI_VARSET.finditer(data)
            if m.start() > start
            and (b"CRM_CONTACT" in m.group(0) or m.group(1).strip())
            and channel_marker in data[_frame_start(data, m.start() + 2) : m.end() + 200]
        ]
        template = data[status : _frame_end(data, status)]
        linkedid_match = re.search(rb"\r\nLinkedid: ([^\r]+)\r\n", template)
        assert linkedid_match is not None
        linkedid = linkedid_match.group(1).decode()
        end = len(data)
        if stop_before:
            pos = status
            for marker in stop_before:
                pos = data.find(marker, pos)
                assert pos > 0, f"{name}: {marker!r} not found"
            end = pos
        # Split the trace's reads at the AGI step and at AGISTATUS, dropping the lab's sets.
        before, middle, after = _split(data[:end], self._index(name), start, status, drop)
        shift = self.clock - (before or middle)[0].at
        self.clock += (after or middle)[-1].at - (before or middle)[0].at + 1.0
        pipeline = EventPipeline(state=self.state)
        at = 0.0
        for segment in before:
            at = segment.at + shift
            self.publish(pipeline.feed(segment.data, at))
        agi = await call(port, environment)
        for segment in middle:
            at = segment.at + shift
            self.publish(pipeline.feed(segment.data, at))
        inserted = [(n, v) for n in agi.order if "(" not in n for v in [agi.variables[n]]]
        varsets = b"".join(_varset(template, n, v) for n, v in inserted)
        self.publish(pipeline.feed(varsets, at))
        for segment in after:
            at = segment.at + shift
            self.publish(pipeline.feed(segment.data, at))
        return AgiCall(linkedid, uniqueid, agi, inserted, pipeline, at)

    def feed(self, call: AgiCall, frames: list[bytes], step: float = 0.5) -> None:
        """Go on with a call's stream: whole frames, `step` seconds apart."""
        assert call.pipeline is not None
        for frame in frames:
            call.at += step
            self.publish(call.pipeline.feed(frame, call.at))

    @staticmethod
    def _index(name: str) -> list[tuple[float, int, int]]:
        index = load_index(trace_path(f"{name}.ami"))
        assert index
        return index


def frames(name: str, event: str, *markers: bytes) -> list[bytes]:
    """The raw frames (with their blank line) of `event` in trace `name` that hold every
    marker, in stream order."""
    data = trace_path(f"{name}.ami").read_bytes()
    head = f"Event: {event}\r\n".encode()
    found = []
    pos = 0
    while (pos := data.find(head, pos)) >= 0:
        end = _frame_end(data, pos)
        frame = data[pos:end]
        if all(marker in frame for marker in markers):
            found.append(frame)
        pos = end
    return found


def header(frame: bytes, name: str) -> str:
    match = re.search(rf"\r\n{name}: ([^\r]*)\r\n".encode(), frame)
    assert match is not None, name
    return match.group(1).decode()


def retarget(frame: bytes, source: bytes, target: bytes) -> bytes:
    """A frame of one call's customer channel made about another's: channel, ids and
    caller numbers swapped (both arguments are frames on the respective channels)."""
    out = frame
    for name in ("Channel", "Uniqueid", "Linkedid", "CallerIDNum", "CallerIDName", "Exten"):
        out = out.replace(
            f"{name}: {header(source, name)}\r\n".encode(),
            f"{name}: {header(target, name)}\r\n".encode(),
        )
    for name in ("ConnectedLineNum", "ConnectedLineName"):
        out = out.replace(
            f"{name}: {header(source, 'CallerIDNum' if name.endswith('Num') else 'CallerIDName')}"
            "\r\n".encode(),
            f"{name}: {header(target, 'CallerIDNum' if name.endswith('Num') else 'CallerIDName')}"
            "\r\n".encode(),
        )
    return out


def _first_frame(data: bytes, head: bytes, marker: bytes, extra: bytes = b"") -> int:
    pos = 0
    while True:
        pos = data.find(head, pos)
        if pos < 0:
            return -1
        end = _frame_end(data, pos)
        frame = data[pos:end]
        if marker in frame and extra in frame:
            return pos
        pos = end


def _split(
    data: bytes,
    index: list[tuple[float, int, int]],
    first: int,
    second: int,
    drop: list[tuple[int, int]],
) -> tuple[list[Segment], list[Segment], list[Segment]]:
    parts: tuple[list[Segment], list[Segment], list[Segment]] = ([], [], [])
    for at, offset, length in index:
        end = offset + length
        for part, (low, high) in enumerate(((0, first), (first, second), (second, len(data)))):
            lo, hi = max(offset, low), min(end, high)
            if lo >= hi:
                continue
            chunk = bytearray()
            cursor = lo
            for d_start, d_end in drop:
                if d_end <= cursor or d_start >= hi:
                    continue
                chunk += data[cursor : max(cursor, d_start)]
                cursor = max(cursor, min(d_end, hi))
            chunk += data[cursor:hi]
            if chunk:
                parts[part].append(Segment(at, bytes(chunk)))
    return parts


def _varset(template: bytes, name: str, value: str) -> bytes:
    line = f"Variable: {name}\r\nValue: {value}".encode()
    return _VARIABLE.sub(lambda _m: line, template)
