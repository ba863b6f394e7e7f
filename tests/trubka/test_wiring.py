"""The wiring's table names every subscriber of the bus, and the code follows it."""

from __future__ import annotations

import re
from pathlib import Path

import trubka.wiring
from crm.events import CallsStored
from supervisor.feed import EVENT_KINDS
from telephony.domain import (
    AgentStateChanged,
    CallBackfilled,
    CallEnded,
    CallStarted,
    SpySessionEnded,
)
from trubka.settings import load_settings
from trubka.wiring import DOMAIN_KINDS, Services


async def test_every_subscription_is_in_the_table(tmp_path: Path) -> None:
    services = Services.create(load_settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/t.db"))
    try:
        table = trubka.wiring.__doc__ or ""
        subscribed = {sub.name: sub.kinds for sub in services.bus.subscriptions}
        listed = set(re.findall(r"^ {4}.{30}([a-z][a-z-]+)  ", table, re.MULTILINE))
        assert listed - {"subscription"} == set(subscribed)  # but the heading
        assert subscribed["call-writer"] == (CallEnded, CallBackfilled)
        assert subscribed["spy-sessions"] == (SpySessionEnded,)
        assert subscribed["crm-after-store"] == subscribed["supervisor-rollups"] == (CallsStored,)
        assert subscribed["agent-time"] == (AgentStateChanged,)
        assert subscribed["live-feed"] == EVENT_KINDS
        assert subscribed["screen-pop"] == DOMAIN_KINDS and CallStarted in DOMAIN_KINDS
        # Callback tasks need the contacts: linking runs first, in the same consumer.
        # The call webhooks need the contacts too (their order key): after linking.
        assert services.crm_after_store.handlers[:2] == (
            services.crm.link_calls,
            services.callbacks.on_calls_saved,
        )
        hooks = services.crm_after_store.handlers[2:]
        assert [h.__qualname__ for h in hooks] == [
            "CallHooks.on_calls_stored",
            "CallRuleEvents.on_calls_stored",  # the triggers' call events, after linking
        ]
        assert services.supervisor_rollups.handlers == (services.supervisor.calls_stored,)
        feed = services.supervisor.feed
        assert feed is not None and services.supervisor.rollups.listeners == [feed.today_changed]
    finally:
        services.crm.close()
        await services.db.dispose()
