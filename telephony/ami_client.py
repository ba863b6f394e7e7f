"""The live AMI client: one supervised connection to Asterisk, feeding the pipeline.

    AmiClient.start() runs the supervisor:

        connect (timeout) ─▶ banner ─▶ Login ─▶ resync ─▶ connected: keep-alive Ping
              ▲                                                    │ lost / no Pong /
              └──── capped exponential backoff with jitter ◀───────┘ Shutdown / error

The connection is panoramisk's :class:`~panoramisk.ami_protocol.AMIProtocol` with its
byte handling replaced: every read goes to our :class:`~telephony.codec.AmiDecoder`
(whole frames only, cp1251 fallback); replies to our actions are matched by ActionID
here and handed to the waiting action, everything else goes to the
:class:`~telephony.pipeline.EventPipeline`, and each batch of domain events is published
without waiting on anyone. On every (re)connect the live picture is rebuilt from
`CoreShowChannels`, `QueueStatus` and `DeviceStateList` (a
:class:`~telephony.reducer.Resync`, applied through the pipeline); events that arrive
meanwhile are held and applied after it.

Errors (see :mod:`telephony.errors`): an action raises :class:`NotConnected` when there
is no logged-in connection, :class:`ActionFailed` with the PBX's message on
`Response: Error`, :class:`ActionTimeout` when no (complete) answer comes in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from panoramisk.ami_protocol import AMIProtocol

from kernel.task_set import TaskSet
from telephony import events as e
from telephony.ami_types import AmiConfig, AmiStatus, LinkState, ListResult
from telephony.codec import (
    EncodeError,
    Frame,
    FrameError,
    FrameKind,
    check_frame,
    encode_action,
    shorten,
)
from telephony.domain import DomainEvent
from telephony.errors import (
    ActionFailed,
    ActionTimeout,
    AmiError,
    LoginFailed,
    MalformedEvent,
    NotConnected,
)
from telephony.pipeline import EventPipeline
from telephony.reducer import Resync

__all__ = ["AmiClient", "AmiConfig", "AmiStatus", "LinkState", "ListResult", "Publish"]

log = logging.getLogger(__name__)

Publish = Callable[[Sequence[DomainEvent]], None]
Headers = Mapping[str, object] | Iterable[tuple[str, object]]


class _Protocol(AMIProtocol):  # type: ignore[misc]
    """panoramisk's protocol as the transport holder; the bytes go to Trubka's decoder.

    panoramisk decodes each TCP read with 'ignore' before framing (a split UTF-8 letter
    is lost); `data_received` is replaced so that never happens here.
    """

    def __init__(self, link: _Link) -> None:
        super().__init__()
        self.link = link

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.link.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.link.client._on_data(self.link, data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.link.client._on_lost(self.link, exc)


@dataclass(eq=False)
class _Link:
    """One TCP connection and what belongs to it."""

    client: AmiClient
    number: int
    transport: asyncio.Transport | None = None
    banner: asyncio.Future[str] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    lost: asyncio.Event = field(default_factory=asyncio.Event)
    reason: str | None = None

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


@dataclass(eq=False)
class _Pending:
    action: str
    future: asyncio.Future[Any]
    is_list: bool = False
    final_event: str | None = None  # resolve on this event (OriginateResponse), not the response
    response: Frame | None = None
    items: list[Frame] = field(default_factory=list)


class AmiClient:
    """A supervised AMI connection with typed actions; see the module docstring."""

    def __init__(
        self,
        config: AmiConfig,
        pipeline: EventPipeline,
        publish: Publish | None = None,
        *,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.pipeline = pipeline
        self._publish = publish
        self.clock = clock
        self.rng = rng or random.Random()
        self.status = AmiStatus(host=config.where)
        self._link: _Link | None = None
        self._link_seq = 0
        self._action_seq = 0
        self._pending: dict[str, _Pending] = {}
        self._held: list[tuple[list[Frame], float]] | None = None
        self._connected = asyncio.Event()
        self._stopping = False
        self._tasks = TaskSet("ami")
        self._login_error_logged = False
        self._outage_logged = False
        self._lost_at: float | None = None
        # Called after every (re)connect and resync (e.g. the backfill from Asterisk's books).
        self.on_connected: list[Callable[[], None]] = []

    # --- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        self._stopping = False
        self._tasks.start(self._supervise(), name="ami-supervisor")

    async def stop(self, timeout: float = 2.0) -> None:
        """Log off politely when connected, close the socket, stop the supervisor."""
        self._stopping = True
        link = self._link
        if link is not None and self.status.state is LinkState.CONNECTED:
            with contextlib.suppress(AmiError, TimeoutError):
                await self._send(link, "Logoff", (), timeout=min(timeout, 1.0))
        if link is not None:
            link.close()
        await self._tasks.stop(grace=timeout)
        if link is not None and link.transport is not None:
            # Closing completes on a later turn of the loop: wait for it.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await link.lost.wait()
        self._set_state(LinkState.STOPPED)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def wait_connected(self, timeout: float | None = None) -> None:
        async with asyncio.timeout(timeout):
            await self._connected.wait()

    def status_json(self) -> dict[str, Any]:
        s = self.status
        decoder = self.pipeline.decoder.stats
        reducer = self.pipeline.state.stats
        return {
            "state": s.state.value,
            "since": s.since,
            "host": s.host,
            "connects": s.connects,
            "reconnects": s.reconnects,
            "attempts": s.attempts,
            "last_error": s.last_error,
            "last_error_at": s.last_error_at,
            "banner": s.banner,
            "asterisk_version": s.asterisk_version,
            "connected_at": s.connected_at,
            "next_attempt_at": s.next_attempt_at,
            "last_backoff": s.last_backoff,
            "last_ping_rtt": s.last_ping_rtt,
            "ping_failures": s.ping_failures,
            "events_published": s.events_published,
            "calls_closed_by_resync": s.calls_closed_by_resync,
            "bad_input": {
                "malformed_frames": decoder.malformed,
                "oversized_frames": decoder.oversized,
                "fallback_decoded": decoder.fallback_decoded,
                "truncated_at_eof": decoder.truncated_at_eof,
                "malformed_events": self.pipeline.stats.malformed_events,
                "unknown_channel": reducer.unknown_channel,
                "internal_errors": s.internal_errors,
            },
            "bytes_in": decoder.bytes_in,
            "frames": decoder.frames,
        }

    # --- actions -----------------------------------------------------------------------
    async def send_action(
        self, action: str, headers: Headers = (), *, timeout: float | None = None
    ) -> Frame:
        """Send an action and return its `Response: Success` frame."""
        link = self._ready()
        result: Frame = await self._send(link, action, headers, timeout=timeout)
        return result

    async def send_list(
        self, action: str, headers: Headers = (), *, timeout: float | None = None
    ) -> ListResult:
        """Send a list action; return the response and the items up to `…Complete`."""
        link = self._ready()
        result: ListResult = await self._send(link, action, headers, timeout=timeout, is_list=True)
        return result

    async def send_until_event(
        self, action: str, headers: Headers, final_event: str, *, timeout: float | None = None
    ) -> tuple[Frame, Frame]:
        """Send an action answered by a response and later one event (Async Originate)."""
        link = self._ready()
        result: tuple[Frame, Frame] = await self._send(
            link, action, headers, timeout=timeout, final_event=final_event
        )
        return result

    def _ready(self) -> _Link:
        link = self._link
        if link is None or not self._connected.is_set():
            raise NotConnected(
                f"not logged in to the PBX at {self.config.where} ({self.status.state.value})"
            )
        return link

    async def _send(
        self,
        link: _Link,
        action: str,
        headers: Headers,
        *,
        timeout: float | None,
        is_list: bool = False,
        final_event: str | None = None,
    ) -> Any:
        self._action_seq += 1
        action_id = f"trubka-{link.number}-{self._action_seq}"
        items = list(headers.items() if isinstance(headers, Mapping) else headers)
        data = encode_action(
            action, [("ActionID", action_id), *items]
        )  # EncodeError: CR/LF refused
        transport = link.transport
        if transport is None or transport.is_closing():
            raise NotConnected(f"the connection to {self.config.where} is closed")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[action_id] = _Pending(action, future, is_list, final_event)
        transport.write(data)
        wait = timeout if timeout is not None else self.config.action_timeout
        try:
            async with asyncio.timeout(wait):
                return await future
        except TimeoutError:
            raise ActionTimeout(
                f"{action}: no answer from {self.config.where} within {wait:.1f}s"
            ) from None
        finally:
            self._pending.pop(action_id, None)

    def _take(self, frame: Frame, at: float) -> list[DomainEvent]:
        """One frame read: a reply to one of our actions, or something for the pipeline."""
        maybe_reply = frame.kind is FrameKind.RESPONSE or (
            frame.kind is not FrameKind.BANNER and b"ActionID" in frame.raw
        )
        if maybe_reply and (
            not check_frame(frame, self.pipeline.decoder) or self._route_reply(frame)
        ):
            return []
        if frame.kind is FrameKind.BANNER:
            return self.pipeline.feed_frames([frame], at)
        return self.pipeline.apply_frame(frame, at)  # no list per frame (126 frames a ring)

    def _route_reply(self, frame: Frame) -> bool:
        """Take a reply to one of our actions (True); leave anything else to the pipeline."""
        action_id = frame.action_id
        pending = self._pending.get(action_id) if action_id is not None else None
        if pending is None:
            if frame.kind is FrameKind.RESPONSE:
                log.debug("AMI: a reply nobody waits for (timed out?): %s", shorten(frame.raw))
                return True
            # Another session's ActionID on a broadcast event, or a list item that came
            # after its action timed out: ours are dropped, others go to the reducer.
            return action_id is not None and action_id.startswith("trubka-")
        future = pending.future
        if frame.kind is FrameKind.RESPONSE:
            pending.response = frame
            status = (frame.get("response") or "").lower()
            if status == "error":
                if not future.done():
                    future.set_exception(
                        ActionFailed(
                            pending.action,
                            frame.get("message") or "Response: Error without a message",
                        )
                    )
            elif pending.is_list:
                if (frame.get("eventlist") or "").lower() != "start" and not future.done():
                    future.set_result(ListResult(frame, ()))
            elif pending.final_event is None and not future.done():
                future.set_result(frame)
            return True
        if pending.is_list:
            if (frame.get("eventlist") or "").lower() == "complete":
                if not future.done():
                    assert pending.response is not None
                    future.set_result(ListResult(pending.response, tuple(pending.items)))
            else:
                pending.items.append(frame)
            return True
        if pending.final_event is not None and frame.name == pending.final_event:
            if not future.done():
                if pending.response is not None:
                    future.set_result((pending.response, frame))
                else:
                    future.set_exception(
                        ActionFailed(pending.action, f"{frame.name} before the response")
                    )
            return True
        return False

    # --- bytes in ----------------------------------------------------------------------
    def _on_data(self, link: _Link, data: bytes) -> None:
        if link is not self._link:
            return
        at = self.clock()
        pipeline = self.pipeline
        frames = pipeline.decoder.feed(data)
        if not frames:
            return
        if not link.banner.done():
            first = frames[0]
            if first.kind is FrameKind.BANNER:
                link.banner.set_result(first.name)
            else:
                link.banner.set_exception(
                    AmiError(f"{self.config.where} did not greet as Asterisk AMI")
                )
        if self._held is not None:
            live = []
            held = []
            for frame in frames:
                if frame.kind is not FrameKind.EVENT or b"ActionID: trubka-" in frame.raw:
                    live.append(frame)
                else:
                    held.append(frame)
            if held:
                self._held.append((held, at))
                self.status.frames_held += len(held)
            frames = live
        events: list[DomainEvent] = []
        for frame in frames:
            # One frame at a time: a bug triggered by one frame never loses the others.
            try:
                events.extend(self._take(frame, at))
            except Exception:
                self.status.internal_errors += 1
                log.exception("AMI: internal error on %s frame: %s", frame.name, shorten(frame.raw))
            if frame.name == "Shutdown" and frame.kind is FrameKind.EVENT:
                link.reason = "the PBX is shutting down"
                log.warning(
                    "AMI: %s announced Shutdown (%s); reconnecting",
                    self.config.where,
                    frame.get("shutdown"),
                )
                link.close()
        if events:
            self._emit(events)

    def _emit(self, events: list[DomainEvent]) -> None:
        self.status.events_published += len(events)
        self.status.last_event_at = time.time()
        if self._publish is not None:
            try:
                self._publish(events)
            except Exception:
                self.status.internal_errors += 1
                log.exception("AMI: publishing %d event(s) failed", len(events))

    def _on_lost(self, link: _Link, exc: Exception | None) -> None:
        if link.lost.is_set():
            return
        link.lost.set()
        if link.reason is None:
            link.reason = f"connection lost: {exc}" if exc else "connection closed by the PBX"
        if not link.banner.done():
            link.banner.set_exception(AmiError(link.reason))
        if link is self._link:
            self.pipeline.decoder.eof()
            for pending in list(self._pending.values()):
                if not pending.future.done():
                    pending.future.set_exception(NotConnected(f"{pending.action}: {link.reason}"))

    # --- the supervisor ----------------------------------------------------------------
    async def _supervise(self) -> None:
        attempt = 0
        while not self._stopping:
            self.status.attempts += 1
            reached = False
            link: _Link | None = None
            try:
                link = await self._connect()
                await self._login(link)
                await self._resync(link)
                reached = True
                attempt = 0
                await self._serve(link)
                self._note_error(link.reason or "connection lost", link_was_up=True)
            except LoginFailed as exc:
                self._note_error(str(exc), login=True)
            except (OSError, TimeoutError, AmiError) as exc:
                reason = (link.reason if link is not None else None) or _describe(exc)
                self._note_error(reason)
            finally:
                self._connected.clear()
                self._held = None
                if link is not None:
                    link.close()
                    if reached or self._lost_at is None:
                        self._lost_at = self.clock()
                self._link = None
            if self._stopping:
                break
            attempt += 1
            delay = self.backoff_delay(attempt)
            self.status.last_backoff = delay
            self.status.backoffs.append(delay)
            self.status.next_attempt_at = self.clock() + delay
            self._set_state(LinkState.WAITING)
            await asyncio.sleep(delay)
            self.status.next_attempt_at = None

    def backoff_delay(self, attempt: int) -> float:
        """Capped exponential backoff with jitter: attempt 1 → about `backoff_initial`."""
        c = self.config
        ceiling = min(c.backoff_max, c.backoff_initial * c.backoff_factor ** max(0, attempt - 1))
        return ceiling * (1.0 - c.jitter * self.rng.random())

    def _note_error(self, reason: str, *, login: bool = False, link_was_up: bool = False) -> None:
        self.status.last_error = reason
        self.status.last_error_at = self.clock()
        if self._stopping:
            return
        if login:
            if not self._login_error_logged:
                self._login_error_logged = True
                log.error(
                    "AMI: %s; retrying with backoff up to %.0fs "
                    "(check TRUBKA_AMI_USER and TRUBKA_AMI_SECRET)",
                    reason,
                    self.config.backoff_max,
                )
            else:
                log.debug("AMI: %s (still)", reason)
            return
        if link_was_up:
            log.warning(
                "AMI: lost the connection to %s: %s; reconnecting", self.config.where, reason
            )
            self._outage_logged = True
        elif not self._outage_logged:
            self._outage_logged = True
            log.warning(
                "AMI: cannot connect to %s: %s; retrying with backoff", self.config.where, reason
            )
        else:
            log.debug("AMI: still cannot connect to %s: %s", self.config.where, reason)

    async def _connect(self) -> _Link:
        self._set_state(LinkState.CONNECTING)
        self._link_seq += 1
        link = _Link(self, self._link_seq)
        self._link = link
        self.pipeline.decoder.reset()
        self.pipeline.banner = None
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.config.connect_timeout):
                await loop.create_connection(
                    lambda: _Protocol(link), self.config.host, self.config.port
                )
                banner = await link.banner
        except BaseException:
            link.close()  # no banner in time, or stopping: never leave the socket open
            raise
        self.status.banner = banner
        return link

    async def _login(self, link: _Link) -> None:
        self._set_state(LinkState.LOGGING_IN)
        c = self.config
        who = f"as {c.username!r} on {c.where}"
        headers: list[tuple[str, object]] = [("Username", c.username)]
        try:
            if c.md5_login:
                challenge = await self._send(
                    link, "Challenge", [("AuthType", "MD5")], timeout=c.action_timeout
                )
                key = hashlib.md5(
                    ((challenge.get("challenge") or "") + c.secret).encode()
                ).hexdigest()
                headers += [("AuthType", "MD5"), ("Key", key)]
            else:
                headers.append(("Secret", c.secret))
            await self._send(link, "Login", headers, timeout=c.action_timeout)
        except ActionFailed as exc:
            raise LoginFailed(f"login {who} failed: {exc.message}") from None
        except EncodeError as exc:
            raise LoginFailed(f"login {who} impossible: {exc}") from None
        except NotConnected as exc:
            raise AmiError(f"login {who}: {exc}") from None
        self._login_error_logged = False
        try:
            settings = await self._send(link, "CoreSettings", (), timeout=c.action_timeout)
            self.status.asterisk_version = settings.get("asteriskversion")
        except ActionFailed:
            self.status.asterisk_version = None

    async def _resync(self, link: _Link) -> None:
        """Rebuild the live picture; hold live events until it is applied."""
        self._set_state(LinkState.RESYNCING)
        self._held = []
        timeout = self.config.resync_timeout
        channels = await self._send(link, "CoreShowChannels", (), timeout=timeout, is_list=True)
        queues = await self._send(link, "QueueStatus", (), timeout=timeout, is_list=True)
        try:
            devices = await self._send(link, "DeviceStateList", (), timeout=timeout, is_list=True)
        except ActionFailed:
            devices = None  # older Asterisk: no device state list
        resync = Resync(
            channels=tuple(_typed(channels.items, e.CoreShowChannel)),
            members=tuple(m.member for m in _typed(queues.items, e.QueueMemberChanged)),
            entries=tuple(_typed(queues.items, e.QueueEntry)),
            params=tuple(_typed(queues.items, e.QueueParams)),
            devices=tuple(_typed(devices.items, e.DeviceStateChange)) if devices else (),
            since=self._lost_at,
        )
        at = self.clock()
        before = self.pipeline.state.stats.closed_by_resync
        events = self.pipeline.apply(resync, at)
        self.status.calls_closed_by_resync += self.pipeline.state.stats.closed_by_resync - before
        held, self._held = self._held, None
        for frames, when in held:
            for frame in frames:
                try:
                    events.extend(self._take(frame, when))
                except Exception:
                    self.status.internal_errors += 1
                    log.exception(
                        "AMI: internal error on %s frame: %s", frame.name, shorten(frame.raw)
                    )
        if events:
            self._emit(events)
        self._lost_at = None
        self._outage_logged = False
        self.status.connects += 1
        if self.status.connects > 1:
            self.status.reconnects += 1
        self.status.connected_at = self.clock()
        self._set_state(LinkState.CONNECTED)
        self._connected.set()
        for listener in self.on_connected:
            listener()
        log.info(
            "AMI: connected to %s (%s) as %r; %d channel(s), %d queue member(s) resynchronised",
            self.config.where,
            self.status.asterisk_version or self.status.banner,
            self.config.username,
            len(resync.channels),
            len(resync.members),
        )

    async def _serve(self, link: _Link) -> None:
        """Keep-alive: a Ping every interval; no Pong in time means the link is dead."""
        interval = self.config.ping_interval
        while not link.lost.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await link.lost.wait()
            if link.lost.is_set():
                return
            started = time.monotonic()
            try:
                await self._send(link, "Ping", (), timeout=interval * 0.5)
            except ActionTimeout:
                self.status.ping_failures += 1
                link.reason = f"no answer to Ping within {interval * 0.5:.1f}s"
                link.close()
                return
            except NotConnected:
                return
            self.status.last_ping_rtt = time.monotonic() - started

    def _set_state(self, state: LinkState) -> None:
        if self.status.state is not state:
            self.status.state = state
            self.status.since = self.clock()


def _typed(frames: Iterable[Frame], kind: type[Any]) -> list[Any]:
    """The list items of one type; a malformed item is logged and skipped."""
    out = []
    for frame in frames:
        try:
            event = e.parse_event(frame)
        except (MalformedEvent, FrameError) as exc:
            log.warning(
                "AMI: skipping a bad %s list item (%s): %s", frame.name, exc, shorten(frame.raw)
            )
            continue
        if isinstance(event, kind):
            out.append(event)
    return out


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return str(exc) or type(exc).__name__
