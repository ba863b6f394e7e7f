"""The rules worker's own process (`python -m trubka.rules_child`), started and fed by
`trubka.rules_process.RulesProcess`: the protocol is described there.

It reads no settings: the first line on its input (`hello`) says which database, time
zone and secret key. Its standard output carries only the protocol (anything printed
goes to standard error, with the logs).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from crm.database import Database
from crm.hooks import outbox
from crm.mail.crypto import PasswordBox
from crm.mail.letters import LetterService
from crm.rules.engine import Runtime
from crm.rules.record import rules_changed
from crm.rules.worker import RuleWorker, WorkerConfig
from crm.users import UserDirectory
from kernel.once_per_turn import OncePerTurn
from routing.rules import RoutingRules, RulesFile
from trubka import gc_tuning
from trubka.eventloop import run

log = logging.getLogger(__name__)

# Nothing else runs on this process's loop: no slices, no pauses for a busy loop (a
# late `sleep(0)` here means the kernel ran others first — that is the idle priority
# working, not a pop waiting), and bigger rounds (fewer commits per event).
OWN_LOOP = WorkerConfig(poll_interval=1.0, batch=200, slice=0.05, busy_lag=1.0, busy_pause=0.0)


class Parent:
    """The protocol's output: one JSON object a line to the parent."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        # webhook deliveries were queued: one `hooks` a turn of the loop
        self.hooks_queued = OncePerTurn(lambda: self.send({"k": "hooks"}))

    def send(self, message: dict[str, Any]) -> None:
        self.out.write(json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode())
        self.out.write(b"\n")
        self.out.flush()

    def notify(self, users: list[int], message: dict[str, Any]) -> None:
        self.send({"k": "notify", "u": users, "m": message})


def routing_of(message: dict[str, Any]) -> RoutingRules:
    return RoutingRules(
        RulesFile.model_validate(message["file"]),
        region=str(message.get("region") or "RU"),
        source=str(message.get("source") or "parent"),
    )


async def serve(hello: dict[str, Any], lines: asyncio.StreamReader, parent: Parent) -> None:
    db = Database(str(hello["database_url"]))
    directory = UserDirectory(db)
    letters = LetterService(
        db,
        PasswordBox(
            bytes.fromhex(str(hello["secret"])), persistent=bool(hello["secret_configured"])
        ),
        max_attachment=int(hello.get("mail_max_attachment") or 10 * 1024 * 1024),
        timeout=float(hello.get("mail_timeout") or 30.0),
    )
    routing = [RoutingRules()]
    runtime = Runtime(
        db,
        directory,
        lambda: routing[0],
        ZoneInfo(str(hello["timezone"])),
        notify=parent.notify,
        mailer=letters.send_for_rule,
    )
    worker = RuleWorker(runtime, OWN_LOOP)
    outbox.WAKERS.append(parent.hooks_queued)
    gc_tuning.freeze_startup()  # as `trubka serve` does (trubka.gc_tuning)
    gc_tuning.tune()
    running = asyncio.create_task(worker.run(), name="rules")
    # The parent decides when the child ends (its input closes). Ctrl-C in a terminal
    # reaches the whole process group: the node stops the child itself. A SIGTERM meant
    # for the child alone (systemd stopping the unit's processes) stops it like an EOF.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    ended = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, ended.set)
    reading = asyncio.create_task(_read(lines, worker, routing), name="parent")
    parent.send({"k": "ready", "pid": os.getpid()})
    try:
        terminated = asyncio.create_task(ended.wait())
        await asyncio.wait({reading, terminated}, return_when=asyncio.FIRST_COMPLETED)
        terminated.cancel()
        await worker.stop()  # the event in hand is finished; the rest stays queued
    finally:
        for task in (running, reading):
            task.cancel()
        await asyncio.gather(running, reading, return_exceptions=True)
        await db.dispose()


async def _read(
    lines: asyncio.StreamReader, worker: RuleWorker, routing: list[RoutingRules]
) -> None:
    """The parent's messages, until its end of the pipe closes."""
    while line := await lines.readline():
        message = json.loads(line)
        kind = message.get("k")
        if kind == "wake":
            worker.wake()
        elif kind == "rules":
            rules_changed()
        elif kind == "routing":
            routing[0] = routing_of(message)


def lower_priority(priority: str) -> None:
    """`idle`: Linux's SCHED_IDLE — the child runs only on CPU time nothing else of the
    host wants (the node's pops, the PBX), elsewhere the lowest niceness (19)."""
    if priority != "idle":
        return
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        os.nice(19)


async def main() -> None:
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a stray print goes to the logs, not into the protocol
    loop = asyncio.get_running_loop()
    lines = asyncio.StreamReader(limit=16 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(lines), sys.stdin)
    first = await lines.readline()
    if not first:
        return
    hello = json.loads(first)
    logging.basicConfig(
        level=getattr(logging, str(hello.get("log_level") or "WARNING"), logging.WARNING),
        format="%(asctime)s %(levelname)-7s %(name)s (rules process): %(message)s",
    )
    lower_priority(str(hello.get("priority") or "idle"))
    await serve(hello, lines, Parent(out))


if __name__ == "__main__":
    loop = os.environ.get("TRUBKA_EVENT_LOOP", "auto")
    run(main, loop if loop in ("auto", "uvloop", "asyncio") else "auto")  # type: ignore[arg-type]
