"""A ring is urgent: the AMI reader's publish marks it (`kernel.urgency`), so background
work sharing the event loop (the rules worker) steps aside while its pop is on its way."""

from __future__ import annotations

from collections.abc import Sequence

from kernel import urgency
from telephony.ami_client import Publish
from telephony.domain import AgentRinging, DomainEvent


def marking_rings(publish: Publish) -> Publish:
    """`publish`, marking a moment of urgency first when a phone starts ringing."""

    def publish_marking(events: Sequence[DomainEvent]) -> None:
        for event in events:
            if type(event) is AgentRinging:
                urgency.mark()
                break
        publish(events)

    return publish_marking
