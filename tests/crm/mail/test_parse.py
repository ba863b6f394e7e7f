"""Letters parsed without a server: hostile HTML becomes text, nothing makes the parser
raise; mailbox passwords are encrypted with the secret key."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm.errors import InvalidInput
from crm.mail.crypto import PasswordBox
from crm.mail.html_text import html_to_text
from crm.mail.parse import parse_letter
from tests.crm.mail.kit_mail import letter


def test_html_becomes_text_without_scripts_styles_or_tags() -> None:
    html = (
        "<html><head><title>T</title><style>b{}</style></head><body>"
        "<script>alert(1)</script><h1>Offer</h1><p>Price:&nbsp;10&euro; &lt;net&gt;</p>"
        "<ul><li>one</li><li>two</li></ul><img src=x onerror=alert(2)>bye</body></html>"
    )
    assert html_to_text(html) == "Offer\n\nPrice: 10€ <net>\n\none\n\ntwo\n\nbye"
    assert html_to_text("<p>unclosed <b>tags <script>never") == "unclosed tags"


def test_a_letter_with_text_and_html_keeps_the_text_part() -> None:
    raw, message_id = letter(text="plain words", html="<p>html words</p>")
    parsed = parse_letter(raw, max_attachment=100)
    assert parsed.text.strip() == "plain words"
    assert parsed.message_id == message_id and parsed.problems == []


def test_encoded_headers_and_names_are_decoded() -> None:
    raw = (
        b"From: =?utf-8?B?0JjQstCw0L0=?= <Ivan@Example.ORG>\r\n"
        b"To: a@b.example, =?utf-8?Q?=D0=9E=D0=BB=D1=8F?= <olya@b.example>\r\n"
        b"Subject: =?koi8-r?B?8NLJ18XU?=\r\nDate: Sun, 06 Dec 2026 10:00:00 +0300\r\n"
        b"References: <a@x> <b@x>\r\nIn-Reply-To: <b@x>\r\n\r\nbody\r\n"
    )
    parsed = parse_letter(raw, max_attachment=100)
    assert (parsed.from_name, parsed.from_address) == ("Иван", "ivan@example.org")
    assert parsed.to == ["a@b.example", "olya@b.example"]
    assert parsed.subject == "Привет"
    assert parsed.references == ["<a@x>", "<b@x>"] and parsed.in_reply_to == "<b@x>"
    assert parsed.date is not None and parsed.date.hour == 7


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=2000))
def test_no_bytes_make_the_parser_raise(raw: bytes) -> None:
    parsed = parse_letter(raw, max_attachment=100)
    assert isinstance(parsed.text, str)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300), st.text(max_size=300))
def test_no_header_or_body_text_makes_the_parser_raise(header: str, body: str) -> None:
    raw = f"From: {header}\r\nSubject: {header}\r\nContent-Type: {header}\r\n\r\n{body}"
    parse_letter(raw.encode("utf-8", "surrogateescape"), max_attachment=100)


def test_passwords_are_encrypted_and_need_the_same_secret_key() -> None:
    box = PasswordBox(b"secret one")
    token = box.encrypt("app password")
    assert "app password" not in token
    assert box.decrypt(token) == "app password"
    with pytest.raises(InvalidInput) as refused:
        PasswordBox(b"secret two").decrypt(token)
    assert refused.value.field == "password"
    with pytest.raises(InvalidInput):
        PasswordBox(b"random of this process", persistent=False).encrypt("app password")
