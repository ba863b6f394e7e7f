"""Telling numbers apart: an extension, an external number, a call's direction and customer.

Pure functions of the config and a live call.
"""

from __future__ import annotations

from kernel.phones import digits_of, is_anonymous, normalize
from telephony.records import Direction
from telephony.reducer.call_state import ReducerConfig
from telephony.state import Call


def is_internal_number(config: ReducerConfig, number: str | None) -> bool:
    """An extension: nothing but a few digits."""
    if number is None or is_anonymous(number):
        return False
    digits = digits_of(number)
    return 0 < len(digits) <= config.internal_max_digits and len(digits) == len(number.strip())


def is_external_number(config: ReducerConfig, number: str | None) -> bool:
    if number is None or is_anonymous(number):
        return False
    return len(digits_of(number)) > config.internal_max_digits


def normalized(config: ReducerConfig, raw: str | None) -> str | None:
    return normalize(raw, config.region) if raw else None


def dials_out(call: Call) -> bool:
    """The customer is the number an agent or extension dialed."""
    return bool(call.outbound_number) and call.customer_leg == call.outbound_leg


def direction_of(config: ReducerConfig, call: Call) -> Direction:
    if dials_out(call):
        return Direction.OUTBOUND
    if is_internal_number(config, call.caller_num):
        return Direction.INTERNAL
    return Direction.INBOUND


def customer_of(config: ReducerConfig, call: Call) -> tuple[str | None, str | None]:
    """The customer's number and name: the dialed number on an outbound call."""
    if dials_out(call):
        return normalized(config, call.outbound_number), None
    return normalized(config, call.caller_num), call.caller_name
