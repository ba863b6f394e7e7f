"""Real ffmpeg on real WAV files: conversion, measurements and every way a file can be bad."""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from recordings.audio import (
    ConversionTimeout,
    ProcessRegistry,
    Tools,
    find_tools,
    probe,
    reduce_peaks,
    transcode,
)
from recordings.errors import AudioError, FfmpegUnavailable, StorageFull
from tests.recordings.conftest import (
    HEADER_ONLY_WAV,
    REAL_WAV,
    FiresAtOnce,
    speech_stereo,
    write_wav,
)


def ffprobe(path: Path) -> dict[str, object]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-of", "json", "-show_entries",
         "stream=codec_name,channels,sample_rate:format=duration", str(path)],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    data = json.loads(out)
    stream = data["streams"][0]
    return {**stream, "duration": float(data["format"]["duration"])}


def test_real_mixmonitor_file_becomes_mp3(tools: Tools, tmp_path: Path) -> None:
    out = tmp_path / "out.mp3"
    result = transcode(tools, REAL_WAV, out, bitrate_kbps=32, buckets=500)
    assert not result.empty
    assert result.duration_seconds == pytest.approx(11.98, abs=0.01)  # recordings.tsv says 11.98
    assert (result.channels, result.sample_rate, result.codec) == (1, 8000, "pcm_s16le")
    assert result.output == out
    assert result.output_size == out.stat().st_size
    assert result.output_sha256 == hashlib.sha256(out.read_bytes()).hexdigest()
    assert result.output_size < REAL_WAV.stat().st_size / 3
    info = ffprobe(out)
    assert info["codec_name"] == "mp3" and info["channels"] == 1
    assert info["duration"] == pytest.approx(11.98, abs=0.25)  # MP3 frames pad the end
    # 500 buckets of 0..1; the file is 99.5 % non-silent with a peak of 32055 (recordings.tsv)
    assert len(result.peaks) == 1 and len(result.peaks[0]) == 500
    assert all(0.0 <= p <= 1.0 for p in result.peaks[0])
    assert max(result.peaks[0]) == pytest.approx(32055 / 32767, abs=0.02)
    assert sum(p > 0.01 for p in result.peaks[0]) > 450


def test_header_only_wav_is_empty_not_an_error(tools: Tools, tmp_path: Path) -> None:
    assert HEADER_ONLY_WAV.stat().st_size == 44
    out = tmp_path / "out.mp3"
    result = transcode(tools, HEADER_ONLY_WAV, out)
    assert result.empty
    assert result.output is None and result.duration_seconds == 0.0 and result.peaks == []
    assert not out.exists()


def test_stereo_stays_stereo_with_a_waveform_per_channel(tools: Tools, tmp_path: Path) -> None:
    source = speech_stereo(tmp_path / "stereo.wav", tmp_path)
    out = tmp_path / "out.mp3"
    result = transcode(tools, source, out, buckets=300)
    assert result.channels == 2
    assert ffprobe(out)["channels"] == 2
    left, right = result.peaks
    assert len(left) == len(right) == 300
    # speech has pauses, the agent's tone does not: the channels were not mixed together
    assert min(left) < 0.02
    assert min(right[5:-5]) == pytest.approx(0.2, abs=0.03)


def test_opus_format(tools: Tools, tmp_path: Path) -> None:
    opus = find_tools("opus")
    source = write_wav(tmp_path / "call.wav", 3.0)
    out = tmp_path / "out.opus"
    result = transcode(opus, source, out, fmt="opus", bitrate_kbps=16)
    info = ffprobe(out)
    assert info["codec_name"] == "opus"
    assert result.duration_seconds == pytest.approx(3.0, abs=0.01)
    assert tools.ffmpeg == opus.ffmpeg


@pytest.mark.parametrize(
    ("name", "make", "reason"),
    [
        ("zero.wav", lambda p: p.write_bytes(b""), "Invalid data found when processing input"),
        (
            "cut-header.wav",
            lambda p: p.write_bytes(REAL_WAV.read_bytes()[:20]),
            "Invalid data found",
        ),
        (
            "truncated.wav",
            lambda p: p.write_bytes(REAL_WAV.read_bytes()[:50_000]),
            "corrupt input packet",
        ),
        ("notes.wav", lambda p: p.write_text("call me back tomorrow\n"), "Invalid data found"),
        # Seeded: some random bytes happen to look like an MP3 frame to ffprobe.
        ("noise.wav", lambda p: p.write_bytes(random.Random(1).randbytes(20_000)), "Invalid data"),
    ],
)
def test_bad_files_fail_with_ffmpegs_reason(
    tools: Tools, tmp_path: Path, name: str, make: object, reason: str
) -> None:
    source = tmp_path / "spool" / name
    source.parent.mkdir()
    make(source)  # type: ignore[operator]
    before = source.read_bytes()
    out = tmp_path / "work" / "out.mp3"
    with pytest.raises(AudioError) as caught:
        transcode(tools, source, out)
    assert reason in caught.value.reason
    assert str(tmp_path) not in caught.value.reason  # our directories stay out of the reason
    assert source.read_bytes() == before  # the original is untouched
    assert not out.exists()


def test_full_disk_while_writing_leaves_nothing(tools: Tools, tmp_path: Path) -> None:
    # The kernel's /dev/full answers every write with ENOSPC: ffmpeg's output fails for real.
    out = tmp_path / "out.mp3"
    out.symlink_to("/dev/full")
    with pytest.raises(StorageFull):
        transcode(tools, REAL_WAV, out)
    assert not out.exists() and not out.is_symlink()
    assert Path("/dev/full").exists()


def test_ffmpeg_timeout_is_a_failure_with_a_reason(tools: Tools, tmp_path: Path) -> None:
    source = write_wav(tmp_path / "long.wav", 300.0)
    with pytest.raises(AudioError, match="did not finish within"):
        transcode(tools, source, tmp_path / "out.mp3", timeout=0.05)
    assert not (tmp_path / "out.mp3").exists()


def test_a_process_the_timeout_killed_is_a_timeout_whatever_the_clock_says(
    tools: Tools, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(threading, "Timer", FiresAtOnce)
    source = write_wav(tmp_path / "long.wav", 300.0)
    with pytest.raises(ConversionTimeout, match="did not finish within 60s"):
        transcode(tools, source, tmp_path / "out.mp3", timeout=60.0)
    assert not (tmp_path / "out.mp3").exists()


def test_an_ffmpeg_killed_by_someone_else_is_a_failure_not_a_timeout(
    tools: Tools, tmp_path: Path
) -> None:
    fake = tmp_path / "ffmpeg"
    fake.write_text("#!/bin/sh\nkill -9 $$\n")
    fake.chmod(0o755)
    killed = Tools(ffmpeg=str(fake), ffprobe=tools.ffprobe, version="ffmpeg that gets killed")
    with pytest.raises(AudioError) as raised:
        transcode(killed, REAL_WAV, tmp_path / "out.mp3", timeout=60.0)
    assert type(raised.value) is AudioError
    assert str(raised.value) == "ffmpeg exited with status -9"


def test_a_stopping_registry_interrupts_the_conversion(tools: Tools, tmp_path: Path) -> None:
    from recordings.audio import Interrupted

    registry = ProcessRegistry()
    registry.stop_all()
    with pytest.raises(Interrupted):
        transcode(tools, REAL_WAV, tmp_path / "out.mp3", registry=registry)
    assert not (tmp_path / "out.mp3").exists()


def test_missing_ffmpeg_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(
        FfmpegUnavailable, match=r"ffmpeg and ffprobe not found on PATH.*apt-get install ffmpeg"
    ):
        find_tools()


def test_ffmpeg_without_the_encoder_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A real ffmpeg binary that lacks libopus: a shell script standing in for a minimal build.
    real = shutil.which("ffmpeg")
    assert real is not None
    fake = tmp_path / "ffmpeg"
    fake.write_text(
        f'#!/bin/sh\nif [ "$2" = "-encoders" ]; then "{real}" "$@" | grep -v opus;\n'
        f'else exec "{real}" "$@"; fi\n'
    )
    fake.chmod(0o755)
    (tmp_path / "ffprobe").symlink_to(shutil.which("ffprobe") or "/usr/bin/ffprobe")
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    assert find_tools("mp3").ffmpeg == str(fake)
    with pytest.raises(
        FfmpegUnavailable, match=r"no libopus encoder.*TRUBKA_RECORDINGS_FORMAT=opus"
    ):
        find_tools("opus")


def test_probe_of_a_non_audio_file(tools: Tools, tmp_path: Path) -> None:
    text = tmp_path / "x.wav"
    text.write_text("hello")
    with pytest.raises(AudioError, match="Invalid data found"):
        probe(tools, text)


def test_reduce_peaks() -> None:
    assert reduce_peaks([], 10) == []
    assert reduce_peaks([32767, 0, 16384], 10) == [1.0, 0.0, 0.5]
    assert reduce_peaks([0, 32767, 0, 0, 16384, 0], 3) == [1.0, 0.0, 0.5]
