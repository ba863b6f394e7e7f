"""A tracked set of background tasks with an orderly shutdown (after uvicorn's).

Every task Trubka starts is kept here: a task that fails is logged with its traceback
(never lost), and `stop` cancels what is left after a grace period, in reverse order of
start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class TaskSet:
    def __init__(self, name: str = "trubka") -> None:
        self.name = name
        self._tasks: list[asyncio.Task[Any]] = []

    def start(self, coro: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.append(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        if task in self._tasks:
            self._tasks.remove(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("%s: task %s failed", self.name, task.get_name(), exc_info=exc)

    def __len__(self) -> int:
        return len(self._tasks)

    async def stop(self, grace: float = 5.0) -> None:
        """Cancel every task, newest first, and wait up to `grace` seconds for them."""
        tasks = list(reversed(self._tasks))
        for task in tasks:
            task.cancel()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                log.warning("%s: task %s did not stop in %.1fs", self.name, task.get_name(), grace)
