"""The e-mail tests' servers: one private Dovecot for the session (a new user per test)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.crm.mail.kit_dovecot import Dovecot


@pytest.fixture(scope="session")
def dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dovecot]:
    server = Dovecot.start(tmp_path_factory.mktemp("dovecot"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def lonely_dovecot(tmp_path: Path) -> Iterator[Dovecot]:
    """A Dovecot for one test: its failed logins slow down no other test's."""
    server = Dovecot.start(tmp_path / "dovecot")
    try:
        yield server
    finally:
        server.stop()
