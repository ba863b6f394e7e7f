"""`GET /metrics`: Prometheus metrics of this node.

Counters that code increments as things happen (routing decisions, AGI sessions …) live
in the default registry where they are defined; the live picture (calls, agents by
state, waiting callers, WebSocket clients, the AMI link and the bad input it met, event
bus drops) is read at scrape time by :class:`LiveCollector`. Served to loopback clients,
or to anyone presenting `TRUBKA_METRICS_TOKEN` (as a Bearer token or `?token=`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from kernel.agents import AgentState
from web.api.route import authorize
from web.deps import get_services
from web.node_metrics import node_metrics, refresh_outbox_depth

router = APIRouter()

_AMI_STATES = ("stopped", "connecting", "logging_in", "resyncing", "connected", "waiting")


class LiveCollector(Collector):
    def __init__(self, services: Any) -> None:
        self.services = services

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        services = self.services
        now = time.time()
        live = services.live
        calls = GaugeMetricFamily("trubka_live_calls", "Calls in progress on the PBX")
        calls.add_metric([], sum(1 for c in live.calls.values() if not c.partial))
        yield calls
        agents = GaugeMetricFamily("trubka_agents", "Agents by state", labels=["state"])
        by_state = Counter(agent.derive_state(now).value for agent in live.agents.values())
        for state in AgentState:
            agents.add_metric([state.value], by_state.get(state.value, 0))
        yield agents
        waiting = GaugeMetricFamily("trubka_queue_waiting", "Callers waiting", labels=["queue"])
        longest = GaugeMetricFamily(
            "trubka_queue_longest_wait_seconds", "Longest current wait", labels=["queue"]
        )
        for name, queue in sorted(live.queues.items()):
            waiting.add_metric([name], len(queue.entries))
            oldest = min((e.joined_at for e in queue.entries.values()), default=now)
            longest.add_metric([name], max(0.0, now - oldest))
        yield waiting
        yield longest
        hub = services.hub.stats
        sockets = GaugeMetricFamily("trubka_websocket_clients", "Connected WebSocket clients")
        sockets.add_metric([], hub.connected)
        yield sockets
        dropped = CounterMetricFamily(
            "trubka_websocket_dropped_clients", "Sockets dropped for being too slow"
        )
        dropped.add_metric([], hub.dropped_clients)
        yield dropped
        bus = CounterMetricFamily(
            "trubka_bus_dropped_events", "Events a full subscriber lost", labels=["subscriber"]
        )
        for sub in services.bus.subscriptions:
            bus.add_metric([sub.name], sub.dropped)
        yield bus
        stored = CounterMetricFamily("trubka_calls_stored", "Call records stored by this node")
        stored.add_metric([], services.call_writer.saved)
        yield stored
        yield from node_metrics(services)
        ami = getattr(services, "ami", None)
        if ami is not None:
            status = ami.status_json()
            link = GaugeMetricFamily("trubka_ami_state", "The AMI link state", labels=["state"])
            for name in _AMI_STATES:
                link.add_metric([name], 1 if status["state"] == name else 0)
            yield link
            reconnects = CounterMetricFamily("trubka_ami_reconnects", "AMI reconnections")
            reconnects.add_metric([], status["reconnects"])
            yield reconnects
            events = CounterMetricFamily("trubka_ami_events", "Domain events from AMI")
            events.add_metric([], status["events_published"])
            yield events
            bad = CounterMetricFamily(
                "trubka_ami_bad_input", "Bad AMI input skipped, by kind", labels=["kind"]
            )
            for kind, count in status["bad_input"].items():
                bad.add_metric([kind], count)
            yield bad


@router.get("/metrics", include_in_schema=False)
async def metrics(
    request: Request,
    services: Annotated[Any, Depends(get_services)],
    authorization: Annotated[str | None, Header()] = None,
    token: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    bearer = authorization[7:] if authorization and authorization.startswith("Bearer ") else None
    authorize(
        request,
        services.settings.metrics_token,
        bearer or token,
        variable="TRUBKA_METRICS_TOKEN",
        what="metrics scrapes",
    )
    registry = getattr(request.app.state, "metrics_registry", None)
    if registry is None:
        from prometheus_client import CollectorRegistry

        registry = CollectorRegistry()
        registry.register(LiveCollector(services))
        request.app.state.metrics_registry = registry
    await refresh_outbox_depth(services)
    body = generate_latest(REGISTRY) + generate_latest(registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
