"""`/api/admin/system` (admins): the AMI and FastAGI links, recordings storage and jobs,
backups, the database's migration revision and Trubka's version; `POST
/api/admin/system/backup` takes a backup with `trubka backup`'s engine into
`TRUBKA_BACKUP_DIR`; `POST /api/admin/system/recordings/retry` re-queues the failed and
missing recording jobs. Both are audited."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from crm.users import UserInfo
from web.api.routing_rules import actor
from web.api.views import View
from web.auth import require_json, require_role
from web.deps import get_services

router = APIRouter(prefix="/api/admin/system", tags=["admin"], dependencies=[Depends(require_json)])

Admin = Annotated[UserInfo, Depends(require_role("admin"))]


class SystemOut(View):
    version: str
    ami: dict[str, Any] | None
    agi: dict[str, Any]
    recordings: dict[str, Any]
    backups: dict[str, Any]
    database: dict[str, Any]


class BackupOut(View):
    folder: str
    manifest: dict[str, Any]


class RetryOut(View):
    retried: list[int]


@router.get("", response_model=SystemOut)
async def system_info(request: Request, user: Admin) -> dict[str, Any]:
    """Everything a support person asks for first."""
    return await get_services(request).system.info()


@router.post("/backup", response_model=BackupOut)
async def run_backup(request: Request, user: Admin) -> dict[str, Any]:
    """Take a backup now (the database and the recordings, with its manifest)."""
    return await get_services(request).system.backup(actor(user, request))


@router.post("/recordings/retry", response_model=RetryOut)
async def retry_recordings(request: Request, user: Admin) -> dict[str, Any]:
    """Re-queue the failed and missing recording jobs."""
    return {"retried": await get_services(request).system.retry_recordings(actor(user, request))}
