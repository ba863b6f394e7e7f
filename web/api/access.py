"""Who may call the supervisor APIs: supervisors and admins, signed in."""

from __future__ import annotations

from typing import Any

from fastapi import Depends

from web.auth import require_role

SUPERVISOR_ONLY: list[Any] = [Depends(require_role("supervisor", "admin"))]
