"""The FastAGI conversation as Asterisk holds it: the PBX is the client.

Asterisk connects to `agi://host:port/script`, sends the `agi_*` environment and an empty
line, then answers each command line (`200 result=1`, `510 Invalid or unknown command`)
until the server closes the connection. `run_fastagi` does the same with a deadline, and
reports every command so the PBX can emit its AGIExecStart/AGIExecEnd/VarSet events.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

MAX_LINE = 4096


@dataclass(slots=True)
class AgiCommand:
    text: str
    code: int
    result: str  # the text after the code: "result=1 (value)"
    variable: tuple[str, str] | None = None  # SET VARIABLE name value


@dataclass(slots=True)
class AgiOutcome:
    status: str  # SUCCESS | FAILURE | HANGUP
    commands: list[AgiCommand] = field(default_factory=list)
    error: str | None = None


# Reads a channel variable or function (`CALLERID(num)`); None when unset.
Getter = Callable[[str], str | None]
# Sets a channel variable or function, returns nothing.
Setter = Callable[[str, str], None]
# Called when a command starts (with None) and when it is done (with its outcome), so the
# PBX emits AGIExecStart, the effects (VarSet …) and AGIExecEnd in Asterisk's order.
Observer = Callable[[str, AgiCommand | None], None]


def parse_agi_url(url: str) -> tuple[str, int, str]:
    parts = urlsplit(url)
    if parts.scheme != "agi" or not parts.hostname:
        raise ValueError(f"not a FastAGI URL: {url!r}")
    return parts.hostname, parts.port or 4573, parts.path.lstrip("/")


async def run_fastagi(
    url: str,
    env: list[tuple[str, str | bytes]],
    get: Getter,
    set_: Setter,
    observe: Observer,
    *,
    timeout: float,
) -> AgiOutcome:
    """Hold one FastAGI conversation; never raises for the server's faults."""
    outcome = AgiOutcome("SUCCESS")
    writer: asyncio.StreamWriter | None = None
    try:
        host, port, _ = parse_agi_url(url)
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port, limit=MAX_LINE * 2)
            payload = bytearray()
            for key, value in env:
                payload += (
                    key.encode() + b": " + (value if isinstance(value, bytes) else value.encode())
                )
                payload += b"\n"
            payload += b"\n"
            writer.write(bytes(payload))
            await writer.drain()
            while True:
                try:
                    line = await reader.readuntil(b"\n")
                except asyncio.IncompleteReadError as exc:
                    if exc.partial.strip():
                        outcome.commands.append(_execute(exc.partial, get, set_, observe))
                    break
                except asyncio.LimitOverrunError:
                    outcome.status = "FAILURE"
                    outcome.error = "AGI server sent an over-long line"
                    break
                command = _execute(line, get, set_, observe)
                outcome.commands.append(command)
                writer.write(f"{command.code} {command.result}\n".encode())
                await writer.drain()
                if command.text.upper().startswith("HANGUP"):
                    outcome.status = "HANGUP"
                    break
    except TimeoutError:
        outcome.status = "FAILURE"
        outcome.error = f"no answer within {timeout:.1f}s"
    except (OSError, ValueError) as exc:
        outcome.status = "FAILURE"
        outcome.error = str(exc) or type(exc).__name__
    finally:
        if writer is not None:
            writer.close()
    return outcome


_FULL_VAR = re.compile(r"\$\{([^}]+)\}")


def _execute(raw: bytes, get: Getter, set_: Setter, observe: Observer) -> AgiCommand:
    text = raw.decode("utf-8", "replace").strip()
    try:
        words = shlex.split(text, posix=True)
    except ValueError:
        words = text.split()
    upper = [w.upper() for w in words[:3]]
    observe(text, None)
    code, result = 200, "result=1"
    variable: tuple[str, str] | None = None
    if upper[:2] == ["SET", "VARIABLE"] and len(words) >= 4:
        variable = (words[2], words[3])
        set_(words[2], words[3])
    elif upper[:2] == ["GET", "VARIABLE"] and len(words) >= 3:
        value = get(words[2])
        result = "result=0" if value is None else f"result=1 ({value})"
    elif upper[:3] == ["GET", "FULL", "VARIABLE"] and len(words) >= 4:
        expression = words[3]
        value = _FULL_VAR.sub(lambda m: get(m.group(1)) or "", expression)
        result = f"result=1 ({value})"
    elif upper[:1] in (["VERBOSE"], ["NOOP"], ["HANGUP"]):
        result = "result=1" if upper[0] != "NOOP" else "result=0"
    elif upper[:1] == ["ANSWER"] or upper[:2] == ["DATABASE", "GET"]:
        result = "result=0"
    else:
        code, result = 510, "Invalid or unknown command"
    command = AgiCommand(text, code, result, variable)
    observe(text, command)
    return command
