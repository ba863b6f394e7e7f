"""Headless Chromium from Debian's package, as every browser test drives it.

Starting Chromium costs about a second a test; `chromium()` starts one browser process
per session (per set of arguments) and connects each test to it over the DevTools
protocol. A test gets browser contexts of its own (cookies, storage, pages), closed when
it ends, so tests see nothing of each other; only the process is shared.

Playwright's driver (a Node.js process: a third of a second of CPU and half a second to
start) is shared the same way: `tests/kit_playwright.py` starts one for the session and
lends it to each test's own event loop; a test gets a new connection to Chromium over it.
A driver that died (or a test that never gave it back) is replaced for the next test, and
so is a Chromium that died. Node keeps the driver's compiled code in
`NODE_COMPILE_CACHE`, so every start after the first skips compiling it.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from playwright.async_api import Browser

from tests.kit_playwright import playwright_for_this_test, stop_shared_driver

# Node.js ≥ 22.1 reads it (older ones ignore it); a user's own setting is kept.
os.environ.setdefault(
    "NODE_COMPILE_CACHE", str(Path(tempfile.gettempdir()) / "trubka-tests-node-compile-cache")
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class _Process:
    proc: subprocess.Popen[bytes]
    profile: Path
    endpoint: str

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


_running: dict[tuple[str, ...], _Process] = {}


def _start(args: tuple[str, ...]) -> _Process:
    profile = Path(tempfile.mkdtemp(prefix="trubka-chromium-"))
    proc = subprocess.Popen(
        [CHROMIUM, *args, "--remote-debugging-port=0", f"--user-data-dir={profile}"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    started = _Process(proc, profile, "")
    port_file = profile / "DevToolsActivePort"  # "<port>\n<browser path>", once it listens
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        lines = port_file.read_text().split("\n") if port_file.exists() else []
        if len(lines) >= 2 and lines[0] and lines[1]:
            started.endpoint = f"ws://127.0.0.1:{lines[0]}{lines[1]}"
            return started
        time.sleep(0.02)
    started.stop()
    raise RuntimeError(f"{CHROMIUM} did not start (exit code {proc.poll()})")


def _endpoint(args: tuple[str, ...]) -> str:
    running = _running.get(args)
    if running is None or running.proc.poll() is not None:
        running = _running[args] = _start(args)
    return running.endpoint


@atexit.register
def _stop_all() -> None:
    stop_shared_driver()
    for running in _running.values():
        running.stop()
    _running.clear()


@asynccontextmanager
async def chromium(args: Sequence[str] = CHROMIUM_ARGS) -> AsyncIterator[Browser]:
    """The session's Chromium (started on first use), connected for one test; the
    contexts the test opened are closed when it leaves."""
    endpoint = _endpoint(tuple(args))
    async with playwright_for_this_test() as playwright:
        browser = await playwright.chromium.connect_over_cdp(endpoint)
        try:
            yield browser
        finally:
            await browser.close()
