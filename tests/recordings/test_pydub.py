"""pydub in the recordings: it reads back every converted file before it is kept, and the
tests make their audio with it (generators, channel layouts, WAV export)."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pytest

from recordings.audio import Tools, transcode
from recordings.errors import AudioError
from recordings.pydub_check import read_back, verify_converted
from tests.recordings.conftest import REAL_WAV

with warnings.catch_warnings():  # audioop on 3.11–3.12 (see recordings.pydub_check)
    warnings.simplefilter("ignore", DeprecationWarning)
    warnings.simplefilter("ignore", SyntaxWarning)
    from pydub import AudioSegment
    from pydub.generators import Sine, WhiteNoise


def load(path: Path, fmt: str = "wav") -> AudioSegment:
    with path.open("rb") as fh:  # pydub leaves files it opens itself unclosed
        return AudioSegment.from_file(fh, format=fmt)


def save(segment: AudioSegment, path: Path) -> Path:
    segment.export(str(path), format="wav").close()
    return path


def looped(source: Path, target: Path, *, minutes: float) -> Path:
    """A long recording: the real MixMonitor audio repeated (pydub holds it in memory,
    fine for a test file; Trubka itself never decodes a whole call like this)."""
    clip = load(source)
    times = int(minutes * 60_000 / len(clip)) + 1
    return save((clip * times)[: int(minutes * 60_000)], target)


def customer_and_agent(target: Path, seconds: float = 6.0) -> Path:
    """Stereo like MixMonitor's `D` option: the customer (the real recording) on the
    left, the agent (a tone with a little noise, quieter) on the right."""
    customer = load(REAL_WAV)[: int(seconds * 1000)]
    agent = (
        Sine(440, sample_rate=8000).to_audio_segment(duration=seconds * 1000, volume=-18)
    ).overlay(WhiteNoise(sample_rate=8000).to_audio_segment(duration=seconds * 1000, volume=-40))
    agent = agent.set_channels(1).set_sample_width(2).set_frame_rate(8000)
    stereo = AudioSegment.from_mono_audiosegments(customer, agent)
    return save(stereo, target)


def test_a_conversion_is_read_back_before_it_is_kept(tools: Tools, tmp_path: Path) -> None:
    source = customer_and_agent(tmp_path / "stereo.wav")
    result = transcode(tools, source, tmp_path / "out.mp3", bitrate_kbps=32, buckets=100)
    assert result.channels == 2 and result.duration_seconds == pytest.approx(6.0, abs=0.01)
    stream = read_back(tmp_path / "out.mp3")
    assert stream["codec_name"] == "mp3" and int(stream["channels"]) == 2
    assert float(stream["duration"]) == pytest.approx(6.0, abs=0.3)
    # The two channels stay apart: the customer's speech is louder than the agent's tone.
    decoded = load(tmp_path / "out.mp3", "mp3")
    left, right = decoded.split_to_mono()
    assert decoded.channels == 2 and left.max > right.max * 2


def test_a_broken_conversion_is_refused(tools: Tools, tmp_path: Path) -> None:
    transcode(tools, REAL_WAV, tmp_path / "good.mp3", bitrate_kbps=32, buckets=50)
    with pytest.raises(AudioError, match=r"lasts 12\.17s, the recording 30\.00s"):
        verify_converted(tmp_path / "good.mp3", codec="mp3", channels=1, duration_seconds=30.0)
    with pytest.raises(AudioError, match="channel"):
        verify_converted(tmp_path / "good.mp3", codec="mp3", channels=2, duration_seconds=11.98)
    with pytest.raises(AudioError, match="holds mp3 audio, not opus"):
        verify_converted(tmp_path / "good.mp3", codec="opus", channels=1, duration_seconds=11.98)
    garbage = tmp_path / "garbage.mp3"
    garbage.write_bytes(b"\x00" * 4096)
    with pytest.raises(AudioError, match="could not be read back"):
        verify_converted(garbage, codec="mp3", channels=1, duration_seconds=11.98)
    verify_converted(tmp_path / "good.mp3", codec="mp3", channels=1, duration_seconds=11.98)


def test_a_conversion_that_does_not_verify_leaves_nothing(tools: Tools, tmp_path: Path) -> None:
    """An encoder that stops early (a real ffmpeg told to write only the first second of
    the MP3, while the peaks pipe gets everything): the job's reason says so, and no
    output is left behind."""
    fake = tmp_path / "ffmpeg"
    fake.write_text(
        f"#!{sys.executable}\n"
        "import os, sys\n"
        "args = sys.argv[1:]\n"
        "at = args.index('-y')\n"
        f"os.execv({tools.ffmpeg!r}, [{tools.ffmpeg!r}, *args[:at], '-t', '1', *args[at:]])\n"
    )
    fake.chmod(0o755)
    broken = Tools(ffmpeg=str(fake), ffprobe=tools.ffprobe, version="ffmpeg that stops early")
    output = tmp_path / "out.mp3"
    with pytest.raises(AudioError, match=r"lasts 1\.\d+s, the recording 11\.98s"):
        transcode(broken, REAL_WAV, output, buckets=10)
    assert not output.exists()
