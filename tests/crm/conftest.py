from __future__ import annotations

import pytest

from crm.users import use_fast_hashing


@pytest.fixture(autouse=True)
def _fast_argon2() -> None:
    use_fast_hashing()
