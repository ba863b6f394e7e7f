"""Telephony errors.

PbxRefused                 the PBX refused what a user asked for (a DomainError)

TelephonyError             failures of the link to the PBX, below what users ask for
├── ProtocolError          bytes or a frame that break the AMI protocol
│   └── MalformedEvent     a known event that lacks a header it must have
├── AmiError               the AMI connection or an action failed
│   ├── NotConnected       no logged-in connection right now
│   ├── LoginFailed        the PBX refused our user or secret
│   ├── ActionFailed       the PBX answered `Response: Error`
│   └── ActionTimeout      no (complete) answer in time
└── AgiError               a FastAGI conversation went wrong

The TelephonyError family describes the AMI and FastAGI links; whoever asked the PBX for
something on a user's behalf translates them into domain errors (`PbxRefused` here, the
supervisor's `PbxUnavailable`, the panel's `PbxDown` …).
"""

from __future__ import annotations

from kernel.errors import DomainError


class PbxRefused(DomainError):
    """Asterisk refused an action a user asked for (`Response: Error`, or the user's phone
    did not answer); `message` keeps what Asterisk said. `code` is `pbx_refused` unless
    the caller names the refusal more precisely (`static_member`, `phone_not_answered`)."""

    code = "pbx_refused"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(code or type(self).code, message)


class TelephonyError(Exception):
    """Root of the telephony package's errors."""


class ProtocolError(TelephonyError):
    """Bytes or a frame that break the AMI protocol."""


class MalformedEvent(ProtocolError):
    """A known event lacks a header it must have, or a value has the wrong form."""


class AmiError(TelephonyError):
    """The AMI connection or an action failed."""


class NotConnected(AmiError):
    """No logged-in AMI connection right now."""


class LoginFailed(AmiError):
    """The PBX refused the AMI user or secret."""


class ActionFailed(AmiError):
    """The PBX answered an action with `Response: Error`."""

    def __init__(self, action: str, message: str) -> None:
        super().__init__(f"{action} failed: {message}")
        self.action = action
        self.message = message


class ActionTimeout(AmiError):
    """An action got no (complete) answer in time."""


class AgiError(TelephonyError):
    """A FastAGI conversation went wrong."""
