"""FastAGI wire protocol, sans I/O: the environment Asterisk sends, its replies, our commands.

A FastAGI session (as recorded from Asterisk 22 in ``tests/traces/*.agi``): Asterisk
connects and sends ``agi_name: value`` lines ending with an empty line; then the server
sends one command per line and Asterisk answers each with ``200 result=1 (value)``,
``510 Invalid or unknown command``, ``511 Command Not Permitted on a dead channel`` or a
multi-line ``520-…``/``520 End of proper usage.``; ``HANGUP`` may arrive in between when
the caller hangs up. The session ends when the server closes the connection.

Commands must go one at a time: Asterisk reads them with stdio and polls the socket, so
a second command sent before the first is answered may sit unread in its buffer.

Values are quoted the way Asterisk's ``parse_args`` unquotes them (double quotes, ``\\``
escapes); a value or name that cannot be sent safely (CR, LF, NUL, a bad variable name)
raises :class:`AgiValueError` instead of being sent.

    AgiError (telephony.errors)
    ├── AgiProtocolError   the peer broke the protocol (garbage, oversized environment)
    └── AgiValueError      a command we were asked to send is not safe to send
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from telephony.errors import AgiError

MAX_LINE = 8 * 1024  # one environment line; longer values are cut and flagged
MAX_ENV_BYTES = 64 * 1024  # the whole environment
MAX_ENV_LINES = 256
MAX_REPLY_BYTES = 64 * 1024

_ENV_LINE = re.compile(r"^(agi_[A-Za-z0-9_]{1,60}): ?(.*?)\r?$", re.MULTILINE)
# The same without CRs (what Asterisk sends): greedy, about twice as fast.
_ENV_LINE_LF = re.compile(r"^(agi_[A-Za-z0-9_]{1,60}): ?(.*)", re.MULTILINE)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,79}(\([A-Za-z0-9_,-]{0,40}\))?$")
_REPLY = re.compile(r"^(\d{3})(?: result=(-?\d+))?(?: \((.*)\))?")
_UNSAFE = ("\r", "\n", "\0")


class AgiProtocolError(AgiError):
    """The peer broke the FastAGI protocol (garbage, an oversized environment …)."""


class AgiValueError(AgiError, ValueError):
    """A command we were asked to send is not safe to send (CR/LF/NUL, a bad name)."""


@dataclass(frozen=True, slots=True)
class AgiRequest:
    """The environment of one FastAGI session, with the values decoded."""

    env: Mapping[str, str]
    oversized: frozenset[str] = frozenset()  # names whose values were cut at MAX_LINE

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.env.get(name, default)

    @property
    def script(self) -> str:
        """The requested path without query: `route` for ``agi://host:4573/route?x=1``."""
        script = self.env.get("agi_network_script")
        if script is None:
            request = self.env.get("agi_request", "")
            script = urlsplit(request).path if "://" in request else request
        return script.split("?", 1)[0].strip("/")

    @property
    def query(self) -> dict[str, str]:
        """The script's query: ``{"pbx": "b"}`` for ``agi://host:4573/route?pbx=b``."""
        script = self.env.get("agi_network_script")
        if script is None or "?" not in script:
            script = self.env.get("agi_request", "")
        _, _, query = script.partition("?")
        return {k: v for k, v in parse_qsl(query, keep_blank_values=False)[:8]}

    @property
    def pbx(self) -> str | None:
        """Which PBX asks (``?pbx=NAME`` in the AGI URL, see telephony.pbxes); None when
        the dialplan does not say: the primary PBX."""
        env = self.env
        script = env.get("agi_network_script")
        if (script is None or "?" not in script) and "?" not in env.get("agi_request", ""):
            return None  # the usual URL, without a query: nothing to parse
        name = self.query.get("pbx", "").strip()
        return name[:64] or None

    @property
    def args(self) -> list[str]:
        out = []
        n = 1
        while (value := self.env.get(f"agi_arg_{n}")) is not None:
            out.append(value)
            n += 1
        return out

    @property
    def uniqueid(self) -> str | None:
        return self.env.get("agi_uniqueid") or None

    @property
    def channel(self) -> str | None:
        return self.env.get("agi_channel") or None


@dataclass(frozen=True, slots=True)
class AgiReply:
    code: int
    result: str | None
    data: str | None
    text: str

    @property
    def ok(self) -> bool:
        return self.code == 200


HANGUP = AgiReply(0, None, None, "HANGUP")
_OK_LINE = b"200 result=1\n"
_OK = AgiReply(200, "1", None, "200 result=1")


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1251", errors="replace")  # an old trunk's caller name


@dataclass(slots=True)
class EnvironmentParser:
    """Feed bytes; get the :class:`AgiRequest` once the empty line arrives."""

    _buffer: bytearray = field(default_factory=bytearray)
    _env: dict[str, str] = field(default_factory=dict)
    _oversized: set[str] = field(default_factory=set)
    _skipping: bool = False  # inside an over-long line, dropping bytes up to its end
    _cut: bytes = b""
    _lines: int = 0
    _total: int = 0
    done: bool = False

    def feed(self, data: bytes) -> AgiRequest | None:
        """The request once complete. Bytes after the empty line stay in ``rest``."""
        if self.done:
            raise AgiProtocolError("environment already complete")
        self._total += len(data)
        if self._total > MAX_ENV_BYTES + MAX_LINE:
            raise AgiProtocolError(f"environment larger than {MAX_ENV_BYTES} bytes")
        self._buffer += data
        if not self._env and not self._skipping:
            request = self._whole()
            if request is not None:
                return request
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > MAX_LINE:
                    if not self._skipping:
                        self._cut = bytes(self._buffer[:MAX_LINE])
                        self._skipping = True
                    del self._buffer[:]
                return None
            line = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            if self._skipping:
                self._skipping = False
                self._line(self._cut, cut=True)
                continue
            if len(line) > MAX_LINE:
                self._line(line[:MAX_LINE], cut=True)
                continue
            line = line.rstrip(b"\r")
            if not line:
                self.done = True
                return AgiRequest(dict(self._env), frozenset(self._oversized))
            self._line(line, cut=False)

    def _whole(self) -> AgiRequest | None:
        """The usual case, fast: the whole environment arrived in one read, every line
        `agi_name: value` (one regex pass); anything else takes the careful path."""
        buffer = self._buffer
        end = buffer.find(b"\n\n")
        if end < 0 or end > MAX_ENV_BYTES:
            return None
        try:
            text = buffer[:end].decode("utf-8")
        except UnicodeDecodeError:
            return None  # the careful path decodes line by line
        pairs = (_ENV_LINE if "\r" in text else _ENV_LINE_LF).findall(text)
        if len(pairs) != text.count("\n") + 1 or len(pairs) > MAX_ENV_LINES:
            return None  # a line that is not `agi_name: value`: let the careful path name it
        if len(text) > MAX_LINE and any(len(value) > MAX_LINE - 80 for _, value in pairs):
            return None  # the careful path cuts over-long values and flags them
        del buffer[: end + 2]
        self.done = True
        return AgiRequest(dict(pairs))

    @property
    def rest(self) -> bytes:
        return bytes(self._buffer)

    def _line(self, raw: bytes, *, cut: bool) -> None:
        self._lines += 1
        if self._lines > MAX_ENV_LINES:
            raise AgiProtocolError(f"more than {MAX_ENV_LINES} environment lines")
        name, sep, value = raw.partition(b":")
        if not sep or not name.startswith(b"agi_") or not name.replace(b"_", b"").isalnum():
            raise AgiProtocolError(f"not an AGI environment line: {_show(raw)}")
        key = name.decode("ascii")
        self._env[key] = _decode(value[1:] if value.startswith(b" ") else value)
        if cut:
            self._oversized.add(key)


@dataclass(slots=True)
class ReplyParser:
    """Feed bytes from Asterisk; get :class:`AgiReply` values (and ``HANGUP``)."""

    _buffer: bytearray = field(default_factory=bytearray)
    _usage: list[str] | None = None

    def feed(self, data: bytes) -> list[AgiReply]:
        if data == _OK_LINE and not self._buffer and self._usage is None:
            return [_OK]  # what Asterisk answers to nearly every SET VARIABLE
        self._buffer += data
        out: list[AgiReply] = []
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > MAX_REPLY_BYTES:
                    raise AgiProtocolError(f"reply line longer than {MAX_REPLY_BYTES} bytes")
                return out
            line = _decode(bytes(self._buffer[:end])).rstrip("\r")
            del self._buffer[: end + 1]
            reply = self._line(line)
            if reply is not None:
                out.append(reply)

    def _line(self, line: str) -> AgiReply | None:
        if self._usage is not None:
            self._usage.append(line)
            if line.startswith("520 "):
                text = "\n".join(self._usage)
                self._usage = None
                return AgiReply(520, None, None, text)
            if len(self._usage) > 200:
                raise AgiProtocolError("520 usage text without an end")
            return None
        if line == "HANGUP":
            return HANGUP
        if line.startswith("520-"):
            self._usage = [line]
            return None
        match = _REPLY.match(line)
        if not match:
            raise AgiProtocolError(f"not an AGI reply: {_show(line.encode())}")
        return AgiReply(int(match.group(1)), match.group(2), match.group(3), line)


def quote(value: str) -> str:
    """A value as one AGI argument: in double quotes, `"` and `\\` escaped."""
    if any(char in value for char in _UNSAFE):
        raise AgiValueError("an AGI value cannot hold CR, LF or NUL")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def set_variable(name: str, value: str) -> bytes:
    """``SET VARIABLE NAME "value"\\n`` — for a variable or a function such as CALLERID(name)."""
    if not _NAME.fullmatch(name):
        raise AgiValueError(f"{name!r} is not a channel variable name")
    return f"SET VARIABLE {name} {quote(value)}\n".encode()


def clean_text(text: str, limit: int) -> str:
    """Printable text for a channel variable: control and format characters removed,
    whitespace runs collapsed, at most `limit` characters (Cyrillic and the like kept)."""
    if text.isprintable():  # the usual case: nothing to remove
        return " ".join(text.split())[:limit].rstrip()
    out = []
    for char in text:
        category = unicodedata.category(char)
        if category[0] == "C" or category in ("Zl", "Zp"):
            out.append(" " if char in "\t\r\n\v\f\x85\u2028\u2029" else "")
        else:
            out.append(char)
    return " ".join("".join(out).split())[:limit].rstrip()


def display_name(name: str, limit: int = 64) -> str:
    """A contact's name as a caller-ID name: no quotes or backslashes (they break SIP
    display names and dialplan expressions), no control characters, capped."""
    return clean_text(name.replace('"', "").replace("\\", ""), limit * 2)[:limit].rstrip()


def _show(raw: bytes, limit: int = 80) -> str:
    text = repr(raw[:limit])
    return text + ("…" if len(raw) > limit else "")
