"""Every change of a trigger goes into the supervisors' audit log like the other admin
settings (`admin_setting`, reason `triggers`, target `rule:<id>`, the rule before and
after), from the API and the page alike."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from crm.users import UserInfo
from supervisor.audit import AuditAction, AuditEntry
from web.api.routing_rules import actor
from web.deps import get_services


async def audited(
    request: Request,
    user: UserInfo,
    rule_id: int,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    what = "created" if before is None else "removed" if after is None else "changed"
    name = str((after or before or {}).get("name", ""))
    await get_services(request).supervisor.audit.record(
        AuditEntry(
            AuditAction.ADMIN_SETTING,
            actor(user, request),
            reason="triggers",
            detail=f"rule {rule_id} {what}: {name}"[:500],
            target=f"rule:{rule_id}",
            before=before,
            after=after,
        )
    )
