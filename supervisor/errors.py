"""Errors of the supervisor package.

SupervisorError
└── ReportParameterError   a report parameter is invalid (HTTP 422, CLI usage error)
"""

from __future__ import annotations


class SupervisorError(Exception):
    """Root of the supervisor package's errors."""


class ReportParameterError(SupervisorError):
    """A report parameter (date, range, grouping, filter) is invalid; the message says why."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter
        self.message = message
