"""The Asterisk side of FastAGI for tests: real TCP, Asterisk's own argument parsing.

`parse_args` is a line-for-line port of ``parse_args()`` in Asterisk's ``res_agi.c``
(quotes, backslash escapes), so a value survives the trip exactly when it would in
Asterisk. Environments come from the real conversations in ``tests/traces/*.agi``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.kit_traces import trace_path

_AGI_LINE = re.compile(r"^\s*[\d.]+ (s\d+)\s+(<<|>>|##) ?(.*)$")


def parse_args(line: str) -> list[str]:
    """Split an AGI command line the way Asterisk does."""
    args: list[str] = []
    cur: list[str] | None = None
    quoted = escaped = False
    whitespace = True
    for char in line:
        if char == '"' and not escaped:
            quoted = not quoted
            if quoted and whitespace:
                cur = []
                args.append("")
                whitespace = False
            escaped = False
            continue
        if char in " \t" and not quoted and not escaped:
            if cur is not None:
                args[-1] = "".join(cur)
            whitespace = True
            cur = None
            continue
        if char == "\\" and not escaped:
            escaped = True
            continue
        if whitespace:
            cur = []
            args.append("")
            whitespace = False
        assert cur is not None
        cur.append(char)
        args[-1] = "".join(cur)
        escaped = False
    return args


def trace_environments(name: str) -> list[bytes]:
    """The AGI environment of each session in `tests/traces/NAME.agi`, as Asterisk sent it."""
    sessions: dict[str, list[str]] = {}
    done: set[str] = set()
    for raw in trace_path(f"{name}.agi").read_text(encoding="utf-8").splitlines():
        match = _AGI_LINE.match(raw)
        if not match or match.group(2) != "<<":
            continue
        session, text = match.group(1), match.group(3)
        if session in done:
            continue
        sessions.setdefault(session, []).append(text)
        if text == "":
            done.add(session)
    return ["".join(line + "\n" for line in lines).encode() for lines in sessions.values()]


def environment(**values: str) -> bytes:
    """An environment like Asterisk 22's (trace 03), with `values` replacing or adding."""
    base = dict(
        line.split(": ", 1) if ": " in line else (line.rstrip(":"), "")
        for line in trace_environments("03-fastagi-route-to-102")[0].decode().splitlines()
        if line
    )
    for key, value in values.items():
        if value is None:
            base.pop(key, None)
        else:
            base[key] = value
    return "".join(f"{k}: {v}\n" for k, v in base.items()).encode() + b"\n"


Reply = Callable[[list[str]], bytes]


def ok(args: list[str]) -> bytes:
    return b"200 result=1\n"


@dataclass
class Session:
    commands: list[list[str]] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    closed_by_server: bool = False

    def set_variable(self, args: list[str]) -> None:
        if len(args) == 4 and [a.upper() for a in args[:2]] == ["SET", "VARIABLE"]:
            self.variables[args[2]] = args[3]
            self.order.append(args[2])


async def call(
    port: int,
    env: bytes,
    *,
    reply: Reply = ok,
    deadline: float = 5.0,
) -> Session:
    """Play Asterisk: send `env`, answer each command with `reply`, until the server closes."""
    session = Session()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        async with asyncio.timeout(deadline):
            writer.write(env)
            while True:
                line = await reader.readline()
                if not line:
                    session.closed_by_server = True
                    break
                args = parse_args(line.decode().rstrip("\n"))
                session.commands.append(args)
                session.set_variable(args)
                answer = reply(args)
                if answer:
                    writer.write(answer)
    finally:
        writer.close()
    return session
