"""The FastAGI server: Asterisk asks `agi://HOST:4573/route` where a call goes.

One asyncio task per connection, all tracked; each session reads the AGI environment,
asks the :class:`~telephony.router.CallRouter` for a decision and sets the channel
variables of Trubka's contract, one ``SET VARIABLE`` at a time, in this order (the
reducer reads ROUTE_BY and ROUTE_REASON when the ROUTE_AGENT VarSet arrives, so
ROUTE_AGENT comes last)::

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

from prometheus_client import Counter as PromCounter

from routing.decision import Decision
from telephony.agi import (
    HANGUP,
    AgiProtocolError,
    AgiReply,
    AgiRequest,
    EnvironmentParser,
    ReplyParser,
    clean_text,
    display_name,
    set_variable,
)
from telephony.router import CallRouter

log = logging.getLogger(__name__)

ROUTE_PATH = "route"
READ_CHUNK = 16 * 1024
REASON_LIMIT = 200

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
        ("ROUTE_REASON", clean_text(decision.reason, REASON_LIMIT)),
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


class _Closed(Exception):
    """The peer closed the connection."""


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
        self._sessions: set[asyncio.Task[None]] = set()

    @property
    def bound_port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise RuntimeError("the FastAGI server is not listening")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._accept, self.host, self.port, limit=READ_CHUNK
        )
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
        """Stop accepting, let running sessions finish for `grace` seconds, cancel the rest."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        sessions = list(self._sessions)
        if sessions:
            _, pending = await asyncio.wait(sessions, timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=grace)
        if server is not None:
            await server.wait_closed()

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._sessions) >= self.max_sessions:
            self._end(Outcome.REJECTED)
            log.warning(
                "FastAGI: %d sessions running, refusing %s", len(self._sessions), _peer(writer)
            )
            writer.transport.abort()
            return
        task = asyncio.get_running_loop().create_task(self._session(reader, writer))
        self._sessions.add(task)
        task.add_done_callback(self._session_done)

    def _session_done(self, task: asyncio.Task[None]) -> None:
        self._sessions.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("FastAGI: session failed", exc_info=task.exception())

    def _end(self, outcome: str) -> None:
        self.stats.outcomes[outcome] += 1
        self._outcome_counters[outcome].inc()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.stats.active += 1
        outcome = Outcome.DISCONNECTED
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            # One timer: the environment's deadline first, then the session's.
            async with asyncio.timeout(self.env_timeout) as deadline:
                outcome = await self._converse(
                    reader, writer, deadline, started + self.session_timeout
                )
        except TimeoutError:
            outcome = Outcome.SLOW
            if loop.time() - started < self.env_timeout + 0.01:
                log.warning(
                    "FastAGI: %s sent no complete environment in %.1f s: closed",
                    _peer(writer),
                    self.env_timeout,
                )
            else:
                log.warning(
                    "FastAGI: %s did not finish within %.1f s: closed",
                    _peer(writer),
                    self.session_timeout,
                )
        except _Closed:
            outcome = Outcome.DISCONNECTED
            log.warning("FastAGI: %s disconnected mid-session", _peer(writer))
        except AgiProtocolError as exc:
            outcome = Outcome.PROTOCOL
            log.warning("FastAGI: %s broke the protocol (%s): closed", _peer(writer), exc)
        except OSError as exc:
            outcome = Outcome.DISCONNECTED
            log.warning("FastAGI: %s connection error (%s)", _peer(writer), exc)
        finally:
            self.stats.active -= 1
            self._end(outcome)
            writer.close()

    async def _converse(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        deadline: asyncio.Timeout,
        session_deadline: float,
    ) -> str:
        parser = EnvironmentParser()
        request = None
        while request is None:
            data = await reader.read(READ_CHUNK)
            if not data:
                raise _Closed
            request = parser.feed(data)
        deadline.reschedule(session_deadline)
        if request.script != ROUTE_PATH:
            log.warning(
                "FastAGI: %s asked for unknown script %r: closed",
                _peer(writer),
                request.script[:80],
            )
            return Outcome.UNKNOWN_SCRIPT
        if request.oversized:
            log.warning(
                "FastAGI: %s sent over-long %s: cut",
                _peer(writer),
                ", ".join(sorted(request.oversized)),
            )
        raw_caller = request.get("agi_callerid")  # an enormous one is cut, still garbage
        decision = await self.router.route(raw_caller, did_of(request), uniqueid=request.uniqueid)
        log.debug(
            "FastAGI: %s %s → %s (%s)",
            request.uniqueid,
            raw_caller,
            decision.agent or decision.queue,
            decision.reason,
        )
        replies = ReplyParser()
        pending: list[AgiReply] = []
        if parser.rest:
            pending.extend(replies.feed(parser.rest))
        for name, value in route_variables(decision):
            writer.write(set_variable(name, value))
            reply = await self._reply(reader, replies, pending)
            if reply is HANGUP:
                log.info("FastAGI: %s caller hung up while routing", request.uniqueid)
                return Outcome.HANGUP
            if not reply.ok:
                log.warning(
                    "FastAGI: %s SET VARIABLE %s answered %r",
                    request.uniqueid,
                    name,
                    reply.text[:120],
                )
        return Outcome.ROUTED

    async def _reply(
        self, reader: asyncio.StreamReader, parser: ReplyParser, pending: list[AgiReply]
    ) -> AgiReply:
        # No timeout per reply: the session's deadline covers a peer that stops answering.
        while not pending:
            data = await reader.read(READ_CHUNK)
            if not data:
                raise _Closed
            pending.extend(parser.feed(data))
        return pending.pop(0)


def _peer(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer)
