"""Asterisk's status words the reducer reads (as Asterisk spells them, upper case)."""

from __future__ import annotations

from enum import StrEnum


class DialStatus(StrEnum):
    """`DialStatus` of a `DialEnd` (the dialplan's ``DIALSTATUS``); those the reducer reads."""

    ANSWER = "ANSWER"
    BUSY = "BUSY"
    NOANSWER = "NOANSWER"
    CHANUNAVAIL = "CHANUNAVAIL"
    CONGESTION = "CONGESTION"
    INVALIDARGS = "INVALIDARGS"
    # Progress, not an end: the dial goes on.
    RINGING = "RINGING"
    PROCEEDING = "PROCEEDING"
    PROGRESS = "PROGRESS"


DIAL_IN_PROGRESS = frozenset({DialStatus.RINGING, DialStatus.PROCEEDING, DialStatus.PROGRESS})
DIAL_FAILED = frozenset({DialStatus.CHANUNAVAIL, DialStatus.CONGESTION, DialStatus.INVALIDARGS})

# `QUEUESTATUS` (set by the Queue application) when the queue gave up, not the caller.
QUEUE_NO_ANSWER = frozenset(
    {"TIMEOUT", "FULL", "JOINEMPTY", "LEAVEEMPTY", "JOINUNAVAIL", "LEAVEUNAVAIL"}
)
