"""The event loop Trubka runs on: uvloop when installed, asyncio's on request."""

from __future__ import annotations

import asyncio

from trubka.eventloop import loop_name, run
from trubka.settings import load_settings


async def _loop_type() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_auto_picks_uvloop_and_asyncio_can_be_forced() -> None:
    assert loop_name("auto") == "uvloop"  # installed with uvicorn[standard]
    assert run(_loop_type, "auto").startswith("uvloop")
    assert run(_loop_type, "asyncio").startswith("asyncio")
    assert load_settings().event_loop == "auto"
    assert load_settings(event_loop="asyncio").event_loop == "asyncio"
