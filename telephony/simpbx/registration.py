"""SIP phones registering and unregistering (PJSIP mode), as the PJSIP trace p9 shows it:
`PeerStatus`, `ContactStatus`, the member's `QueueMemberStatus` 5 and the device
UNAVAILABLE while the phone is away; NonQualified, then Reachable with a round trip when
it registers again."""

from __future__ import annotations

from telephony.simpbx import wire as w
from telephony.simpbx.engine import CallEngine
from telephony.simpbx.model import SimAgent


def set_registered(engine: CallEngine, agent: SimAgent, registered: bool) -> None:
    if agent.registered == registered:
        return
    agent.registered = registered
    peer = [("Event", "PeerStatus"), ("Privilege", "system,all"), ("ChannelType", "PJSIP")]
    peer.append(("Peer", agent.device))
    uri = f"sip:{agent.number}-0x{engine.rng.getrandbits(48):012x}@127.0.0.1:5060"

    def contact(status: str, rtt: int) -> bytes:
        return w.frame(
            [
                ("Event", "ContactStatus"),
                ("Privilege", "system,all"),
                ("URI", uri),
                ("ContactStatus", status),
                ("AOR", agent.number),
                ("EndpointName", agent.number),
                ("RoundtripUsec", str(rtt)),
            ]
        )

    if registered:
        engine.emit(contact("NonQualified", 0), w.frame([*peer, ("PeerStatus", "Reachable")]))
        engine.emit(contact("Reachable", engine.rng.randrange(200, 900)))
        engine.agent_changed(agent)  # the device NOT_INUSE, the member available again
    else:
        engine.emit(w.frame([*peer, ("PeerStatus", "Unreachable")]))
        engine.agent_changed(agent)  # the device UNAVAILABLE, the member status 5
        engine.emit(contact("Removed", 0))
