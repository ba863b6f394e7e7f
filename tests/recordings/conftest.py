"""Fixtures for the recordings tests: real WAV files, a controllable clock, a service on
tmp directories over the `db` fixture (SQLite file and PostgreSQL)."""

from __future__ import annotations

import math
import random
import shutil
import struct
import subprocess
import threading
import time
import wave
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from crm.database import Database
from recordings.audio import Tools, find_tools
from recordings.config import RecordingConfig
from recordings.models import JobStatus, RecordingJob
from recordings.service import RecordingService
from recordings.storage import RecordingStorage
from tests.kit_traces import TRACES

REAL_WAV = TRACES / "recordings" / "1795717766.1.wav"  # 11.98 s of real MixMonitor audio
HEADER_ONLY_WAV = TRACES / "recordings" / "1795717785.5.wav"  # 44 bytes: never bridged
PBX_DIR = "/var/lib/asterisk/recordings"  # where the lab Asterisk wrote (MIXMONITOR_FILENAME)


class Clock:
    """Wall-clock time that only moves when a test says so."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def write_wav(
    path: Path, seconds: float, *, rate: int = 8000, channels: int = 1, silent_right: bool = False
) -> Path:
    """A speech-like test signal (a warbling tone with noise) with the stdlib `wave` module."""
    rng = random.Random(7)
    frames = bytearray()
    for i in range(min(int(seconds * rate), rate)):
        t = i / rate
        envelope = 0.5 + 0.5 * math.sin(2 * math.pi * 2.5 * t)
        sample = int(12000 * envelope * math.sin(2 * math.pi * (300 + 80 * math.sin(t * 3)) * t))
        sample += rng.randint(-600, 600)
        frames += struct.pack("<h", max(-32768, min(32767, sample)))
        if channels == 2:
            right = 0 if silent_right else sample // 2
            frames += struct.pack("<h", right)
    # one second of signal, repeated: long files are quick to make
    total = int(seconds * rate) * 2 * channels
    data = (bytes(frames) * (total // len(frames) + 1))[:total]
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(data)
    return path


def speech_stereo(path: Path, work: Path) -> Path:
    """Stereo 8 kHz like MixMonitor's `D` option: customer (espeak-ng speech) left, agent
    (a sox tone) right."""
    speech = work / "speech.wav"
    subprocess.run(
        [
            "espeak-ng",
            "-v",
            "ru",
            "-w",
            str(speech),
            "Здравствуйте, компания Трубка, чем могу помочь?",
        ],
        check=True,
        capture_output=True,
    )
    left = work / "left.wav"
    subprocess.run(["sox", str(speech), "-r", "8000", "-c", "1", str(left)], check=True)
    seconds = float(
        subprocess.run(["soxi", "-D", str(left)], check=True, capture_output=True).stdout
    )
    right = work / "right.wav"
    subprocess.run(
        [
            "sox",
            "-n",
            "-r",
            "8000",
            "-c",
            "1",
            "-b",
            "16",
            str(right),
            "synth",
            f"{seconds}",
            "sine",
            "440",
            "vol",
            "0.2",
        ],
        check=True,
    )
    subprocess.run(["sox", "-M", str(left), str(right), str(path)], check=True)
    return path


class FiresAtOnce(threading.Timer):
    """A timeout timer whose time is up the moment it starts: the kill always comes
    before the clock has moved past the timeout (the race a busy machine hits)."""

    def __init__(
        self, interval: float, function: Callable[..., object], *args: Any, **kwargs: Any
    ) -> None:
        super().__init__(0.0, function, *args, **kwargs)


@pytest.fixture(scope="session")
def tools() -> Tools:
    return find_tools("mp3")


@dataclass
class Dirs:
    storage: Path
    spool: Path
    pbx: Path
    work: Path


@pytest.fixture
def dirs(tmp_path: Path) -> Dirs:
    d = Dirs(tmp_path / "store", tmp_path / "spool", tmp_path / "pbx", tmp_path / "work")
    for folder in (d.storage, d.spool, d.pbx, d.work):
        folder.mkdir()
    return d


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_config(dirs: Dirs, **overrides: object) -> RecordingConfig:
    values: dict[str, object] = {
        "storage_dir": dirs.storage,
        "pbx_dir": Path(PBX_DIR),
        "spool": dirs.spool,
        "missing_after": 30.0,
        "orphan_after": 600.0,
        "poll_interval": 1.0,
        "workers": 2,
        "peaks": 200,
        "retry_delay": 60.0,
    }
    values.update(overrides)
    return RecordingConfig(**values)  # type: ignore[arg-type]


@pytest.fixture
async def make_service(
    db: Database, dirs: Dirs, clock: Clock, tools: Tools
) -> AsyncIterator[object]:
    made: list[RecordingService] = []

    def build(storage: RecordingStorage | None = None, **overrides: object) -> RecordingService:
        service = RecordingService(db, make_config(dirs, **overrides), storage=storage, clock=clock)
        service.worker.tools = tools
        made.append(service)
        return service

    yield build
    for service in made:
        await service.stop(grace=5.0)


async def settle(
    service: RecordingService, clock: Clock, *, steps: int = 12, tick: float = 1.0
) -> None:
    """Run worker steps, moving the clock by `tick`, until nothing is due or running."""
    for _ in range(steps):
        await service.worker.step()
        await service.worker.wait_settled(30.0)
        due = await service.store.due(clock() + tick)
        if not due:
            return
        clock.advance(tick)
    raise AssertionError("the recordings queue did not settle")


async def job_of(service: RecordingService, linkedid: str) -> RecordingJob:
    jobs = await service.store.list_jobs(linkedid=linkedid)
    assert len(jobs) == 1, jobs
    return jobs[0]


def copy_real(target: Path, source: Path = REAL_WAV) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target


__all__ = ["HEADER_ONLY_WAV", "PBX_DIR", "REAL_WAV", "Clock", "JobStatus", "job_of", "settle"]
