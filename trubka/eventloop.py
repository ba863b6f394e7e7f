"""Which event loop Trubka runs on: uvloop when installed (it comes with
`uvicorn[standard]`), else asyncio's own; `TRUBKA_EVENT_LOOP=asyncio` forces the latter.

`trubka serve` runs the whole app — web, AMI client, FastAGI server — on the loop this
module picks, and `bench/routing_agi.py` measures the FastAGI server on the same one. On
uvloop a FastAGI session costs noticeably less CPU (its transports and timers are C).
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar

T = TypeVar("T")
LoopName = Literal["auto", "uvloop", "asyncio"]


def loop_name(choice: LoopName = "auto") -> str:
    """The loop `run` would use for `choice`: "uvloop" or "asyncio"."""
    if choice == "asyncio":
        return "asyncio"
    if importlib.util.find_spec("uvloop") is not None:
        return "uvloop"
    if choice == "uvloop":
        raise RuntimeError("TRUBKA_EVENT_LOOP=uvloop, but uvloop is not installed")
    return "asyncio"


def run(main: Callable[[], Coroutine[Any, Any, T]], choice: LoopName = "auto") -> T:
    """`asyncio.run(main())` on the chosen loop."""
    if loop_name(choice) == "uvloop":
        import uvloop

        return uvloop.run(main())
    return asyncio.run(main())
