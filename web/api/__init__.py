"""The REST API under /api/: one router per resource, services from `crm`.

Every route needs a signed-in user (`web.auth.current_user`); writes must be JSON.
Errors are JSON `{"code", "message", "field"}` (see `web.errors`).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from web.api import (
    cards,
    companies,
    contacts,
    deals,
    my_work,
    notes,
    pipelines,
    queues,
    search,
    tasks,
    users,
)
from web.auth import current_user, require_json

router = APIRouter(prefix="/api", dependencies=[Depends(require_json), Depends(current_user)])
for module in (contacts, companies, users, notes, tasks, pipelines, deals, search, cards, queues):
    router.include_router(module.router)
router.include_router(my_work.router)
