"""Mailbox passwords, encrypted at rest with a key derived from TRUBKA_SECRET_KEY.

Fernet (AES-128-CBC + HMAC-SHA256) with a key from HKDF-SHA256 over the secret key, so
the database alone (a backup, a copy) does not give the mailboxes away. A changed secret
key makes the stored passwords unreadable: the poller says so per mailbox, and the admin
types the passwords again.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from crm.errors import InvalidInput

NO_SECRET_KEY = "set TRUBKA_SECRET_KEY before storing mailbox passwords"
UNREADABLE = "the stored password cannot be read (was TRUBKA_SECRET_KEY changed?)"


class PasswordBox:
    """Encrypts and decrypts mailbox passwords; `persistent` is False when the secret key
    is a random one of this process only (then nothing is stored: it would be lost)."""

    def __init__(self, secret: bytes, *, persistent: bool = True) -> None:
        key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=b"trubka-mailbox", info=b"password"
        ).derive(secret)
        self._fernet = Fernet(base64.urlsafe_b64encode(key))
        self.persistent = persistent

    def encrypt(self, password: str) -> str:
        if not self.persistent:
            raise InvalidInput(NO_SECRET_KEY, field="password")
        return self._fernet.encrypt(password.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, ValueError) as exc:
            raise InvalidInput(UNREADABLE, field="password") from exc
