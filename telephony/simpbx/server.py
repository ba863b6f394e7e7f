"""The simulated PBX's AMI server: real TCP, answering like Asterisk 22.10.1.

Banner first, then actions in, responses and events out. Before Login every action but
Login/Challenge/Logoff gets `Permission denied`; a wrong secret is answered
`Authentication failed` about a second later and the socket is closed; the lists
(CoreShowChannels, QueueStatus, DeviceStateList …) are `EventList: start`, the items with
the ActionID, and `<Name>Complete`. Events reach every logged-in session that did not
turn them off. All texts follow the recorded traces.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import cast

from telephony.simpbx import wire as w
from telephony.simpbx.admin_actions import AdminActions
from telephony.simpbx.call_actions import CallActions
from telephony.simpbx.calls import Calls
from telephony.simpbx.config import BANNER, SimConfig
from telephony.simpbx.engine import CallEngine
from telephony.simpbx.info_actions import InfoActions
from telephony.simpbx.originate import Originator
from telephony.simpbx.session import Action, Session, parse_action
from telephony.simpbx.wire import Header

log = logging.getLogger(__name__)

MAX_ACTION = 64 * 1024

Handler = Callable[[Session, Action], Awaitable[None] | None]


class AmiServer(InfoActions, CallActions, AdminActions):
    def __init__(
        self, config: SimConfig, engine: CallEngine, calls: Calls, originator: Originator
    ) -> None:
        self.config = config
        self.engine = engine
        self.calls = calls
        self.originator = originator
        self.sessions: set[Session] = set()
        # every action received after Login, oldest first (tests assert what reached the PBX)
        self.received: deque[Action] = deque(maxlen=10_000)
        self.stalled = False
        self.port = config.port
        self._server: asyncio.base_events.Server | None = None
        self._session_tasks: set[asyncio.Task[None]] = set()
        self._transports: set[asyncio.Transport] = set()
        self._session_seq = 0
        self.handlers: dict[str, Handler] = {
            "login": self._login,
            "challenge": self._challenge,
            "logoff": self._logoff,
            "ping": self._ping,
            "events": self._events,
            "coresettings": self._core_settings,
            "corestatus": self._core_status,
            "listcommands": self._list_commands,
            "command": self._command,
            "coreshowchannels": self._core_show_channels,
            "status": self._status,
            "queuestatus": self._queue_status,
            "queuesummary": self._queue_summary,
            "devicestatelist": self._device_state_list,
            "extensionstatelist": self._extension_state_list,
            "originate": self._originate,
            "queuepause": self._queue_pause,
            "queueadd": self._queue_add,
            "queueremove": self._queue_remove,
            "queuepenalty": self._queue_penalty,
            "pjsipshowendpoints": self._pjsip_show_endpoints,
            "getconfig": self._get_config,
            "hangup": self._hangup,
            "setvar": self._setvar,
            "getvar": self._getvar,
            "redirect": self._redirect,
            "blindtransfer": self._blind_transfer_action,
            "bridge": self._bridge,
            "stopmixmonitor": self._stop_mixmonitor,
        }

    # --- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _SessionProtocol(self), self.config.host, self.port, reuse_address=True
        )
        sockets = self._server.sockets
        self.port = int(sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Stop listening and drop every connection at once (no Goodbye: a crash)."""
        if self._server is not None:
            self._server.close()
            self._server = None
        # Connections accepted just before the close are made on the next turn: let them
        # be, then cut every socket; each session then ends on its own (cancelling them
        # would upset asyncio's stream callback).
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 2.0
        await asyncio.sleep(0)
        while (self._transports or self._session_tasks) and loop.time() < deadline:
            for transport in list(self._transports):
                transport.abort()
            if self._session_tasks:
                await asyncio.wait(list(self._session_tasks), timeout=deadline - loop.time())
            await asyncio.sleep(0.001)

    # --- output ------------------------------------------------------------------------
    def broadcast(self, data: bytes, *, skip: Session | None = None) -> None:
        if self.stalled:
            return
        for session in list(self.sessions):
            if session is not skip and session.logged_in and session.events:
                session.write(data)

    def reply(self, session: Session, data: bytes) -> None:
        if self.stalled:
            return
        # Events already decided go out before this answer (the PBX's own order).
        self.engine.flush()
        session.write(data)

    # --- a connection ------------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._session_tasks.add(task)
        peer = writer.get_extra_info("peername") or ("?", 0)
        sock = writer.get_extra_info("sockname") or ("?", 0)
        self._session_seq += 1
        session = Session(
            writer,
            f"0x{0x7F04B4000000 + self._session_seq * 0x10:x}",
            f"IPV4/TCP/{peer[0]}/{peer[1]}",
            f"IPV4/TCP/{sock[0]}/{sock[1]}",
        )
        self.sessions.add(session)
        try:
            session.write(BANNER)
            buffer = bytearray()
            while not session.closed:
                data = await reader.read(65536)
                if not data:
                    break
                buffer += data.replace(b"\r\n", b"\n")
                while True:
                    end = buffer.find(b"\n\n")
                    if end < 0:
                        break
                    raw = bytes(buffer[:end])
                    del buffer[: end + 2]
                    if raw.strip():
                        await self._dispatch(session, parse_action(raw))
                    if session.closed:
                        break
                if len(buffer) > MAX_ACTION:
                    log.warning(
                        "simulated PBX: %s sent an action over %d bytes; closing",
                        session.remote,
                        MAX_ACTION,
                    )
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            # Close politely (unsent bytes still go out), but not forever: a peer that
            # stopped reading gets the socket cut. Until then `stop` can still cut it.
            session.close()
            try:
                async with asyncio.timeout(1.0):
                    await writer.wait_closed()
            except (TimeoutError, ConnectionError, OSError):
                session.abort()
            self.sessions.discard(session)
            self._session_tasks.discard(task)

    async def _dispatch(self, session: Session, action: Action) -> None:
        if self.stalled:
            return
        name = action.name.lower()
        aid = action.action_id
        if not name:
            self.reply(session, w.response(aid, "Error", ("Message", "Missing action in request")))
            return
        if session.logged_in and name not in ("login", "challenge"):
            self.received.append(action)
        if not session.logged_in and name not in ("login", "challenge", "logoff"):
            self.reply(session, w.response(aid, "Error", ("Message", "Permission denied")))
            self._security(session, "RequestNotAllowed", ("RequestType", f"Action: {action.name}"))
            return
        handler = self.handlers.get(name)
        if handler is None:
            self.reply(
                session,
                w.response(
                    aid,
                    "Error",
                    (
                        "Message",
                        f"Invalid/unknown command: {action.name}. "
                        "Use Action: ListCommands to show available commands.",
                    ),
                ),
            )
            self._security(
                session, "RequestBadFormat", ("RequestType", f"Action: {action.name}"), account=True
            )
            return
        result = handler(session, action)
        if result is not None:
            await result

    def _security(
        self, session: Session, event: str, *extra: Header, account: bool = False
    ) -> None:
        now = time.time()
        headers: list[Header] = [
            ("Event", event),
            ("Privilege", "security,all"),
            ("EventTV", w.event_tv(now)),
            ("Severity", "Error"),
            ("Service", "AMI"),
            ("EventVersion", "2" if event == "InvalidPassword" else "1"),
        ]
        if not account:
            headers.append(("AccountID", session.username))
        headers += [
            ("SessionID", session.session_id),
            ("LocalAddress", session.local),
            ("RemoteAddress", session.remote),
        ]
        headers += list(extra)
        headers.append(
            (
                "SessionTV",
                w.event_tv(session.started)
                if session.logged_in
                else "1970-01-01T00:00:00.000+0000",
            )
        )
        if account:
            headers.append(("AccountID", session.username))
        self.broadcast(w.frame(headers), skip=session)

    # --- login -------------------------------------------------------------------------
    async def _login(self, session: Session, action: Action) -> None:
        aid = action.action_id
        username = action.get("username")
        session.username = username
        if action.get("authtype").lower() == "md5":
            expected = hashlib.md5(
                (session.challenge or "").encode() + self.config.secret.encode()
            ).hexdigest()
            ok = session.challenge is not None and action.get("key").lower() == expected
        else:
            ok = action.get("secret") == self.config.secret
        if username != self.config.username:
            self._security(session, "InvalidAccountID")
            ok = False
        elif not ok:
            self._security(session, "InvalidPassword")
        if not ok:
            session.username = username
            await asyncio.sleep(self.config.timing.auth_fail_delay)
            self.reply(session, w.response(aid, "Error", ("Message", "Authentication failed")))
            session.close()
            return
        session.logged_in = True
        session.events = action.get("events", "on").lower() not in ("off", "no", "false")
        session.started = time.time()
        self.reply(session, w.response(aid, "Success", ("Message", "Authentication accepted")))
        if session.events:
            uptime = str(int(time.time() - self.engine.boot))
            session.write(
                w.frame(
                    [
                        ("Event", "FullyBooted"),
                        ("Privilege", "system,all"),
                        ("Uptime", uptime),
                        ("LastReload", uptime),
                        ("Status", "Fully Booted"),
                    ]
                )
            )
        now = time.time()
        self.broadcast(
            w.frame(
                [
                    ("Event", "SuccessfulAuth"),
                    ("Privilege", "security,all"),
                    ("EventTV", w.event_tv(now)),
                    ("Severity", "Informational"),
                    ("Service", "AMI"),
                    ("EventVersion", "1"),
                    ("AccountID", username),
                    ("SessionID", session.session_id),
                    ("LocalAddress", session.local),
                    ("RemoteAddress", session.remote),
                    ("UsingPassword", "0"),
                    ("SessionTV", w.event_tv(now)),
                ]
            )
        )

    def _challenge(self, session: Session, action: Action) -> None:
        if action.get("authtype").lower() != "md5":
            self.reply(
                session, w.response(action.action_id, "Error", ("Message", "Must specify AuthType"))
            )
            return
        session.challenge = str(self.engine.rng.randrange(100_000_000, 999_999_999))
        self.reply(
            session, w.response(action.action_id, "Success", ("Challenge", session.challenge))
        )

    def _logoff(self, session: Session, action: Action) -> None:
        self.reply(
            session,
            w.response(action.action_id, "Goodbye", ("Message", "Thanks for all the fish.")),
        )
        session.close()

    def _ping(self, session: Session, action: Action) -> None:
        self.reply(
            session,
            w.response(
                action.action_id, "Success", ("Ping", "Pong"), ("Timestamp", f"{time.time():.6f}")
            ),
        )

    def _events(self, session: Session, action: Action) -> None:
        mask = action.get("eventmask", "on").lower()
        session.events = mask not in ("off", "no", "false", "none")
        self.reply(
            session,
            w.response(action.action_id, "Success", ("Events", "On" if session.events else "Off")),
        )


class _SessionProtocol(asyncio.StreamReaderProtocol):
    """asyncio's stream protocol, with every live transport known to the server at once
    (a session task starts a turn later), so `stop` can cut them all."""

    def __init__(self, server: AmiServer) -> None:
        super().__init__(asyncio.StreamReader(limit=MAX_ACTION), server._serve)
        self._owner = server
        self._known: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        known = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses
        self._known = known
        self._owner._transports.add(known)
        super().connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._known is not None:
            self._owner._transports.discard(self._known)
        super().connection_lost(exc)
