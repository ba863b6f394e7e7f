"""pydub in Trubka: reading back every converted recording before it is kept.

What pydub does here, and only this: after ffmpeg has written the MP3/Opus file,
``pydub.utils.mediainfo_json`` (ffprobe's JSON, plus what pydub reads from its log)
reads the new file back, and :func:`verify_converted` checks its codec, channel count
and duration against what the conversion measured. Only a file that checks out is
stored and, when the settings say so, the PBX's original deleted: an encoder that stopped
early, wrote another codec or another channel layout, or wrote something unreadable
fails the job with the original still in place. (It reads what the file's headers say:
a copy cut short after an MP3's Xing header still reports the full length; the SHA-256
taken before storing, and the store's atomic writes, cover that.)

Why the conversion itself does not go through pydub (``AudioSegment.from_file`` /
``export``), measured on this project's recordings:

- ``from_file`` decodes the whole call into memory (a 1-hour stereo call at 8 kHz is
  about 115 MB per conversion, times the pool's workers), and ``export`` writes that
  again to a temporary WAV before ffmpeg encodes it;
- it gives no handle on the ffmpeg process it starts: no timeout, no stopping it at
  shutdown, no moving it to the idle CPU class, so a long call would compete with AMI
  handling and screen pops;
- ``mediainfo_json`` returns ``{}`` when ffprobe fails, so the reason (what the job shows
  the user) would be lost.

So ffmpeg runs directly, streaming (see :mod:`recordings.audio`). Reading back our own,
just-written file has none of those costs: ffprobe reads its header (and the last Ogg
page), takes milliseconds, and the file is one we produced, not untrusted input that
could keep ffprobe busy.

Importing pydub is done once, here, with its import-time warnings silenced: on Python
3.11–3.12 it imports the deprecated ``audioop`` module (``audioop-lts`` replaces it from
3.13), its regular expressions have invalid escapes (a warning when compiled without a
``.pyc``), and it warns at import when ffmpeg is not on PATH — which Trubka reports
itself, loudly and with the fix (:func:`recordings.audio.find_tools`).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from recordings.errors import AudioError

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    warnings.simplefilter("ignore", SyntaxWarning)
    warnings.simplefilter("ignore", RuntimeWarning)
    from pydub.utils import mediainfo_json

# MP3 frames (576 samples at 8 kHz) and the encoder's delay and padding make the file's
# reported duration a little longer than the audio; a truncated file is far off.
DURATION_SLACK_SECONDS = 0.5
DURATION_SLACK_SHARE = 0.01


def read_back(path: Path) -> dict[str, Any]:
    """The first audio stream of `path` as pydub/ffprobe describe it ({} when none)."""
    info: dict[str, Any] = mediainfo_json(str(path)) or {}
    for stream in info.get("streams") or []:
        if stream.get("codec_type") == "audio":
            merged = dict(stream)
            duration = stream.get("duration") or (info.get("format") or {}).get("duration")
            merged["duration"] = duration
            return merged
    return {}


def verify_converted(path: Path, *, codec: str, channels: int, duration_seconds: float) -> None:
    """Raise AudioError unless `path` holds `channels` of `codec` lasting about
    `duration_seconds` (what the conversion decoded from the original)."""
    stream = read_back(path)
    if not stream:
        raise AudioError(f"the converted file {path.name} could not be read back")
    found_codec = str(stream.get("codec_name") or "")
    if found_codec != codec:
        raise AudioError(f"the converted file holds {found_codec or 'no'} audio, not {codec}")
    try:
        found_channels = int(stream.get("channels") or 0)
        found_duration = float(stream.get("duration") or 0.0)
    except (TypeError, ValueError) as exc:
        raise AudioError(f"the converted file reports an unreadable stream: {exc}") from exc
    if found_channels != channels:
        raise AudioError(
            f"the converted file has {found_channels} channel(s), the recording {channels}"
        )
    slack = DURATION_SLACK_SECONDS + DURATION_SLACK_SHARE * duration_seconds
    if abs(found_duration - duration_seconds) > slack:
        raise AudioError(
            f"the converted file lasts {found_duration:.2f}s, the recording {duration_seconds:.2f}s"
        )
