"""Audio work with ffmpeg: check the tools, transcode a recording, measure it.

One ffmpeg pass per recording decodes the source once and writes two outputs: the
compressed file (MP3 or Opus, channels kept: a stereo MixMonitor file with the customer
and the agent on separate channels stays stereo) and 8 kHz 16-bit PCM on a pipe, from
which the duration and the waveform peaks are computed (with numpy) as it streams. Memory stays
small whatever the call's length, ffmpeg runs with one thread,
has a timeout, and its own error message becomes the job's reason. It runs under Linux's
SCHED_IDLE policy (elsewhere at the lowest priority): conversions use only CPU time that
AMI handling, screen pops and the web leave free.

pydub (the project's audio dependency) reads each converted file back before it is
kept (:mod:`recordings.pydub_check`); the conversion itself streams through ffmpeg
directly, because pydub's ``from_file``/``export`` hold the whole decoded call in
memory, write an extra temporary WAV, and give no handle on ffmpeg (no timeout, no stop
at shutdown, no idle priority).

``-xerror`` makes ffmpeg stop at the first damaged packet, so a truncated file (a copy
cut short, a header that promises more audio than there is) fails with ffmpeg's reason
and the original is kept, instead of becoming a silently shortened recording.

Everything here blocks; the worker calls it from its thread pool.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from recordings.errors import (
    AudioError,
    FfmpegUnavailable,
    RecordingError,
    StorageFull,
    is_no_space,
)
from recordings.pydub_check import verify_converted

PEAK_RATE = 8000  # Hz of the PCM the peaks are computed from
BLOCK_FRAMES = PEAK_RATE // 100  # 10 ms
PIPE_CHUNK = 64 * 1024
REASON_LIMIT = 500
_POINTER = re.compile(r" @ 0x[0-9a-f]+")
_NO_SPACE = "No space left on device"


class ConversionTimeout(AudioError):
    """ffmpeg ran past the timeout (a busy machine, or a file that makes it loop)."""


class Interrupted(RecordingError):
    """The worker is stopping: ffmpeg was stopped on purpose, the job goes back to the queue."""


@dataclass(frozen=True, slots=True)
class Format:
    name: str
    encoder: str
    muxer: str
    extension: str
    media_type: str
    codec: str  # what ffprobe calls the stream it holds


FORMATS: dict[str, Format] = {
    "mp3": Format("mp3", "libmp3lame", "mp3", "mp3", "audio/mpeg", "mp3"),
    "opus": Format("opus", "libopus", "ogg", "opus", "audio/ogg", "opus"),
}

MEDIA_TYPES: dict[str, str] = {
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
    "wav": "audio/wav",
    "ogg": "audio/ogg",
    "gsm": "audio/x-gsm",
}


@dataclass(frozen=True, slots=True)
class Tools:
    ffmpeg: str
    ffprobe: str
    version: str


@dataclass(frozen=True, slots=True)
class Probe:
    codec: str
    channels: int
    sample_rate: int


@dataclass(frozen=True, slots=True)
class AudioResult:
    """What one pass over a recording found; `output` is None for an empty recording."""

    empty: bool
    duration_seconds: float
    channels: int
    sample_rate: int
    codec: str
    peaks: list[list[float]]
    output: Path | None
    output_size: int
    output_sha256: str | None


@dataclass(eq=False)
class ProcessRegistry:
    """The ffmpeg processes running now, so that shutdown can stop them at once."""

    stopping: bool = False
    _running: set[subprocess.Popen[bytes]] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._running.add(proc)
            stop = self.stopping
        if stop:
            _kill(proc)

    def discard(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._running.discard(proc)

    def stop_all(self) -> int:
        with self._lock:
            self.stopping = True
            running = list(self._running)
        for proc in running:
            _kill(proc)
        return len(running)


def find_tools(fmt: str = "mp3") -> Tools:
    """ffmpeg and ffprobe from PATH, with the encoder `fmt` needs, or FfmpegUnavailable."""
    ffmpeg = shutil.which("ffmpeg")
    ffprobe = shutil.which("ffprobe")
    if ffmpeg is None or ffprobe is None:
        missing = " and ".join(
            n for n, p in (("ffmpeg", ffmpeg), ("ffprobe", ffprobe)) if p is None
        )
        raise FfmpegUnavailable(
            f"{missing} not found on PATH ({os.environ.get('PATH', '')}): install ffmpeg "
            "(Debian/Ubuntu: apt-get install ffmpeg); recordings are queued but not processed "
            "until then"
        )
    try:
        version = subprocess.run(
            [ffmpeg, "-hide_banner", "-version"], capture_output=True, timeout=30, check=True
        ).stdout.decode("utf-8", "replace")
        encoders = subprocess.run(
            [ffmpeg, "-hide_banner", "-encoders"], capture_output=True, timeout=30, check=True
        ).stdout.decode("utf-8", "replace")
    except (OSError, subprocess.SubprocessError) as exc:
        raise FfmpegUnavailable(f"{ffmpeg} does not run: {exc}") from exc
    wanted = FORMATS[fmt].encoder
    if not re.search(rf"^\s*A\S*\s+{re.escape(wanted)}\s", encoders, re.MULTILINE):
        raise FfmpegUnavailable(
            f"{ffmpeg} has no {wanted} encoder, needed for TRUBKA_RECORDINGS_FORMAT={fmt}"
        )
    first = version.splitlines()[0] if version else "ffmpeg"
    return Tools(ffmpeg=ffmpeg, ffprobe=ffprobe, version=first.split(" Copyright")[0])


def probe(tools: Tools, source: Path, timeout: float = 60.0) -> Probe:
    """The first audio stream's codec, channels and rate, or AudioError with ffprobe's reason."""
    command = [
        tools.ffprobe, "-v", "error", "-select_streams", "a:0",
        "-show_entries", "stream=codec_name,channels,sample_rate", "-of", "json", str(source),
    ]  # fmt: skip
    try:
        done = subprocess.run(
            command, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as exc:
        raise ConversionTimeout(f"ffprobe did not finish within {timeout:.0f}s") from exc
    except OSError as exc:
        raise FfmpegUnavailable(f"cannot run {tools.ffprobe}: {exc}") from exc
    if done.returncode != 0:
        raise AudioError(
            clean_reason(done.stderr, source) or f"ffprobe exited with {done.returncode}"
        )
    try:
        streams = json.loads(done.stdout or b"{}").get("streams") or []
    except ValueError as exc:
        raise AudioError("ffprobe printed something that is not JSON") from exc
    if not streams:
        raise AudioError("no audio stream in the file")
    stream: dict[str, Any] = streams[0]
    try:
        return Probe(
            codec=str(stream.get("codec_name") or "unknown"),
            channels=int(stream.get("channels") or 0),
            sample_rate=int(stream.get("sample_rate") or 0),
        )
    except (TypeError, ValueError) as exc:
        raise AudioError(f"ffprobe reported an unreadable stream: {stream}") from exc


def transcode(
    tools: Tools,
    source: Path,
    output: Path,
    *,
    fmt: str = "mp3",
    bitrate_kbps: int = 32,
    buckets: int = 500,
    timeout: float = 900.0,
    registry: ProcessRegistry | None = None,
) -> AudioResult:
    """Convert `source` into `output` and measure it.

    A file with a valid header and no audio (a call never bridged leaves a 44-byte WAV)
    gives ``empty=True`` and no output. Raises AudioError with ffmpeg's reason for a file
    ffmpeg cannot read, StorageFull when the output's disk is full (nothing is left at
    `output`), Interrupted when the registry is stopping.
    """
    spec = FORMATS[fmt]
    info = probe(tools, source)
    if info.channels <= 0:
        raise AudioError("the audio stream has no channels")
    channels = min(info.channels, 2)
    mix = ["-ac", "2"] if info.channels > 2 else []
    command = [
        tools.ffmpeg, "-nostdin", "-hide_banner", "-nostats", "-v", "error", "-xerror",
        "-threads", "1", "-i", str(source),
        "-map", "0:a:0", *mix, "-map_metadata", "-1", "-c:a", spec.encoder,
        "-b:a", f"{bitrate_kbps}k", "-f", spec.muxer, "-y", str(output),
        "-map", "0:a:0", "-ac", str(channels), "-ar", str(PEAK_RATE),
        "-c:a", "pcm_s16le", "-f", "s16le", "pipe:1",
    ]  # fmt: skip
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        result = _run(command, source, output, channels, buckets, timeout, registry)
    except OSError as exc:
        _remove_partial(output)
        if is_no_space(exc):
            raise StorageFull(f"no space left writing {output.name}") from exc
        raise AudioError(f"converting {source.name}: {exc.strerror or exc}") from exc
    except BaseException:
        _remove_partial(output)
        raise
    frames, peaks = result
    if frames == 0:
        _remove_partial(output)
        return AudioResult(True, 0.0, channels, info.sample_rate, info.codec, [], None, 0, None)
    duration = round(frames / PEAK_RATE, 3)
    try:
        verify_converted(output, codec=spec.codec, channels=channels, duration_seconds=duration)
    except BaseException:
        _remove_partial(output)
        raise
    size, digest = file_digest(output)
    return AudioResult(
        empty=False,
        duration_seconds=duration,
        channels=channels,
        sample_rate=info.sample_rate,
        codec=info.codec,
        peaks=peaks,
        output=output,
        output_size=size,
        output_sha256=digest,
    )


def _run(
    command: list[str],
    source: Path,
    output: Path,
    channels: int,
    buckets: int,
    timeout: float,
    registry: ProcessRegistry | None,
) -> tuple[int, list[list[float]]]:
    with tempfile.TemporaryFile() as errors:
        try:
            proc = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors,
                start_new_session=True,  # a Ctrl-C on the terminal is ours to handle, not ffmpeg's
            )  # fmt: skip
        except OSError as exc:
            raise FfmpegUnavailable(f"cannot run {command[0]}: {exc}") from exc
        lower_priority(proc.pid)
        if registry is not None:
            registry.add(proc)
        watchdog = _Watchdog(proc, timeout)
        try:
            assert proc.stdout is not None
            frames, peaks = _read_peaks(proc.stdout, channels, buckets)
            returncode = proc.wait()
        finally:
            watchdog.cancel()
            if proc.poll() is None:
                _kill(proc)
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
            if registry is not None:
                registry.discard(proc)
        errors.seek(0)
        stderr = errors.read(64 * 1024)
    if registry is not None and registry.stopping:
        raise Interrupted("stopped while converting")
    if returncode != 0:
        if watchdog.fired:
            # We killed it: its exit status (-9) says nothing about the recording.
            raise ConversionTimeout(f"ffmpeg did not finish within {timeout:.0f}s")
        if _NO_SPACE.encode() in stderr:
            raise StorageFull(f"no space left writing {output.name}")
        reason = clean_reason(stderr, source) or f"ffmpeg exited with status {returncode}"
        raise AudioError(reason)
    return frames, peaks


class _Watchdog:
    """Kills a process that runs past `timeout` seconds, and remembers that it did.

    Whether a conversion timed out is decided here, by the kill itself, never from the
    clock afterwards: the timer's thread may start counting a moment before the caller
    reads the clock, so "elapsed < timeout" can follow a kill that was ours."""

    def __init__(self, proc: subprocess.Popen[bytes], timeout: float) -> None:
        self._proc = proc
        self._lock = threading.Lock()
        self._fired = False
        self._cancelled = False
        self._timer = threading.Timer(timeout, self._expire)
        self._timer.daemon = True
        self._timer.start()

    @property
    def fired(self) -> bool:
        with self._lock:
            return self._fired

    def _expire(self) -> None:
        with self._lock:
            if self._cancelled:
                return
            self._fired = True
        _kill(self._proc)

    def cancel(self) -> None:
        """Stop the timer; once this returns the process is not killed by it any more."""
        with self._lock:
            self._cancelled = True
        self._timer.cancel()


def _read_peaks(stream: IO[bytes], channels: int, buckets: int) -> tuple[int, list[list[float]]]:
    """Read 16-bit PCM to its end: the frame count and `buckets` peaks (0..1) per channel.

    numpy does the per-sample work (and releases the GIL while it does), so a conversion
    in the pool never holds up the event loop's thread.
    """
    block_bytes = BLOCK_FRAMES * channels * 2
    blocks: list[npt.NDArray[np.int32]] = []
    pending = b""
    frames = 0
    while True:
        data = stream.read(PIPE_CHUNK)
        if not data:
            break
        data = pending + data
        whole = len(data) - len(data) % block_bytes
        pending = data[whole:]
        if whole:
            blocks.append(_block_peaks(data[:whole], channels, BLOCK_FRAMES))
            frames += whole // (2 * channels)
    tail = len(pending) - len(pending) % (2 * channels)
    if tail:
        blocks.append(_block_peaks(pending[:tail], channels, tail // (2 * channels)))
        frames += tail // (2 * channels)
    if not blocks:
        return frames, []
    per_block = np.concatenate(blocks)  # (blocks, channels): the peak of each 10 ms
    return frames, [reduce_peaks(per_block[:, ch], buckets) for ch in range(channels)]


def _block_peaks(data: bytes, channels: int, block_frames: int) -> npt.NDArray[np.int32]:
    samples = np.frombuffer(data, dtype="<i2").astype(np.int32)
    shaped = np.abs(samples.reshape(-1, block_frames, channels))
    peaks: npt.NDArray[np.int32] = np.minimum(shaped.max(axis=1), 32767)
    return peaks


def reduce_peaks(blocks: Sequence[int] | npt.NDArray[np.int32], buckets: int) -> list[float]:
    """`buckets` maxima (fewer when the call is shorter), scaled to 0..1, 3 decimals."""
    values = np.asarray(blocks, dtype=np.int32)
    if values.size == 0:
        return []
    count = min(buckets, int(values.size))
    starts = (np.arange(count, dtype=np.int64) * values.size) // count
    maxima = np.maximum.reduceat(values, starts)
    return [round(float(v) / 32767, 3) for v in maxima]


def file_digest(path: Path) -> tuple[int, str]:
    """Size and SHA-256 (hex) of a file."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def clean_reason(stderr: bytes, source: Path) -> str:
    """ffmpeg's last error lines, without our directory names or memory addresses."""
    text = stderr.decode("utf-8", "replace").replace(str(source), source.name)
    lines = [_POINTER.sub("", line).strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    reason = "; ".join(dict.fromkeys(lines[-3:]))
    return reason[:REASON_LIMIT]


def lower_priority(pid: int) -> None:
    """Let ffmpeg use only CPU time nobody else wants (Linux SCHED_IDLE; elsewhere the
    lowest nice level): AMI handling, screen pops and the web never wait for audio."""
    if hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_IDLE"):
        try:
            os.sched_setscheduler(pid, os.SCHED_IDLE, os.sched_param(0))
            return
        except ProcessLookupError:
            return  # already finished
        except OSError:
            pass  # not allowed here (some sandboxes): fall back to niceness
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, pid, 19)


def _remove_partial(path: Path) -> None:
    """Remove what ffmpeg left at `path`: a regular file or a symlink, never anything else."""
    with contextlib.suppress(FileNotFoundError):
        if path.is_symlink() or stat.S_ISREG(path.stat().st_mode):
            path.unlink()


def _kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
