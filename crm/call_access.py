"""Who may see a call and hear its recording: the CRM's role rules applied to calls.

- Supervisors and admins: every call.
- An agent: the calls they took part in — one of their interfaces (``PJSIP/101``,
  ``Local/101@agents``, compared by :func:`kernel.agents.agent_key`) answered the call
  (``agent_interface``) or talked in it (``agents``: everyone the caller spoke to, e.g.
  before and after a transfer) — and every call linked to a contact, because every
  signed-in user reads every contact's card and timeline (``crm.access``), and the
  timeline lists the contact's calls.
- An agent does not see calls of unknown numbers that other agents took, nor
  internal or unanswered calls that no contact is linked to and no interface of theirs
  answered.

The same rule filters ``GET /api/calls`` (in SQL, :func:`visible_clause`), guards
``GET /api/calls/<id>`` and the call page, and guards the recording's audio and player
data. Legal holds and the audit trail are for supervisors and admins only.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from sqlalchemy import ColumnElement, String, cast, false, func, or_

from crm.call_records import CallRow
from crm.models import Role
from crm.users import UserInfo
from kernel.agents import agent_key


class CallFacts(Protocol):
    """What the rule reads of a call (a `CallRow` or a plain row of its columns)."""

    @property
    def agent_interface(self) -> str | None: ...

    @property
    def agents(self) -> Any: ...

    @property
    def contact_id(self) -> int | None: ...


def is_manager(user: UserInfo) -> bool:
    return user.role in (Role.SUPERVISOR, Role.ADMIN)


def took_part(user: UserInfo, call: CallFacts) -> bool:
    """One of the user's interfaces answered or talked in the call."""
    mine = {agent_key(i) for i in user.interfaces}
    if not mine:
        return False
    talked: Iterable[str] = call.agents or ()
    names = [call.agent_interface, *talked]
    return any(name and agent_key(name) in mine for name in names)


def may_see(user: UserInfo, call: CallFacts) -> bool:
    """The call's record, its page and its recording are open to this user."""
    if not user.active:
        return False
    if is_manager(user):
        return True
    return call.contact_id is not None or took_part(user, call)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def visible_clause(user: UserInfo) -> ColumnElement[bool] | None:
    """A WHERE clause on `calls` with the same outcome as :func:`may_see` (None: all)."""
    if is_manager(user):
        return None
    keys = sorted({agent_key(i) for i in user.interfaces})
    clauses: list[ColumnElement[bool]] = [CallRow.contact_id.is_not(None)]
    if keys:
        answered = func.lower(CallRow.agent_interface)
        clauses.append(answered.in_(keys + [f"{k}/n" for k in keys]))
        # `agents` is a JSON list of interface names; match a whole quoted element.
        talked = func.lower(cast(CallRow.agents, String))
        for key in keys:
            for name in (key, f"{key}/n"):
                clauses.append(talked.like(f'%"{_like_escape(name)}"%', escape="\\"))
    return or_(*clauses) if clauses else false()
