"""Who is acting, and what they may do: the role rules in one place.

Rules (also in README):
- Everyone signed in reads every contact, company, deal, note and open task: an agent
  must see the card of whoever calls.
- Contacts and companies: an agent edits the records they own and *shared* ones (no
  owner); a record owned by another agent is read-only for them (they may still add notes
  and tasks to it). An agent may take a shared record (set the owner to themselves) but
  not give a record to someone else. Supervisors and admins edit everything; only they
  delete contacts and companies.
- Notes: anyone adds; the author edits and deletes their own; supervisors and admins any.
- Tasks: an agent creates tasks for themselves, edits tasks assigned to or created by
  them, and their task list shows only those; supervisors and admins see and assign all.
- Deals: anyone creates (owned by themselves); the owner edits; supervisors and admins
  edit and reassign all.
- Users, pipelines and other settings: admins manage; everyone reads the user list.
"""

from __future__ import annotations

from dataclasses import dataclass

from crm.errors import Forbidden
from crm.models import Role


@dataclass(frozen=True, slots=True)
class Actor:
    """The user on whose behalf a service call runs (`user_id` None for the system)."""

    user_id: int | None
    role: Role
    name: str = ""

    @classmethod
    def system(cls) -> Actor:
        """The command line and background jobs: full rights, no user."""
        return cls(user_id=None, role=Role.ADMIN, name="system")

    @property
    def is_manager(self) -> bool:
        """Supervisors and admins: see and edit everything."""
        return self.role in (Role.SUPERVISOR, Role.ADMIN)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    def can_edit_owned(self, owner_id: int | None) -> bool:
        return self.is_manager or owner_id is None or owner_id == self.user_id

    def require_edit_owned(self, owner_id: int | None, what: str) -> None:
        if not self.can_edit_owned(owner_id):
            raise Forbidden(
                f"this {what} belongs to another manager; ask a supervisor to change it"
            )

    def require_assign(
        self, new_owner_id: int | None, current_owner_id: int | None, what: str
    ) -> None:
        """An agent may only take a record for themselves or leave it as it is."""
        if self.is_manager or new_owner_id == current_owner_id:
            return
        if new_owner_id is not None and new_owner_id == self.user_id:
            return
        raise Forbidden(f"only a supervisor can give this {what} to someone else", field="owner_id")

    def require_manager(self, action: str) -> None:
        if not self.is_manager:
            raise Forbidden(f"only a supervisor or an admin can {action}")

    def require_admin(self, action: str) -> None:
        if not self.is_admin:
            raise Forbidden(f"only an admin can {action}")
