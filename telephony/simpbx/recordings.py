"""MixMonitor files the simulated PBX leaves behind, written with the stdlib `wave` module.

Like the recorded Asterisk: 8 kHz, 16-bit mono WAV; a call that was never bridged leaves a
44-byte header-only file; a bridged call leaves audio of its talk length (a quiet tone,
so the file is not silence and compresses like speech would not).
"""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

RATE = 8000


def write_recording(path: Path, seconds: float, *, tone_hz: float = 440.0) -> Path:
    """Write `seconds` of audio (0 → a header-only file) atomically to `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = max(0, round(seconds * RATE))
    tmp = path.with_name(path.name + ".part")
    with wave.open(str(tmp), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        if frames:
            period = _period(tone_hz)
            # Repeat one second of samples: cheap for long calls.
            second = period * max(1, RATE // len(period))
            chunk = b"".join(second)
            whole, rest = divmod(frames, len(second))
            for _ in range(whole):
                out.writeframesraw(chunk)
            out.writeframesraw(b"".join(second[:rest]))
    tmp.replace(path)
    return path


def _period(tone_hz: float) -> list[bytes]:
    samples = max(1, int(RATE / tone_hz))
    return [
        struct.pack("<h", int(6000 * math.sin(2 * math.pi * i / samples))) for i in range(samples)
    ]
