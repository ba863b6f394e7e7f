"""The committed real Asterisk traces (tests/traces, see its README)."""

from __future__ import annotations

from pathlib import Path

import pytest

# A copy of the real Asterisk 22.10.1 traces from ../shared/ami-traces (see its README).
TRACES = Path(__file__).resolve().parent / "traces"


def trace_path(name: str) -> Path:
    """A committed trace; a missing one fails the test (it is part of the repository)."""
    path = TRACES / name
    if not path.exists():
        pytest.fail(f"real AMI trace {name} is missing from {TRACES}", pytrace=False)
    return path
