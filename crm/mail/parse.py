"""A letter's bytes → what Trubka keeps of it. Pure, and never raises: whatever cannot be
read (an unknown charset, a broken header, no From, an attachment over the cap) is
recorded in `problems` and the rest is kept.

Letters are hostile input: only text is kept (an HTML-only letter's text comes from
`crm.mail.html_text`), header values are decoded and cut to the columns' sizes, file
names lose paths and control characters.
"""

from __future__ import annotations

import codecs
import email
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime

from crm.mail.html_text import html_to_text

MAX_TEXT = 100_000  # characters of a letter's text kept
MAX_REFERENCES = 30
_MESSAGE_ID = re.compile(r"<[^<>\s]{1,490}>")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\]")


@dataclass(slots=True)
class ParsedAttachment:
    filename: str
    content_type: str
    size: int
    content: bytes | None  # None: not kept (see `refused`)
    refused: str | None = None


@dataclass(slots=True)
class ParsedLetter:
    message_id: str | None
    in_reply_to: str | None
    references: list[str]
    subject: str
    from_address: str
    from_name: str
    to: list[str]
    cc: list[str]
    date: datetime | None
    text: str
    size: int
    attachments: list[ParsedAttachment] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def addresses(self) -> list[str]:
        """Every address of the letter (From, To, Cc), lower case, in that order, once."""
        found = [self.from_address, *self.to, *self.cc]
        return list(dict.fromkeys(a for a in found if a))


def _decoded(raw: str | None, problems: list[str], what: str) -> str:
    if raw is None:
        return ""
    try:
        text = str(make_header(decode_header(raw)))
    except (LookupError, UnicodeError, ValueError, TypeError) as exc:
        problems.append(f"{what}: cannot decode ({type(exc).__name__})")
        text = raw
    return _CONTROL.sub(" ", text).strip()


def _header(message: Message, name: str) -> str | None:
    try:
        value = message.get(name)
    except Exception:  # a header the parser cannot even give back
        return None
    return None if value is None else str(value)


def _addresses(message: Message, name: str, problems: list[str]) -> list[tuple[str, str]]:
    try:
        values = [str(v) for v in message.get_all(name, [])]
        pairs = getaddresses(values)
    except Exception as exc:
        problems.append(f"{name}: cannot read the addresses ({type(exc).__name__})")
        return []
    found = []
    for display, address in pairs:
        address = _CONTROL.sub("", address).strip().lower()
        if "@" in address and len(address) <= 254:
            found.append((_decoded(display, problems, name)[:255], address))
    return found


def _message_id(raw: str | None) -> str | None:
    found = _MESSAGE_ID.findall(raw or "")
    return found[0] if found else None


def _date(raw: str | None, problems: list[str]) -> datetime | None:
    if not raw:
        problems.append("no Date")
        return None
    try:
        value = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        problems.append("Date: cannot read it")
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _part_text(part: Message, problems: list[str]) -> str:
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    charset = part.get_content_charset() or "us-ascii"
    try:
        codecs.lookup(charset)
    except LookupError:
        problems.append(f"unknown charset {charset[:40]!r}: read as UTF-8")
        charset = "utf-8"
    text = data.decode(charset, errors="replace")
    if charset in ("us-ascii", "ascii") and "\ufffd" in text:
        text = data.decode("utf-8", errors="replace")
    return text


def _filename(part: Message, n: int, problems: list[str]) -> str:
    try:
        raw = part.get_filename()
    except Exception:
        raw = None
    name = _decoded(raw, problems, "attachment name") if raw else ""
    name = _UNSAFE_NAME.sub("_", name).strip(" .")[:200]
    return name or f"attachment-{n}"


def _is_attachment(part: Message) -> bool:
    disposition = (part.get_content_disposition() or "").lower()
    if disposition == "attachment":
        return True
    if part.get_content_maintype() == "text" and part.get_filename() is None:
        return False
    return part.get_filename() is not None or part.get_content_maintype() != "text"


def parse_letter(raw: bytes, *, max_attachment: int, headers_only: bool = False) -> ParsedLetter:
    """What Trubka keeps of the letter `raw` (`headers_only`: its body was not fetched)."""
    problems: list[str] = []
    message = email.message_from_bytes(raw)
    senders = _addresses(message, "From", problems)
    if not senders:
        problems.append("no From")
    from_name, from_address = senders[0] if senders else ("", "")
    letter = ParsedLetter(
        message_id=_message_id(_header(message, "Message-ID")),
        in_reply_to=_message_id(_header(message, "In-Reply-To")),
        references=_MESSAGE_ID.findall(_header(message, "References") or "")[-MAX_REFERENCES:],
        subject=_decoded(_header(message, "Subject"), problems, "Subject")[:1000],
        from_address=from_address,
        from_name=from_name,
        to=[a for _, a in _addresses(message, "To", problems)][:50],
        cc=[a for _, a in _addresses(message, "Cc", problems)][:50],
        date=_date(_header(message, "Date"), problems),
        text="",
        size=len(raw),
        problems=problems,
    )
    if headers_only:
        return letter
    plain: str | None = None
    html: str | None = None
    n = 0
    try:
        parts = list(message.walk())
    except Exception as exc:
        problems.append(f"cannot read the parts ({type(exc).__name__})")
        parts = []
    for part in parts:
        if part.is_multipart():
            continue
        try:
            if _is_attachment(part):
                n += 1
                letter.attachments.append(_attachment(part, n, max_attachment, problems))
            elif part.get_content_subtype() == "html":
                html = _part_text(part, problems) if html is None else html
            elif plain is None:
                plain = _part_text(part, problems)
        except Exception as exc:  # one broken part never loses the others
            problems.append(f"part {n}: cannot read it ({type(exc).__name__})")
    if plain is not None and plain.strip():
        letter.text = plain
    elif html is not None:
        letter.text = html_to_text(html)
    letter.text = letter.text.replace("\r\n", "\n").replace("\x00", "")
    if len(letter.text) > MAX_TEXT:
        letter.text = letter.text[:MAX_TEXT]
        problems.append(f"text cut to {MAX_TEXT} characters")
    return letter


def _attachment(part: Message, n: int, cap: int, problems: list[str]) -> ParsedAttachment:
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    content_type = _CONTROL.sub("", part.get_content_type())[:255]
    name = _filename(part, n, problems)
    if len(data) > cap:
        reason = f"larger than {cap} bytes: not kept"
        problems.append(f"attachment {name!r}: {reason}")
        return ParsedAttachment(name, content_type, len(data), None, reason)
    return ParsedAttachment(name, content_type, len(data), data)
