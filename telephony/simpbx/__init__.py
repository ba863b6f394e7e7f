"""A simulated Asterisk 22 for `trubka demo` and the tests: a real AMI server over TCP
with a call engine that writes the same event sequences as the recorded traces.

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
