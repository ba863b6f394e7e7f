"""The few IMAP commands Trubka uses (aioimaplib): log in, select a folder (its
UIDVALIDITY), the UIDs after the last one read, each letter's size, a letter's bytes
(or only its header) and APPEND (the Sent folder)."""

from __future__ import annotations

import re
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aioimaplib

_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")
_UID = re.compile(rb"UID (\d+)")
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


class ImapError(Exception):
    """The server refused a command or the connection failed (the reason is the text)."""


@dataclass(frozen=True, slots=True)
class ImapAccount:
    host: str
    port: int
    ssl: bool
    login: str
    password: str
    timeout: float = 30.0


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _check(response: Any, what: str) -> Any:
    if response.result != "OK":
        text = b" ".join(line for line in response.lines if isinstance(line, bytes))
        raise ImapError(f"{what}: {response.result} {text.decode(errors='replace')[:200]}")
    return response


class ImapSession:
    def __init__(self, client: Any) -> None:
        self.client = client

    async def select(self, folder: str) -> int:
        """Select `folder`; its UIDVALIDITY."""
        response = _check(await self.client.select(_quoted(folder)), f"SELECT {folder}")
        for line in response.lines:
            found = _UIDVALIDITY.search(bytes(line))
            if found:
                return int(found.group(1))
        raise ImapError(f"SELECT {folder}: no UIDVALIDITY")

    async def uids_after(self, last_uid: int) -> list[int]:
        """The UIDs above `last_uid`, in order (`n:*` also names the highest UID, which
        may be lower: it is left out)."""
        response = _check(
            await self.client.uid_search("UID", f"{last_uid + 1}:*", charset=None), "SEARCH"
        )
        found: set[int] = set()
        for line in response.lines[:-1]:
            found.update(int(word) for word in bytes(line).split() if word.isdigit())
        return sorted(uid for uid in found if uid > last_uid)

    async def sizes(self, uids: list[int]) -> dict[int, int]:
        if not uids:
            return {}
        wanted = ",".join(str(uid) for uid in uids)
        response = _check(await self.client.uid("fetch", wanted, "(UID RFC822.SIZE)"), "FETCH")
        sizes: dict[int, int] = {}
        for line in response.lines:
            line = bytes(line)
            uid, size = _UID.search(line), _SIZE.search(line)
            if uid and size:
                sizes[int(uid.group(1))] = int(size.group(1))
        return sizes

    async def fetch(self, uid: int, *, headers_only: bool = False) -> bytes | None:
        """The letter's bytes (or its header); None when the server has no such UID."""
        part = "BODY.PEEK[HEADER]" if headers_only else "BODY.PEEK[]"
        response = _check(await self.client.uid("fetch", str(uid), f"(UID {part})"), "FETCH")
        for line in response.lines:
            if isinstance(line, bytearray):
                return bytes(line)
        return None

    async def append(self, folder: str, message: bytes) -> None:
        response = await self.client.append(message, mailbox=_quoted(folder), flags="(\\Seen)")
        _check(response, f"APPEND {folder}")


@asynccontextmanager
async def imap_session(account: ImapAccount) -> AsyncIterator[ImapSession]:
    """A logged-in session; logged out (or dropped) at the end."""
    if account.ssl:
        client = aioimaplib.IMAP4_SSL(
            host=account.host,
            port=account.port,
            timeout=account.timeout,
            ssl_context=ssl.create_default_context(),
        )
    else:
        client = aioimaplib.IMAP4(host=account.host, port=account.port, timeout=account.timeout)
    try:
        await client.wait_hello_from_server()
        _check(await client.login(account.login, account.password), "LOGIN")
    except (OSError, TimeoutError, aioimaplib.AioImapException) as exc:
        _drop(client)
        raise ImapError(f"IMAP {account.host}:{account.port}: {exc or type(exc).__name__}") from exc
    except BaseException:  # a refused login, or the task cancelled: never leave the socket
        _drop(client)
        raise
    try:
        yield ImapSession(client)
    except (aioimaplib.AioImapException, TimeoutError) as exc:
        raise ImapError(f"IMAP {account.host}: {exc or type(exc).__name__}") from exc
    finally:
        try:
            await client.logout()
        except Exception:  # already gone: nothing to say goodbye to
            pass
        finally:  # also when cancelled during the goodbye
            _drop(client)


def _drop(client: Any) -> None:
    protocol = getattr(client, "protocol", None)
    transport = getattr(protocol, "transport", None)
    if transport is not None:
        transport.close()
