"""The node's own figures on `GET /metrics` (several nodes: each is scraped on its own).

- `trubka_node_info{node, roles}` 1; `trubka_node_draining` 1 while shutting down;
- `trubka_ami_connected` 1 while this node's AMI link is up;
- `trubka_ami_lease_held{lease}` 1 while this node holds the AMI lease (PostgreSQL),
  `trubka_ami_lease_acquisitions` how often it took it;
- `trubka_screen_pops_sent` screen pops this node sent to its sockets;
- `trubka_webhook_outbox_depth` webhook deliveries waiting in the outbox (read from the
  database at each scrape, within a second).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from crm.hooks.models import PENDING, WebhookDelivery

_outbox_depth: dict[int, float] = {}  # id(services) -> pending deliveries at the last scrape


async def refresh_outbox_depth(services: Any) -> None:
    pending = WebhookDelivery.status == PENDING
    query = select(func.count()).select_from(WebhookDelivery).where(pending)
    try:
        async with asyncio.timeout(1.0), services.db.session() as session:
            _outbox_depth[id(services)] = float(await session.scalar(query) or 0)
    except (SQLAlchemyError, OSError, TimeoutError, AttributeError):
        _outbox_depth.pop(id(services), None)


def node_metrics(services: Any) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
    node = getattr(services, "node", None)
    if node is not None:
        info = GaugeMetricFamily("trubka_node_info", "This node", labels=["node", "roles"])
        info.add_metric([node.name, ",".join(sorted(node.roles))], 1)
        yield info
        draining = GaugeMetricFamily("trubka_node_draining", "1 while the node shuts down")
        draining.add_metric([], 1 if node.draining else 0)
        yield draining
        lease = node.lease
        if lease is not None:
            held = GaugeMetricFamily(
                "trubka_ami_lease_held", "1 while this node holds the AMI lease", labels=["lease"]
            )
            held.add_metric([lease.name], 1 if lease.valid() else 0)
            yield held
            taken = CounterMetricFamily(
                "trubka_ami_lease_acquisitions", "Times this node took the AMI lease"
            )
            taken.add_metric([], lease.acquisitions)
            yield taken
    ami = getattr(services, "ami", None)
    connected = GaugeMetricFamily("trubka_ami_connected", "1 while this node's AMI link is up")
    connected.add_metric([], 1 if ami is not None and ami.connected else 0)
    yield connected
    notifier = getattr(services, "notifier", None)
    pops = CounterMetricFamily("trubka_screen_pops_sent", "Screen pops sent by this node")
    pops.add_metric([], getattr(notifier, "pops_sent", 0))
    yield pops
    depth = _outbox_depth.get(id(services))
    if depth is not None:
        outbox = GaugeMetricFamily(
            "trubka_webhook_outbox_depth", "Webhook deliveries waiting in the outbox"
        )
        outbox.add_metric([], depth)
        yield outbox
