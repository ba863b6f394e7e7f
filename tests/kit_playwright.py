"""One Playwright driver for the whole test session, lent to each browser test in turn.

`async_playwright()` starts Playwright's driver (a Node.js process) and ties it to the
event loop it was started in; each test runs in an event loop of its own, so each test
started a driver: a third of a second of CPU and half a second of waiting, per test.
Here the driver is started once, with plain pipes that belong to no event loop, read by
a thread; a test borrows it (`playwright_for_this_test()`): the driver's connection is
pointed at the test's loop, and the messages the thread read are dispatched there, one
per task, as Playwright's own pipe does. What a test opens over it (its connection to
Chromium, its contexts and pages) it closes before it gives the driver back, so the next
test sees nothing of it.

A driver that died is replaced for the next test, and so is one that a test never gave
back (a test stopped in the middle: its loop is gone, and so are the calls it waited
for). This leans on Playwright's inner layout (`playwright._impl`); when it is not the
one known here, each test starts a driver of its own, as `async_playwright()` does.
"""

from __future__ import annotations

import asyncio
import collections
import json
import subprocess
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

from playwright.async_api import Playwright, async_playwright

try:
    from playwright._impl._driver import compute_driver_executable, get_driver_env
    from playwright._impl.connection import Connection
    from playwright._impl.utils.tasks import wait_for_next_task
except ImportError:  # another Playwright: a driver per test
    Connection = None


class _Driver:
    """The Node.js driver and Playwright's connection to it, lent to one loop at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.connection: Any = Connection(loop)
        # What this module reaches into; missing, and the driver is not started.
        for name in ("_loop", "_callbacks", "_objects", "onmessage", "_on_event_listener_error"):
            getattr(self.connection, name)
        node, cli = compute_driver_executable()
        self.proc = subprocess.Popen(
            [node, cli, "run-driver"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=get_driver_env(),
        )
        self.connection.onmessage = self._send
        self.playwright: Playwright | None = None
        self.long_lived: set[str] = set()  # the objects that outlive each borrower
        self._lock = threading.Lock()
        self._inbox: collections.deque[dict[str, Any] | None] = collections.deque()
        self._loop: asyncio.AbstractEventLoop | None = None  # the borrower's, while lent
        self._wakeup: asyncio.Event | None = None
        self._pump: asyncio.Task[None] | None = None
        self._lends = 0
        self.ended = False
        self._reader = threading.Thread(target=self._read, name="playwright-driver", daemon=True)
        self._reader.start()

    # The pipe (the framing of Playwright's PipeTransport: a 4-byte little-endian length).
    def _send(self, message: dict[str, Any]) -> None:
        data = json.dumps(message, allow_nan=False).encode()
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(len(data).to_bytes(4, "little") + data)
            self.proc.stdin.flush()
        except OSError:  # the driver is gone: the reader sees it and fails the calls
            pass

    def _read(self) -> None:
        out = self.proc.stdout
        assert out is not None
        try:
            while len(head := out.read(4)) == 4:
                length = int.from_bytes(head, "little")
                body = out.read(length)
                if len(body) != length:
                    break
                self._post(json.loads(body))
        except (OSError, ValueError):
            pass
        finally:
            self.ended = True
            self._post(None)  # the end of the driver

    def _post(self, message: dict[str, Any] | None) -> None:
        with self._lock:
            self._inbox.append(message)
            loop, wakeup = self._loop, self._wakeup
        if loop is not None and wakeup is not None:
            with suppress(RuntimeError):  # the borrower's loop is closed
                loop.call_soon_threadsafe(wakeup.set)

    async def _dispatch_inbox(self, wakeup: asyncio.Event) -> None:
        while True:
            await wakeup.wait()
            wakeup.clear()
            while True:
                with self._lock:
                    if not self._inbox:
                        break
                    message = self._inbox.popleft()
                if message is None:
                    self.connection.close()  # the calls in flight fail
                    return
                self._dispatch(message)
                await wait_for_next_task()  # one message per task, as the driver's pipe

    def _dispatch(self, message: dict[str, Any]) -> None:
        connection = self.connection
        call = message.get("id")
        if call is not None and call not in connection._callbacks:
            return  # the answer to a call of a test that was stopped in the middle
        if call is None and message.get("method") not in ("__create__", "__adopt__", "__dispose__"):
            target = connection._objects.get(message.get("guid", ""))
            if target is None:
                return  # an event for an object an earlier test let go of
            loop = getattr(target, "_loop", None)
            if loop is not None and loop.is_closed():
                return  # an event for an object of an earlier test, late: no one waits for it
        try:
            connection.dispatch(message)
        except Exception as error:  # as Playwright's pipe: the next call raises it
            connection._on_event_listener_error(error)

    # Lending.
    def lent_elsewhere(self, loop: asyncio.AbstractEventLoop) -> bool:
        return self._lends > 0 and self._loop is not loop

    async def lend(self) -> None:
        loop = asyncio.get_running_loop()
        if self._lends and self._loop is loop:  # a test that opens a second browser
            self._lends += 1
            return
        self.connection._loop = loop  # the futures of the calls are made in it
        for guid in self.long_lived:  # the root objects, made for the first borrower
            if (owner := self.connection._objects.get(guid)) is not None:
                owner._loop = loop
        wakeup = asyncio.Event()
        with self._lock:
            self._loop, self._wakeup = loop, wakeup
            if self._inbox:
                wakeup.set()
        self._pump = loop.create_task(self._dispatch_inbox(wakeup))
        self._lends = 1

    async def take_back(self) -> None:
        self._lends -= 1
        if self._lends:
            return
        with self._lock:
            self._loop = self._wakeup = None
        if self._pump is not None:
            self._pump.cancel()
            with suppress(asyncio.CancelledError):
                await self._pump
            self._pump = None

    def stop(self) -> None:
        with self._lock:
            self._loop = self._wakeup = None
        if self._pump is not None and self._pump.get_loop().is_closed():
            # The task of a test stopped in the middle: its loop is gone, and with it
            # any way to cancel the task; asyncio need not report it when it is freed.
            self._pump._log_destroy_pending = False  # type: ignore[attr-defined]
        assert self.proc.stdin is not None and self.proc.stdout is not None
        with suppress(OSError):
            self.proc.stdin.close()  # the driver exits when its input ends
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(10)
        self.proc.stdout.close()


_driver: _Driver | None = None
_per_test = Connection is None


async def _borrow() -> _Driver | None:
    global _driver, _per_test
    if _per_test:
        return None
    loop = asyncio.get_running_loop()
    if _driver is not None and (_driver.ended or _driver.lent_elsewhere(loop)):
        _driver.stop()
        _driver = None
    if _driver is None:
        try:
            _driver = _Driver(loop)
        except (AttributeError, TypeError):  # not the Playwright this module knows
            _per_test = True
            return None
    await _driver.lend()
    if _driver.playwright is None:
        try:
            impl = await asyncio.wait_for(_driver.connection.initialize_playwright(), 60)
        except BaseException:
            await _driver.take_back()
            _driver.stop()
            _driver = None
            raise
        _driver.playwright = Playwright(impl)
        _driver.long_lived = set(_driver.connection._objects)
    return _driver


@asynccontextmanager
async def playwright_for_this_test() -> AsyncIterator[Playwright]:
    """Playwright for the running test: the session's driver, or one of its own."""
    driver = await _borrow()
    if driver is None:
        async with async_playwright() as playwright:
            yield playwright
        return
    assert driver.playwright is not None
    try:
        yield driver.playwright
    finally:
        await driver.take_back()


def stop_shared_driver() -> None:
    global _driver
    if _driver is not None:
        _driver.stop()
        _driver = None
