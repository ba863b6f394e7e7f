"""The admin tests' simulated PBX: the panel tests' queues and agents, and agent 106
(Егор) in no queue at all, for Trubka to add as a dynamic member."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from telephony.simpbx import AgentConfig, SimConfig
from tests.telephony.kit_sim import SECRET, USER
from tests.web.kit_panel import AGENTS, QUEUES, TIMING

NEWCOMER = AgentConfig("106", "Егор Новиков", (), answers=False)


def admin_sim(**changes: Any) -> SimConfig:
    config = SimConfig(
        username=USER,
        secret=SECRET,
        seed=5,
        timing=TIMING,
        queues=QUEUES,
        agents=(*AGENTS, NEWCOMER),
        default_queue="support",
        record=False,
    )
    return replace(config, **changes)


async def until(predicate: Callable[[], object], timeout: float = 10.0) -> None:
    """Wait for a condition (no fixed sleeps)."""
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 - state of other parts, no event to await
            await asyncio.sleep(0.02)
