"""AMI wire codec, sans I/O: ``AmiDecoder.feed(bytes) -> list[Frame]`` and ``encode_action``.

Bytes are buffered and only whole frames (ended by an empty line) are decoded, so a
UTF-8 Cyrillic name split across two TCP reads survives. A frame is decoded as UTF-8;
a line that is not UTF-8 (an old trunk sending cp1251) is decoded as cp1251 instead of
being dropped. Frames are decoded lazily: the frame's kind and name are read from its
first line, the headers only when someone asks, so the many events nobody needs (CEL,
Newexten, Cdr …) cost a `bytes.find` each.

Problems never raise out of :meth:`AmiDecoder.feed`: a malformed or oversized frame is
counted in :class:`DecoderStats`, remembered (shortened) in ``problems`` and skipped.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

log = logging.getLogger(__name__)

EOL = b"\r\n"
EOM = b"\r\n\r\n"
BANNER_PREFIX = b"Asterisk Call Manager/"
DEFAULT_MAX_FRAME = 256 * 1024
_EVENT_PREFIX = b"Event: "
_RESPONSE_PREFIX = b"Response: "


class FrameKind(StrEnum):
    BANNER = "banner"
    EVENT = "event"
    RESPONSE = "response"


class Frame:
    """One AMI message: a banner line, an event or a response.

    ``headers`` maps lower-cased header names to the first value seen; ``get_all``
    returns every value of a repeated header (``Output`` lines, a `UserEvent` body).
    """

    __slots__ = ("_headers", "_pairs", "fallback_decoded", "kind", "name", "raw")

    def __init__(self, kind: FrameKind, name: str, raw: bytes) -> None:
        self.kind = kind
        self.name = name
        self.raw = raw
        self._pairs: list[tuple[str, str]] | None = None
        self._headers: dict[str, str] | None = None
        self.fallback_decoded = False

    def __repr__(self) -> str:
        return f"<Frame {self.kind} {self.name!r} {len(self.raw)}B>"

    @property
    def pairs(self) -> list[tuple[str, str]]:
        if self._pairs is None:
            self._pairs = [
                (key, value[1:] if value[:1] == " " else value) for key, _, value in self._split()
            ]
        return self._pairs

    @property
    def headers(self) -> dict[str, str]:
        if self._headers is None:
            self._decode()
        assert self._headers is not None
        return self._headers

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def get_all(self, name: str) -> list[str]:
        key = name.lower()
        return [value for header, value in self.pairs if header.lower() == key]

    @property
    def action_id(self) -> str | None:
        return self.headers.get("actionid")

    def _split(self) -> list[tuple[str, str, str]]:
        """Every line partitioned at its first ':'; raises FrameError for a line without one."""
        raw = self.raw
        try:
            lines = raw.decode("utf-8").split("\r\n")
        except UnicodeDecodeError:
            self.fallback_decoded = True
            lines = [_decode_line(line) for line in raw.split(EOL)]
        parts = [line.partition(":") for line in lines]
        if all(part[1] for part in parts):
            return parts
        return [part for part in parts if _check_line(part)]

    def _decode(self) -> None:
        # Walk backwards so the first value of a repeated header is the one that stays.
        headers: dict[str, str] = {}
        for key, _, value in reversed(self._split()):
            headers[key.lower()] = value[1:] if value[:1] == " " else value
        self._headers = headers


def _check_line(part: tuple[str, str, str]) -> bool:
    """Keep a `Name: value` line, skip an empty one, refuse anything else."""
    key, sep, _ = part
    if sep:
        return True
    if not key:
        return False
    raise FrameError("line without ':'", key.encode("utf-8", "replace"))


class FrameError(ValueError):
    """A frame whose lines do not all read `Name: value`."""

    def __init__(self, reason: str, offending: bytes) -> None:
        super().__init__(reason)
        self.reason = reason
        self.offending = offending


# Event and response names seen so far (a few hundred at most): a dict lookup per frame
# instead of decoding and checking the name again.
_NAMES: dict[bytes, str] = {}
_MAX_NAMES = 4096


def _checked_name(name_bytes: bytes) -> str:
    try:
        name = name_bytes.decode("ascii").strip()
    except UnicodeDecodeError:
        return ""
    if not name or not name.replace("_", "").replace("-", "").isalnum():
        return ""
    if len(_NAMES) < _MAX_NAMES:
        _NAMES[name_bytes] = name
    return name


def _decode_line(line: bytes) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return line.decode("cp1251", "replace")


def shorten(data: bytes, limit: int = 120) -> str:
    """Offending bytes for a log line: printable, at most `limit` characters."""
    text = data[:limit].decode("utf-8", "backslashreplace")
    text = text.replace("\r", "\\r").replace("\n", "\\n")
    return text + ("…" if len(data) > limit else "")


@dataclass(slots=True)
class DecoderStats:
    bytes_in: int = 0
    frames: int = 0
    malformed: int = 0
    oversized: int = 0
    fallback_decoded: int = 0
    truncated_at_eof: int = 0


@dataclass(frozen=True, slots=True)
class Problem:
    reason: str
    sample: str


@dataclass(slots=True)
class AmiDecoder:
    """Incremental AMI decoder. Feed it bytes as they arrive; it returns whole frames."""

    max_frame: int = DEFAULT_MAX_FRAME
    expect_banner: bool = True
    stats: DecoderStats = field(default_factory=DecoderStats)
    problems: deque[Problem] = field(default_factory=lambda: deque(maxlen=50))
    _buffer: bytearray = field(default_factory=bytearray)
    _discarding: bool = False

    def feed(self, data: bytes) -> list[Frame]:
        self.stats.bytes_in += len(data)
        buffer = self._buffer
        buffer += data
        frames: list[Frame] = []
        start = 0
        if self.expect_banner:
            start = self._take_banner(frames)
            if self.expect_banner:  # banner line not complete yet
                return frames
        find = buffer.find
        while True:
            end = find(EOM, start)
            if end < 0:
                break
            if self._discarding:
                self._discarding = False
            else:
                self._take(bytes(buffer[start:end]), frames)
            start = end + 4
        if start:
            del buffer[:start]
        if len(buffer) > self.max_frame:
            if not self._discarding:
                self._problem("oversized", bytes(buffer[:200]))
                self.stats.oversized += 1
            # Keep the tail: the end-of-frame marker may straddle this read and the next.
            del buffer[:-3]
            self._discarding = True
        return frames

    def eof(self) -> None:
        """The connection closed: a partial frame left in the buffer is counted and dropped."""
        if self._buffer.strip() and not self._discarding:
            self.stats.truncated_at_eof += 1
            self._problem("connection closed mid-frame", bytes(self._buffer[:200]))
        self.reset()

    def reset(self) -> None:
        self._buffer.clear()
        self._discarding = False
        self.expect_banner = True

    def _take_banner(self, frames: list[Frame]) -> int:
        buffer = self._buffer
        # Asterisk may prepend nothing but the banner; anything else means no banner.
        if len(buffer) < len(BANNER_PREFIX) and BANNER_PREFIX.startswith(bytes(buffer)):
            return 0
        self.expect_banner = False
        if not buffer.startswith(BANNER_PREFIX):
            return 0
        end = buffer.find(EOL)
        if end < 0:
            self.expect_banner = True
            return 0
        line = bytes(buffer[:end])
        frames.append(Frame(FrameKind.BANNER, line.decode("utf-8", "replace"), line))
        self.stats.frames += 1
        return end + 2

    def _take(self, raw: bytes, frames: list[Frame]) -> None:
        # Tolerate stray blank lines between frames (some proxies add them).
        if raw[:2] == EOL:
            raw = raw.lstrip(b"\r\n")
        if not raw:
            return
        if len(raw) > self.max_frame:
            self.stats.oversized += 1
            self._problem("oversized", raw[:200])
            return
        if raw.startswith(_EVENT_PREFIX):
            kind = FrameKind.EVENT
            cut = len(_EVENT_PREFIX)
        elif raw.startswith(_RESPONSE_PREFIX):
            kind = FrameKind.RESPONSE
            cut = len(_RESPONSE_PREFIX)
        else:
            frame = self._reordered(raw)
            if frame is not None:
                frames.append(frame)
            return
        line_end = raw.find(EOL)
        name_bytes = raw[cut:] if line_end < 0 else raw[cut:line_end]
        name = _NAMES.get(name_bytes)
        if name is None:
            name = _checked_name(name_bytes)
            if not name:
                self.stats.malformed += 1
                self._problem("bad event or response name", raw[:200])
                return
        self.stats.frames += 1
        frames.append(Frame(kind, name, raw))

    def _reordered(self, raw: bytes) -> Frame | None:
        """A frame whose `Event:`/`Response:` is not the first line (or is missing)."""
        frame = Frame(FrameKind.EVENT, "", raw)
        try:
            headers = frame.headers
        except FrameError as exc:
            self.stats.malformed += 1
            self._problem(exc.reason, raw[:200])
            return None
        if "event" in headers:
            frame.name = headers["event"].strip()
        elif "response" in headers:
            frame.kind = FrameKind.RESPONSE
            frame.name = headers["response"].strip()
        if not frame.name:
            self.stats.malformed += 1
            self._problem("frame without Event or Response", raw[:200])
            return None
        self.stats.frames += 1
        return frame

    def _problem(self, reason: str, sample: bytes) -> None:
        short = shorten(sample)
        self.problems.append(Problem(reason, short))
        log.warning("AMI: %s: %s", reason, short)


def check_frame(frame: Frame, decoder: AmiDecoder) -> bool:
    """Decode a frame's headers; count and log it on the decoder if they are malformed."""
    try:
        frame.headers  # noqa: B018 - decoding is the point
    except FrameError as exc:
        decoder.stats.malformed += 1
        decoder._problem(exc.reason, frame.raw[:200])
        return False
    if frame.fallback_decoded:
        decoder.stats.fallback_decoded += 1
    return True


class EncodeError(ValueError):
    """An action header that cannot be sent safely (a line break would inject headers)."""


def encode_action(
    action: str, headers: Mapping[str, object] | Iterable[tuple[str, object]] = ()
) -> bytes:
    """Encode an AMI action. Values with CR or LF are refused: they would inject headers."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    lines = [f"Action: {_safe('Action', action)}"]
    for key, value in items:
        if value is None:
            continue
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        lines.append(f"{_safe('header name', key)}: {_safe(key, text)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def _safe(name: str, value: str) -> str:
    if "\r" in value or "\n" in value or "\x00" in value:
        raise EncodeError(f"{name}: line breaks are not allowed in AMI header values")
    return value
