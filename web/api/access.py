"""Who may call the supervisor APIs.

At merge with the web login this becomes `[Depends(require_role("supervisor", "admin"))]`
(from `web.auth`): one line, and every supervisor router picks it up.
"""

from __future__ import annotations

from typing import Any

SUPERVISOR_ONLY: list[Any] = []
