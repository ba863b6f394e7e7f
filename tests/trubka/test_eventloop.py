"""The event loop Trubka runs on: uvloop when installed, asyncio's on request."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from trubka.eventloop import LoopName, loop_name, run
from trubka.settings import load_settings


async def _loop_type() -> str:
    return type(asyncio.get_running_loop()).__module__


def _run_in_thread(choice: LoopName) -> str:
    # A thread of its own: a loop run in the main thread would replace pytest-asyncio's.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run, _loop_type, choice).result()


def test_auto_picks_uvloop_and_asyncio_can_be_forced() -> None:
    assert loop_name("auto") == "uvloop"  # installed with uvicorn[standard]
    assert _run_in_thread("auto").startswith("uvloop")
    assert _run_in_thread("asyncio").startswith("asyncio")
    assert load_settings().event_loop == "auto"
    assert load_settings(event_loop="asyncio").event_loop == "asyncio"
