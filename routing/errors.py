"""Routing errors.

RoutingError          root of the routing package's errors
└── RulesError        a routing rules file is missing, unreadable or invalid
"""

from __future__ import annotations


class RoutingError(Exception):
    """Root of the routing package's errors."""


class RulesError(RoutingError):
    """A routing rules file is missing, unreadable or invalid; the message names the key."""
