"""A simulated Asterisk 22 for `trubka demo` and the tests: a real AMI server over TCP
with a call engine that writes the same event sequences as the recorded traces —
Local-channel agents (`Local/101@agents/n`, the default) or, with
`SimConfig(channel_mode="pjsip")`, SIP phones and a SIP trunk (`PJSIP/201-00000003`,
`PJSIP/trunk-00000002`, `ContactStatus` when a phone unregisters) as in the `p*` traces.

See :class:`telephony.simpbx.pbx.SimPbx` for the control API.
"""

from telephony.simpbx.config import AgentConfig, Customer, QueueConfig, SimConfig, Timing
from telephony.simpbx.model import HangupBy, IntendedCall
from telephony.simpbx.pbx import SimPbx
from telephony.simpbx.wire import LegacyText

__all__ = [
    "AgentConfig",
    "Customer",
    "HangupBy",
    "IntendedCall",
    "LegacyText",
    "QueueConfig",
    "SimConfig",
    "SimPbx",
    "Timing",
]
