"""The rules worker in a process of its own (`TRUBKA_RULES_PROCESS=true`): the node's
event loop — the screen pop, the AMI reader — no longer shares a core with the rules.

`trubka serve` (a node with the `workers` role) starts `python -m trubka.rules_child` and
talks to it over its standard input and output, one JSON object a line (`k` the kind):

* to the child: `hello` first (the database, time zone, secret key, the mail limits and
  the routing rules: everything the child needs, so it reads no settings of its own);
  `wake` (events were queued for the rules here: a commit's `crm.rules.record.WAKERS`,
  or another node's `rq`); `rules` (a rule changed here: the child reads them again);
  `routing` (the routing rules changed: the supervisors and working hours the actions
  use). Closing its input stops the child: it finishes the event in hand and exits.
* from the child: `ready`; `notify` (a rule's panel notice for users `u`: message `m`,
  sent to their sockets here); `hooks` (webhook deliveries were queued: the delivery
  workers here, and the other nodes', look at once).

The child runs `crm.rules.worker.RuleWorker` unchanged: the queue is in the database, so
a child that dies loses nothing — its claimed events wait for their lease and run again
(at least once, the action keys make that idempotent). The parent starts a dead child
again after a pause that grows from `RESTART_MIN` to `RESTART_MAX` seconds while it keeps
dying soon after its start (`HEALTHY_AFTER`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from crm.hooks import outbox
from crm.rules import record
from kernel.once_per_turn import OncePerTurn
from routing.rules import RoutingRules

log = logging.getLogger(__name__)

RESTART_MIN = 0.5
RESTART_MAX = 30.0
HEALTHY_AFTER = 60.0  # a child that ran this long before it ended is started again soon
STOP_WAIT = 15.0  # seconds a stopping child may take to finish the event in hand
LINE_LIMIT = 16 * 1024 * 1024  # the longest line from the child (a notice's text is short)

Notify = Callable[[list[int], dict[str, Any]], object]


@dataclass(frozen=True)
class ChildConfig:
    """What the child needs, sent in its `hello`."""

    database_url: str
    timezone: str
    secret: bytes
    secret_configured: bool
    log_level: str = "WARNING"
    event_loop: str = "auto"  # trubka.eventloop
    priority: str = "idle"  # the child's CPU priority (`trubka.rules_child.lower_priority`)
    mail_max_attachment: int = 10 * 1024 * 1024
    mail_timeout: float = 30.0


def restart_pause(pause: float, ran_for: float) -> float:
    """The pause before starting a child again that ran `ran_for` seconds: `pause` (it
    doubles while the child keeps dying soon after its start), back to `RESTART_MIN`
    once a child had been running for `HEALTHY_AFTER` seconds."""
    return RESTART_MIN if ran_for > HEALTHY_AFTER else pause


def routing_message(rules: RoutingRules) -> dict[str, Any]:
    return {
        "k": "routing",
        "file": rules.file.model_dump(mode="json"),
        "region": rules.region,
        "source": rules.source,
    }


class RulesProcess:
    """Starts the child, keeps it running, relays between it and this node."""

    def __init__(
        self,
        config: ChildConfig,
        routing: Callable[[], RoutingRules],
        notify: Notify | None = None,
        *,
        command: list[str] | None = None,
    ) -> None:
        self.config = config
        self.routing = routing
        self.notify = notify
        self.command = command or [sys.executable, "-m", "trubka.rules_child"]
        self.process: asyncio.subprocess.Process | None = None
        self.started = 0  # children started so far
        self.ready = asyncio.Event()  # the current child said `ready`
        self._stopping = False
        self._sent_routing: RoutingRules | None = None
        self._wake_soon = OncePerTurn(lambda: self._send({"k": "wake"}))

    # --- this node → the child ----------------------------------------------------
    def wake(self) -> None:
        """Events were queued for the rules: the child looks at once (one `wake` a turn
        of the loop however many commits asked)."""
        self._wake_soon()

    def rules_changed(self) -> None:
        self._send({"k": "rules"})

    def _send(self, message: dict[str, Any]) -> None:
        process = self.process
        if process is None or process.stdin is None or process.stdin.is_closing():
            return  # the child starts again and reads everything anew
        if self.routing() is not self._sent_routing:  # changed in the admin pages
            self._send_routing(process)
        try:
            process.stdin.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")
        except (ConnectionError, RuntimeError):
            log.debug("rules process: the child's input is closed")

    def _send_routing(self, process: asyncio.subprocess.Process) -> None:
        rules = self.routing()
        self._sent_routing = rules
        assert process.stdin is not None
        process.stdin.write(json.dumps(routing_message(rules)).encode() + b"\n")

    def _hello(self) -> dict[str, Any]:
        c = self.config
        return {
            "k": "hello",
            "database_url": c.database_url,
            "timezone": c.timezone,
            "secret": c.secret.hex(),
            "secret_configured": c.secret_configured,
            "log_level": c.log_level,
            "priority": c.priority,
            "mail_max_attachment": c.mail_max_attachment,
            "mail_timeout": c.mail_timeout,
        }

    # --- the child → this node ----------------------------------------------------
    def _received(self, message: dict[str, Any]) -> None:
        kind = message.get("k")
        if kind == "ready":
            self.ready.set()
        elif kind == "notify" and self.notify is not None:
            users = [int(u) for u in message.get("u") or []]
            payload = message.get("m")
            if users and isinstance(payload, dict):
                try:
                    self.notify(users, payload)
                except Exception:
                    log.exception("rules process: a panel notice was not sent")
        elif kind == "hooks":
            for wake in outbox.WAKERS:
                wake()

    # --- running ------------------------------------------------------------------
    async def run(self) -> None:
        """Run the child until `stop`, starting it again whenever it ends."""
        record.CHANGE_WATCHERS.append(self.rules_changed)
        pause = RESTART_MIN
        try:
            while not self._stopping:
                started = time.monotonic()
                returncode = await self._run_child()
                if self._stopping:
                    break
                pause = restart_pause(pause, time.monotonic() - started)
                # 0: it was asked to stop (a SIGTERM to the whole group, as systemd stops
                # a unit: this node stops next); anything else: it failed
                log.log(
                    logging.INFO if returncode == 0 else logging.WARNING,
                    "rules process: the child ended (exit status %s); starting it again in %.1f s",
                    returncode,
                    pause,
                )
                await asyncio.sleep(pause)
                pause = min(RESTART_MAX, pause * 2)  # the next one, if it dies again soon
        finally:
            if self.rules_changed in record.CHANGE_WATCHERS:
                record.CHANGE_WATCHERS.remove(self.rules_changed)

    async def _run_child(self) -> int | None:
        self.ready.clear()
        process = await asyncio.create_subprocess_exec(
            *self.command,
            env={**os.environ, "TRUBKA_EVENT_LOOP": self.config.event_loop},
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=LINE_LIMIT,
        )
        self.process = process
        self.started += 1
        self._sent_routing = None
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(json.dumps(self._hello()).encode() + b"\n")
        self._send_routing(process)
        try:
            while line := await process.stdout.readline():
                try:
                    message = json.loads(line)
                except ValueError:
                    log.warning("rules process: the child wrote %r", line[:200])
                    continue
                if isinstance(message, dict):
                    self._received(message)
            return await process.wait()
        finally:
            if process.returncode is None and not self._stopping:
                process.kill()  # cancelled: do not leave the child behind
                with contextlib.suppress(ProcessLookupError):
                    await process.wait()
            self.ready.clear()

    async def stop(self) -> None:
        """Close the child's input (it finishes the event in hand and exits); kill it if
        it takes longer than `STOP_WAIT`."""
        self._stopping = True
        process = self.process
        if process is None or process.returncode is not None:
            return
        if process.stdin is not None and not process.stdin.is_closing():
            process.stdin.close()
        try:
            async with asyncio.timeout(STOP_WAIT):
                await process.wait()
        except TimeoutError:
            log.warning("rules process: the child did not stop in time; killed")
            process.kill()
            await process.wait()
