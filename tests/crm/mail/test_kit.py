"""The Dovecot kit's rule: no Dovecot is a skip on a developer's machine, a failure in CI."""

from __future__ import annotations

import pytest

from tests.crm.mail import kit_dovecot


def test_a_missing_dovecot_skips_locally_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kit_dovecot, "BINARY", "/nonexistent/dovecot")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        kit_dovecot.dovecot_or_skip()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        kit_dovecot.dovecot_or_skip()
