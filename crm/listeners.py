"""Who listens to the call events, read once and kept until it changes.

Every batch of stored calls asks which enabled webhooks subscribe to `call.*` events
(`crm.hooks.calls`) and which of those events an enabled rule listens to
(`crm.rules.calls`). Nearly always the answer is the same as for the batch before, and
each question cost a transaction (about 0.8 ms of CPU on SQLite) on the path every call
takes. `Kept` keeps an answer:

- a webhook or a rule created, changed or deleted through the ORM on this node drops them
  when its transaction commits (mapper events below), so the next batch reads them again;
- on PostgreSQL other nodes change them too: `CHANGED` lists who tells the other nodes
  (`trubka.cluster.node` sends `lc` through LISTEN/NOTIFY, and calls `changed` when
  another node's `lc` arrives);
- a kept answer is at most `MAX_AGE` seconds old whatever happens (a notification lost
  while a node's LISTEN connection was down).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, object_session

from crm.hooks.models import Webhook
from crm.rules.models import Rule

T = TypeVar("T")

MAX_AGE = 5.0  # seconds a kept answer may be used without a change heard of
CHANGED: list[Callable[[], None]] = []  # told after a local change commits (other nodes)

_generation = 0


def changed() -> None:
    """A webhook or a rule changed (committed here, or another node's `lc`): every kept
    answer is read again."""
    global _generation
    _generation += 1


KEY = "listeners_changed"  # in a session's info: told once when its transaction commits


def _committed(session: Session) -> None:
    session.info.pop(KEY, None)
    changed()
    for tell in CHANGED:
        tell()


def _touched(_mapper: Any, _connection: Any, target: Any) -> None:
    session = object_session(target)
    if session is None:  # pragma: no cover - a flush always has its session
        changed()
        return
    if not session.info.get(KEY):
        session.info[KEY] = True
        sa_event.listen(session, "after_commit", _committed, once=True)


for _model in (Webhook, Rule):
    for _name in ("after_insert", "after_update", "after_delete"):
        sa_event.listen(_model, _name, _touched)


class Kept:
    """One kept answer: `get(session, read)` returns it, reading it with `read(session)`
    when a change was heard of since, or it is older than `MAX_AGE`."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._value: Any = None
        self._generation = -1
        self._at = 0.0

    def forget(self) -> None:
        """Read the answer again next time (it proved stale)."""
        self._generation = -1

    async def get(self, session: AsyncSession, read: Callable[[AsyncSession], Awaitable[T]]) -> T:
        now = self.clock()
        if self._generation != _generation or now - self._at > MAX_AGE:
            generation = _generation  # a change during the read makes the next one read
            value = await read(session)
            self._value, self._generation, self._at = value, generation, now
        return self._value  # type: ignore[no-any-return]
