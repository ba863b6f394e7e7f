"""Property tests: any TCP chunking of the real traces gives the same calls, and damage
confined to one call's frames (or to noise frames) leaves every other call intact."""

from __future__ import annotations

import re
from functools import cache
from itertools import pairwise

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from telephony.domain import CallEnded
from telephony.pipeline import EventPipeline
from telephony.records import CallRecord
from tests.kit_traces import TRACES

LOAD = TRACES / "05-load-20-calls.ami"
CYRILLIC = TRACES / "08-cyrillic-callerid.ami"
SLOW = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def run(data: bytes, cuts: list[int]) -> dict[str, CallRecord]:
    """Feed `data` split at `cuts`, each read one millisecond after the previous."""
    pipeline = EventPipeline()
    out: dict[str, CallRecord] = {}
    bounds = [0, *sorted(set(cuts)), len(data)]
    at = 1_800_000_000.0
    for start, end in pairwise(bounds):
        for event in pipeline.feed(data[start:end], at):
            if isinstance(event, CallEnded):
                out[event.record.linkedid] = event.record
        at += 0.001
    pipeline.decoder.eof()
    return out


def essentials(records: dict[str, CallRecord]) -> dict[str, tuple[object, ...]]:
    return {
        k: (
            r.direction,
            r.caller_number,
            r.caller_name,
            r.queue,
            r.agent_interface,
            r.disposition,
            r.recording_file,
        )
        for k, r in records.items()
    }


@cache
def load_bytes() -> bytes:
    return LOAD.read_bytes()


@cache
def baseline(name: str) -> dict[str, tuple[object, ...]]:
    data = (TRACES / name).read_bytes()
    return essentials(run(data, []))


def frame_spans(data: bytes) -> list[tuple[int, int]]:
    spans, start = [], data.index(b"\r\n") + 2
    while (end := data.find(b"\r\n\r\n", start)) >= 0:
        spans.append((start, end + 4))
        start = end + 4
    return spans


@SLOW
@given(st.lists(st.integers(min_value=1, max_value=len(CYRILLIC.read_bytes()) - 1), max_size=400))
def test_any_chunking_of_the_cyrillic_trace(cuts: list[int]) -> None:
    data = CYRILLIC.read_bytes()
    got = essentials(run(data, cuts))
    assert got == baseline(CYRILLIC.name)
    assert {r[2] for r in got.values()} == {"Иван Петров", "Ольга Смирнова"}


@SLOW
@given(st.lists(st.integers(min_value=1, max_value=len(LOAD.read_bytes()) - 1), max_size=2000))
def test_any_chunking_of_the_load_trace(cuts: list[int]) -> None:
    assert essentials(run(load_bytes(), cuts)) == baseline(LOAD.name)


NOISE = re.compile(rb"^Event: (CEL|Newexten|Cdr|VarSet|DeviceStateChange)\r\n")


@SLOW
@given(st.data())
def test_garbage_and_broken_noise_frames_change_nothing(data: st.DataObject) -> None:
    raw = load_bytes()
    spans = frame_spans(raw)
    noise = [
        s for s in spans if NOISE.match(raw[s[0] : s[1]]) and b"MIXMONITOR" not in raw[s[0] : s[1]]
    ]
    picks = data.draw(st.lists(st.sampled_from(noise), min_size=1, max_size=30, unique=True))
    garbage = data.draw(
        st.lists(
            st.binary(min_size=1, max_size=300).filter(lambda b: b"\r\n\r\n" not in b), max_size=10
        )
    )
    out, last = bytearray(), 0
    for start, end in sorted(picks):
        out += raw[last:start]
        frame = raw[start:end]
        mode = data.draw(st.sampled_from(["drop-colons", "truncate", "bytes"]))
        if mode == "drop-colons":
            out += frame.replace(b": ", b" ", 3)
        elif mode == "truncate":
            out += frame[: max(1, len(frame) // 3)].replace(b"\r\n\r\n", b"") + b"\r\n\r\n"
        else:
            out += b"\xff\xfe" + frame[7:].replace(b": ", b"=")
        for blob in garbage[:2]:
            out += blob + b"\r\n\r\n"
        garbage = garbage[2:]
        last = end
    out += raw[last:]
    assert essentials(run(bytes(out), [])) == baseline(LOAD.name)


@SLOW
@given(st.data())
def test_damage_to_one_call_leaves_the_others_intact(data: st.DataObject) -> None:
    raw = load_bytes()
    spans = frame_spans(raw)
    base = baseline(LOAD.name)
    victim = data.draw(st.sampled_from(sorted(base)))
    mine = [s for s in spans if f"\r\nLinkedid: {victim}\r\n".encode() in raw[s[0] - 2 : s[1]]]
    dropped = set(data.draw(st.lists(st.sampled_from(mine), min_size=1, max_size=20, unique=True)))
    damaged = b"".join(
        raw[a:b] for a, b in [(0, spans[0][0])] + [s for s in spans if s not in dropped]
    )
    got = essentials(
        run(damaged, data.draw(st.lists(st.integers(1, len(damaged) - 1), max_size=50)))
    )
    for linkedid, record in base.items():
        if linkedid != victim:
            assert got[linkedid] == record
