"""Routing errors.

DomainError (kernel.errors)
└── RoutingError          routing_error    root of the routing package's errors
    └── RulesError        invalid_rules    a routing rules file is missing, unreadable or
                                           invalid
"""

from __future__ import annotations

from kernel.errors import DomainError


class RoutingError(DomainError):
    """Root of the routing package's errors."""

    code = "routing_error"

    def __init__(self, message: str) -> None:
        super().__init__(type(self).code, message)


class RulesError(RoutingError):
    """A routing rules file is missing, unreadable or invalid; the message names the key."""

    code = "invalid_rules"
