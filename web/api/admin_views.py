"""Response models of the administration API (`/api/users` extras, `/api/queues`,
`/api/audit`), so `/api/openapi.json` shows them."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from crm.schemas import UserView
from web.api.views import View


class AppliedView(View):
    """What a change meant at the PBX: the AMI actions sent, or a warning that it is only
    saved (Asterisk not connected, or it refused)."""

    applied: bool
    warning: str | None = None
    sent: list[str] = Field(default_factory=list)


class AdminUserView(UserView):
    """A user as an admin changes them, with what the change meant for their queues."""

    model_config = ConfigDict(extra="forbid")

    pbx: AppliedView | None = None


class PasswordResetView(View):
    """The new password, shown this once."""

    user: UserView
    password: str


class InterfaceCheckView(View):
    """Whether Asterisk knows the interface: `known` true/false, or null when it could not
    be asked (`reason`: `endpoint`, `no_endpoint`, `seen`, `not_connected`,
    `not_answered`, `not_checked`)."""

    interface: str
    known: bool | None
    reason: str
    device_state: str | None = None


class MemberView(View):
    user_id: int | None
    name: str
    login: str | None
    interface: str | None
    penalty: int
    in_asterisk: bool
    asterisk_penalty: int | None
    paused: bool
    managed: bool  # kept by Trubka (else a member Asterisk has on its own, e.g. static)


class QueueView(View):
    name: str
    strategy: str
    service_level: int | None
    in_asterisk: bool
    members: list[MemberView]


class QueuesView(View):
    items: list[QueueView]
    persistent_members: bool | None  # queues.conf `persistentmembers`; null: not known


class MembersView(View):
    items: list[MemberView]


class AuditEntryView(View):
    id: int
    at: str
    user_id: int | None
    login: str
    user_name: str
    role: str
    action: str
    outcome: str
    target: str | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


class AuditPageView(View):
    total: int
    entries: list[AuditEntryView]
