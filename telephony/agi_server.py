"""The FastAGI server: Asterisk asks `agi://HOST:4573/route` where a call goes.

Each connection is a small protocol state machine (environment → routing → replies),
driven by the event loop's callbacks rather than a stream reader per connection: a
session costs one timer, one future and, while the CRM is asked, one tracked task. It
reads the AGI environment, asks the :class:`~telephony.router.CallRouter` for a
decision and sets the channel variables of Trubka's contract, one ``SET VARIABLE`` at a
time (each is answered before the next is sent), in this order (the reducer reads
ROUTE_BY and ROUTE_REASON when the ROUTE_AGENT VarSet arrives, so ROUTE_AGENT comes
last)::

    ROUTE_BY           previous-manager | owner | queue | vip | after-hours | …
    ROUTE_REASON       "Ivanova: talked 3 days ago"
    TRUBKA_CONTACT_ID  the CRM contact (known callers)
    CALLERID(name)     the contact's name, sanitized (known callers)
    QUEUE_PRIO         the VIP priority, when a rule gives one
    ROUTE_QUEUE        the queue the call falls through to
    ROUTE_GOTO         an after-hours dialplan destination `context,exten,priority`
    ROUTE_WAIT         seconds to wait (with music) for a busy manager
    ROUTE_TIMEOUT      seconds to ring ROUTE_AGENT
    ROUTE_AGENT        a dialable interface, empty for the queue

Bad peers never hurt: a session has a deadline for the environment and one overall;
garbage, an oversized environment, an unknown script path or a disconnect ends it
with a log line and a clean close. Missing, anonymous or garbage caller IDs get a
queue decision. The dialplan in ``asterisk_conf/`` sends the call to the queue whenever
this server is down, slow or answers nonsense.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, cast

from prometheus_client import Counter as PromCounter

from routing.decision import Decision
from telephony.agi import (
    HANGUP,
    AgiProtocolError,
    AgiRequest,
    AgiValueError,
    EnvironmentParser,
    ReplyParser,
    display_name,
    set_variable,
)
from telephony.route_memo import REASON_LIMIT as REASON_LIMIT  # `/api/route` cuts alike
from telephony.route_memo import said
from telephony.router import CallRouter

log = logging.getLogger(__name__)

ROUTE_PATH = "route"
MAX_EARLY = 4 * 1024  # bytes a client may send while we decide (a HANGUP is 7)
SESSIONS = PromCounter("trubka_agi_sessions", "FastAGI sessions by how they ended", ["outcome"])


class Outcome:
    ROUTED = "routed"
    UNKNOWN_SCRIPT = "unknown-script"
    SLOW = "slow-client"
    PROTOCOL = "protocol-error"
    DISCONNECTED = "disconnected"
    HANGUP = "caller-hung-up"
    REJECTED = "rejected-busy"
    ALL = (ROUTED, UNKNOWN_SCRIPT, SLOW, PROTOCOL, DISCONNECTED, HANGUP, REJECTED)


@dataclass(slots=True)
class AgiStats:
    outcomes: Counter[str] = field(default_factory=Counter)
    active: int = 0


def route_variables(decision: Decision) -> list[tuple[str, str]]:
    """The channel variables for a decision, in the order they must be set."""
    out = [
        ("ROUTE_BY", decision.routed_by.value),
        ("ROUTE_REASON", said(decision)),
    ]
    if decision.contact_id is not None:
        out.append(("TRUBKA_CONTACT_ID", str(decision.contact_id)))
    if decision.contact_name:
        name = display_name(decision.contact_name)
        if name:
            out.append(("CALLERID(name)", name))
    if decision.priority:
        out.append(("QUEUE_PRIO", str(decision.priority)))
    out.append(("ROUTE_QUEUE", decision.queue))
    if decision.goto:
        out.append(("ROUTE_GOTO", decision.goto))
    if decision.agent:
        if decision.wait_seconds:
            out.append(("ROUTE_WAIT", str(decision.wait_seconds)))
        out.append(("ROUTE_TIMEOUT", str(decision.ring_seconds)))
    out.append(("ROUTE_AGENT", decision.agent or ""))
    return out


def did_of(request: AgiRequest) -> str | None:
    """The called number: the first AGI argument, else the DNID, else the extension."""
    args = request.args
    if args and args[0].strip():
        return args[0]
    for name in ("agi_dnid", "agi_extension"):
        value = (request.get(name) or "").strip()
        if value and value.lower() not in ("unknown", "s"):
            return value
    return None


# Variables with few distinct values (ROUTE_BY, ROUTE_QUEUE, ROUTE_AGENT …): their
# encoded commands are kept, so most calls encode only the reason and the contact.
_FEW_VALUES = frozenset(
    {"ROUTE_BY", "ROUTE_QUEUE", "ROUTE_TIMEOUT", "ROUTE_AGENT", "ROUTE_WAIT", "QUEUE_PRIO",
     "ROUTE_GOTO"}
)  # fmt: skip
_ENCODED: dict[tuple[str, str], bytes] = {}
_ENCODED_MAX = 4096


def _encoded(name: str, value: str) -> bytes:
    if name not in _FEW_VALUES:
        return set_variable(name, value)
    key = (name, value)
    command = _ENCODED.get(key)
    if command is None:
        command = set_variable(name, value)
        if len(_ENCODED) >= _ENCODED_MAX:
            _ENCODED.clear()
        _ENCODED[key] = command
    return command


class AgiServer:
    def __init__(
        self,
        router: CallRouter,
        host: str = "127.0.0.1",
        port: int = 4573,
        *,
        env_timeout: float = 2.0,
        session_timeout: float = 5.0,
        max_sessions: int = 1000,
    ) -> None:
        self.router = router
        self.host = host
        self.port = port
        self.env_timeout = env_timeout
        self.session_timeout = session_timeout
        self.max_sessions = max_sessions
        self.stats = AgiStats()
        self._server: asyncio.Server | None = None
        self._outcome_counters = {o: SESSIONS.labels(o) for o in Outcome.ALL}
        # One future per running session (done when it ends) and the routing tasks.
        self._sessions: set[asyncio.Future[None]] = set()
        self._open: set[_Session] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def listening(self) -> bool:
        return self._server is not None and self._server.is_serving()

    @property
    def bound_port(self) -> int:
        sockets = self._server.sockets if self._server is not None else ()
        if not sockets:
            raise RuntimeError("the FastAGI server is not listening")
        return int(sockets[0].getsockname()[1])

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Session(self), self.host, self.port)
        log.info("FastAGI: listening on %s:%d (path /%s)", self.host, self.bound_port, ROUTE_PATH)

    async def serve(self) -> None:
        """Listen until cancelled, then stop (for a tracked task)."""
        if self._server is None:
            await self.start()
        try:
            await asyncio.Future()
        finally:
            await self.stop()

    async def stop(self, grace: float = 2.0) -> None:
        """Stop accepting, let running sessions finish for `grace` seconds, close the rest."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        if self._sessions:
            await asyncio.wait(set(self._sessions), timeout=grace)
        for session in list(self._open):
            session.finish(Outcome.DISCONNECTED, "closed: the FastAGI server is stopping")
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace)
        if server is not None:
            await server.wait_closed()

    def _end(self, outcome: str) -> None:
        self.stats.outcomes[outcome] += 1
        self._outcome_counters[outcome].inc()

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("FastAGI: routing a session failed", exc_info=task.exception())


_ENV, _ROUTING, _REPLIES, _DONE = range(4)


class _Session(asyncio.Protocol):
    """One FastAGI connection: environment → routing (a task) → one command per reply."""

    __slots__ = (
        "commands",
        "deadline",
        "done",
        "early",
        "loop",
        "parser",
        "phase",
        "replies",
        "request",
        "sent",
        "server",
        "started",
        "task",
        "timer",
        "transport",
    )

    def __init__(self, server: AgiServer) -> None:
        self.server = server
        self.phase = _ENV
        self.transport: asyncio.Transport | None = None
        self.parser = EnvironmentParser()
        self.replies: ReplyParser | None = None
        self.request: AgiRequest | None = None
        self.commands: list[tuple[str, bytes]] = []
        self.sent = 0
        self.early = b""
        self.task: asyncio.Task[None] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.done: asyncio.Future[None] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.started = 0.0
        self.deadline = 0.0

    # --- asyncio.Protocol ----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        server = self.server
        if len(server._sessions) >= server.max_sessions:
            self.phase = _DONE
            server._end(Outcome.REJECTED)
            log.warning(
                "FastAGI: %d sessions running, refusing %s", len(server._sessions), self.peer
            )
            self.transport.abort()
            return
        loop = self.loop = asyncio.get_running_loop()
        self.started = loop.time()
        self.deadline = self.started + server.session_timeout
        first = min(self.started + server.env_timeout, self.deadline)
        self.timer = loop.call_at(first, self._timed_out)
        self.done = loop.create_future()
        server._sessions.add(self.done)
        server._open.add(self)
        server.stats.active += 1

    def data_received(self, data: bytes) -> None:
        try:
            if self.phase == _REPLIES:
                self._on_replies(data)
            elif self.phase == _ENV:
                self._on_environment(data)
            elif self.phase == _ROUTING:
                self.early += data  # a HANGUP may come while we decide
                if len(self.early) > MAX_EARLY:
                    raise AgiProtocolError("talked over the routing")
        except AgiProtocolError as exc:
            self.finish(Outcome.PROTOCOL, f"broke the protocol ({exc}): closed")

    def eof_received(self) -> bool:
        return False  # close our side too; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        if self.phase != _DONE:
            detail = f"connection error ({exc})" if exc else "disconnected mid-session"
            self.finish(Outcome.DISCONNECTED, detail)

    # --- the conversation ----------------------------------------------------------------
    def _on_environment(self, data: bytes) -> None:
        request = self.parser.feed(data)
        if request is None:
            return
        self.request = request
        assert self.loop is not None
        # The environment's timer stays: when it fires later, it moves to the session's
        # deadline (a session usually ends long before; no re-arming per session).
        if request.script != ROUTE_PATH:
            self.finish(
                Outcome.UNKNOWN_SCRIPT, f"asked for unknown script {request.script[:80]!r}: closed"
            )
            return
        if request.oversized:
            log.warning(
                "FastAGI: %s sent over-long %s: cut",
                self.peer,
                ", ".join(sorted(request.oversized)),
            )
        self.early = self.parser.rest
        self.phase = _ROUTING
        task = self.loop.create_task(self._route(request))
        self.task = task
        self.server._tasks.add(task)
        task.add_done_callback(self.server._task_done)

    async def _route(self, request: AgiRequest) -> None:
        raw_caller = request.get("agi_callerid")  # an enormous one is cut, still garbage
        decision = await self.server.router.route(
            raw_caller, did_of(request), uniqueid=request.uniqueid, pbx=request.pbx
        )
        if self.phase != _ROUTING:
            return  # the caller went away (or the deadline passed) meanwhile
        log.debug(
            "FastAGI: %s %s → %s (%s)",
            request.uniqueid,
            raw_caller,
            decision.agent or decision.queue,
            decision.reason,
        )
        commands = []
        for name, value in route_variables(decision):
            try:
                commands.append((name, _encoded(name, value)))
            except AgiValueError as exc:
                log.error("FastAGI: %s: %s not sent: %s", request.uniqueid, name, exc)
        self.commands = commands
        self.replies = ReplyParser()
        self.phase = _REPLIES
        self._send_next()
        if self.early and self.phase == _REPLIES:
            early, self.early = self.early, b""
            try:
                self._on_replies(early)
            except AgiProtocolError as exc:
                self.finish(Outcome.PROTOCOL, f"broke the protocol ({exc}): closed")

    def _send_next(self) -> None:
        if self.sent >= len(self.commands):
            self.finish(Outcome.ROUTED)
            return
        assert self.transport is not None
        self.transport.write(self.commands[self.sent][1])
        self.sent += 1

    def _on_replies(self, data: bytes) -> None:
        assert self.replies is not None
        for reply in self.replies.feed(data):
            if self.phase != _REPLIES:
                return
            if reply is HANGUP:
                uniqueid = self.request.uniqueid if self.request else None
                log.info("FastAGI: %s caller hung up while routing", uniqueid)
                self.finish(Outcome.HANGUP)
                return
            if not reply.ok:
                log.warning(
                    "FastAGI: %s SET VARIABLE %s answered %r",
                    self.request.uniqueid if self.request else None,
                    self.commands[self.sent - 1][0],
                    reply.text[:120],
                )
            self._send_next()

    def _timed_out(self) -> None:
        self.timer = None
        assert self.loop is not None
        if self.phase != _ENV and self.loop.time() < self.deadline:
            self.timer = self.loop.call_at(self.deadline, self._timed_out)
            return
        if self.phase == _ENV:
            detail = f"sent no complete environment in {self.server.env_timeout:.1f} s: closed"
        else:
            detail = f"did not finish within {self.server.session_timeout:.1f} s: closed"
        self.finish(Outcome.SLOW, detail)

    def finish(self, outcome: str, problem: str | None = None) -> None:
        """End the session once: count it, log a problem, close the connection."""
        if self.phase == _DONE:
            return
        self.phase = _DONE
        server = self.server
        if problem is not None:
            log.warning("FastAGI: %s %s", self.peer, problem)
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        task = self.task
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()
        server.stats.active -= 1
        server._end(outcome)
        server._open.discard(self)
        if self.transport is not None:
            self.transport.close()
        if self.done is not None:
            server._sessions.discard(self.done)
            self.done.set_result(None)

    @property
    def peer(self) -> str:
        peer: Any = self.transport.get_extra_info("peername") if self.transport else None
        if isinstance(peer, tuple) and len(peer) >= 2:
            return f"{peer[0]}:{peer[1]}"
        return str(peer)
