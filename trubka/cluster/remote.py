"""PBX actions from any node: a request to the node that consumes AMI, and its answer.

A node that does not consume AMI (a web-only node, a standby) sends an action to the
node that does over the same bridge as the live messages (`trubka.cluster.bridge`):

* request `{"k": "q", "id": <correlation id>, "n": <asking node>, "to": <the node heard
  consuming AMI>, "op": <operation>, "a": <arguments>}` — the arguments name the acting
  user where the action has one (`actor`), so the audit log names them;
* answer `{"k": "a", "id": …, "to": <asking node>, "ok": true, "r": <result>}` or
  `{"k": "a", "id": …, "to": …, "ok": false, "e": <error>}`, or `{…, "ok": false,
  "gone": true}` from a node that no longer consumes AMI.

Only the node named runs a request, while it consumes AMI (`producing()`; the handlers
registered here: `trubka.cluster.anynode`). The error is carried as its class
(`module.Class`: a `kernel.errors.DomainError`, a `telephony.errors.AmiError` or a
`telephony.codec.EncodeError`) and its fields, and raised again on the asking node as the
same class, so the web maps it to the same HTTP status and message as a local action.

The node consuming AMI says so (`{"k": "p", "n": node}`) every few seconds and when a node
joins, and answers a node's question (`{"k": "p?"}`); a node that heard nobody for three
periods asks, and when nobody answers within a second fails the action as a node whose
AMI is not connected does; a request nobody answers within `timeout` (60 s: an
Originate waits for the phone to answer) fails the same way.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from kernel.errors import DomainError
from screenpop.hub import encode
from telephony.codec import EncodeError
from telephony.errors import ActionFailed, AmiError

log = logging.getLogger(__name__)

TIMEOUT = 60.0  # seconds an asking node waits for the answer (an Originate rings a phone)
PROBE = 1.0  # seconds an asking node waits to hear from the node consuming AMI
Handler = Callable[[dict[str, Any]], Awaitable[Any]]
Unavailable = Callable[[str], BaseException]
_PACKAGES = ("kernel.", "crm.", "supervisor.", "telephony.", "web.", "screenpop.", "trubka.")


def error_json(exc: BaseException) -> dict[str, Any]:
    """An error as the answer carries it (class and fields)."""
    cls = type(exc)
    body: dict[str, Any] = {"t": f"{cls.__module__}.{cls.__qualname__}"}
    if isinstance(exc, DomainError):
        body |= {"c": exc.code, "m": exc.message, "f": exc.field, "d": exc.details}
    elif isinstance(exc, ActionFailed):
        body |= {"args": [exc.action, exc.message]}
    else:
        body |= {"args": [str(exc)]}
    return body


def error_from(body: dict[str, Any]) -> BaseException | None:
    """The error an answer carries, as its own class (None: not one we raise again)."""
    path = str(body.get("t", ""))
    module_name, _, name = path.rpartition(".")
    if not module_name.startswith(_PACKAGES) or "." in name:
        return None
    try:
        cls = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError):
        return None
    if not isinstance(cls, type):
        return None
    if issubclass(cls, DomainError):
        error = cls.__new__(cls)
        DomainError.__init__(
            error, str(body["c"]), str(body["m"]), body.get("f"), **(body.get("d") or {})
        )
        return error
    if issubclass(cls, AmiError | EncodeError):
        args = [str(a) for a in body.get("args", [])]
        try:
            made: BaseException = cls(*args)
        except TypeError:
            return None
        return made
    return None


class RemoteActions:
    """Requests to the node consuming AMI, and the answers, over the bridge."""

    def __init__(
        self,
        node: str,
        send: Callable[[str], None],
        producing: Callable[[], bool],
        *,
        timeout: float = TIMEOUT,
        announce_every: float = 5.0,
    ) -> None:
        self.node = node
        self.send = send
        self.producing = producing
        self.timeout = timeout
        self.announce_every = announce_every
        self.handlers: dict[str, Handler] = {}
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._producer: tuple[str, float] | None = None  # (node, when heard)
        self._heard = asyncio.Event()
        self.probe = PROBE
        self._running: set[asyncio.Task[None]] = set()
        self.served = 0  # requests this node ran for another
        self.forwarded = 0  # requests this node sent

    def register(self, op: str, handler: Handler) -> None:
        self.handlers[op] = handler

    # --- the node consuming AMI ------------------------------------------------------
    def announce(self) -> None:
        """Say that this node consumes AMI (while it does)."""
        if self.producing():
            self.send(encode({"k": "p", "n": self.node}))

    def heard_producer(self, node: str) -> None:
        self._producer = (node, time.monotonic())
        self._heard.set()

    async def find_producer(self) -> str | None:
        """The node consuming AMI; asked (`p?`) when none was heard lately, waiting
        `probe` seconds for its answer."""
        if self.producer() is None:
            self._heard.clear()
            self.send('{"k":"p?"}')
            try:
                async with asyncio.timeout(self.probe):
                    await self._heard.wait()
            except TimeoutError:
                return None
        return self.producer()

    def producer(self) -> str | None:
        """The node heard consuming AMI in the last three announcements, if any."""
        if self._producer is None:
            return None
        node, at = self._producer
        return node if time.monotonic() - at <= 3 * self.announce_every else None

    def request(self, envelope: dict[str, Any]) -> None:
        """A request from another node to this one: run it if this node consumes AMI,
        else say at once that it does not (any more)."""
        if envelope.get("to") != self.node:
            return
        if not self.producing():
            answer = {"k": "a", "id": envelope.get("id"), "to": envelope.get("n"), "gone": True}
            self.send(encode(answer | {"ok": False}))
            return
        task = asyncio.get_running_loop().create_task(self._serve(envelope))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _serve(self, envelope: dict[str, Any]) -> None:
        answer: dict[str, Any] = {"k": "a", "id": envelope.get("id"), "to": envelope.get("n")}
        handler = self.handlers.get(str(envelope.get("op")))
        try:
            if handler is None:
                raise AmiError(f"this node cannot run {envelope.get('op')!r}")
            answer |= {"ok": True, "r": await handler(dict(envelope.get("a") or {}))}
        except (DomainError, AmiError, EncodeError) as exc:
            answer |= {"ok": False, "e": error_json(exc)}
        except Exception as exc:
            log.exception("cluster: a forwarded action %s failed", envelope.get("op"))
            answer |= {"ok": False, "e": error_json(AmiError(f"the action failed: {exc}"))}
        self.served += 1
        self.send(encode(answer))

    # --- the asking node --------------------------------------------------------------
    def answer(self, envelope: dict[str, Any]) -> None:
        if envelope.get("to") != self.node:
            return
        future = self._pending.get(str(envelope.get("id")))
        if future is not None and not future.done():
            future.set_result(envelope)

    async def call(self, op: str, args: dict[str, Any], unavailable: Unavailable) -> Any:
        """Run `op` on the node consuming AMI and return its result, or raise its error
        (the same class); `unavailable(why)` is raised when no node consumes AMI."""
        producer = await self.find_producer()
        if producer is None:
            raise unavailable("no Trubka node consumes the PBX's AMI now")
        ident = uuid.uuid4().hex
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[ident] = future
        self.forwarded += 1
        try:
            request = {"k": "q", "id": ident, "n": self.node, "to": producer, "op": op}
            self.send(encode(request | {"a": args}))
            async with asyncio.timeout(self.timeout):
                answer = await future
        except TimeoutError:
            raise unavailable(
                f"the node consuming the PBX's AMI did not answer within {self.timeout:g} s"
            ) from None
        finally:
            self._pending.pop(ident, None)
        if answer.get("gone"):
            self._producer = None  # it stopped consuming: ask again next time
            raise unavailable("no Trubka node consumes the PBX's AMI now")
        if answer.get("ok"):
            return answer.get("r")
        error = error_from(dict(answer.get("e") or {}))
        if error is None:
            raise unavailable("the node consuming the PBX's AMI could not run the action")
        raise error
