""" "Check now" for a mailbox (`/admin/mailboxes`): log in over IMAP and open its folders
at once, keep the outcome in `last_error` (cleared when it worked) and wake the poller
for a round. What the admin sees: which folders opened, or the server's refusal.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from crm.errors import CrmError, NotFound
from crm.mail.imap import ImapAccount, ImapError, imap_session
from crm.mail.mailboxes import MAILBOX_NOT_FOUND, MailboxService
from crm.mail.models import Mailbox

TIMEOUT = 15.0  # seconds for the whole check


@dataclass(frozen=True, slots=True)
class CheckResult:
    ok: bool
    folders: tuple[str, ...]  # the folders that opened
    error: str | None


async def check_mailbox(
    service: MailboxService, mailbox_id: int, *, timeout: float = TIMEOUT
) -> CheckResult:
    """Connect to the mailbox now; `NotFound` when it does not exist."""
    async with service.db.session() as session:
        box = await session.get(Mailbox, mailbox_id)
        if box is None:
            raise NotFound(MAILBOX_NOT_FOUND, field="mailbox_id")
        host, port, ssl, login = box.imap_host, box.imap_port, box.imap_ssl, box.login
        folders = tuple(dict.fromkeys(f for f in (box.folder, box.sent_folder) if f))
        encrypted = box.password_encrypted
    opened: list[str] = []
    error: str | None = None
    try:
        password = service.passwords.decrypt(encrypted)
        account = ImapAccount(host, port, ssl, login, password, timeout=timeout)
        async with asyncio.timeout(timeout), imap_session(account) as imap:
            for folder in folders:
                await imap.select(folder)
                opened.append(folder)
    except CrmError as exc:
        error = exc.message
    except (ImapError, OSError, TimeoutError) as exc:
        error = str(exc) or type(exc).__name__
    await service.checked(mailbox_id, error)
    return CheckResult(error is None, tuple(opened), error)
