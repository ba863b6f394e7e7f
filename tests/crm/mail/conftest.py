"""The e-mail tests' servers: one private Dovecot for the session (a new user per test)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.crm.mail.kit_dovecot import Dovecot


@pytest.fixture(scope="session")
def dovecot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dovecot]:
    server = Dovecot.start(tmp_path_factory.mktemp("dovecot"))
    try:
        yield server
    finally:
        server.stop()
