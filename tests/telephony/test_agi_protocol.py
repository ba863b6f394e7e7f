"""The FastAGI codec, sans I/O: environments from the real traces, replies, quoting."""

from __future__ import annotations

import pytest

from telephony.agi import (
    HANGUP,
    MAX_LINE,
    AgiProtocolError,
    AgiValueError,
    EnvironmentParser,
    ReplyParser,
    clean_text,
    display_name,
    quote,
    set_variable,
)
from tests.telephony.kit_fake_asterisk import parse_args, trace_environments

TRACES = [
    "01-queue-answered",
    "02-queue-abandoned-ringing",
    "03-fastagi-route-to-102",
    "05-load-20-calls",
    "06-ami-actions",
    "07-queue-member-pause",
    "08-cyrillic-callerid",
]


@pytest.mark.parametrize("trace", TRACES)
def test_every_real_environment_parses_whole_and_byte_by_byte(trace: str) -> None:
    for env in trace_environments(trace):
        whole = EnvironmentParser().feed(env)
        assert whole is not None
        assert whole.script == "route"
        assert whole.uniqueid and whole.channel and whole.get("agi_version") == "22.10.1"
        assert whole.get("agi_callerid", "").isdigit()
        parser = EnvironmentParser()
        results = [parser.feed(env[i : i + 1]) for i in range(len(env))]
        assert results[:-1] == [None] * (len(env) - 1)
        assert results[-1] == whole


def test_environment_fields() -> None:
    env = trace_environments("03-fastagi-route-to-102")[0]
    request = EnvironmentParser().feed(env)
    assert request is not None
    assert request.uniqueid == "1795717820.15"
    assert request.channel == "Local/79161234567@from-trunk-00000007;2"
    assert request.args == ["79161234567"]
    assert request.get("agi_dnid") == "unknown"
    assert request.get("agi_accountcode") == ""


@pytest.mark.parametrize(
    ("script", "request_url", "expected"),
    [
        ("route", None, "route"),
        ("route?trunk=1", None, "route"),
        ("/route/", None, "route"),
        (None, "agi://127.0.0.1:4573/route?x=1", "route"),
        ("other", None, "other"),
        (None, None, ""),
    ],
)
def test_script_path(script: str | None, request_url: str | None, expected: str) -> None:
    lines = b"agi_uniqueid: 1.1\n"
    if script is not None:
        lines += f"agi_network_script: {script}\n".encode()
    if request_url is not None:
        lines += f"agi_request: {request_url}\n".encode()
    request = EnvironmentParser().feed(lines + b"\n")
    assert request is not None and request.script == expected


def test_cyrillic_split_across_reads_and_cp1251_names_survive() -> None:
    utf8 = "agi_calleridname: Иван Петров\n\n".encode()
    cut = utf8.index("Петров".encode()) + 1  # in the middle of a two-byte letter
    parser = EnvironmentParser()
    assert parser.feed(utf8[:cut]) is None
    request = parser.feed(utf8[cut:])
    assert request is not None and request.get("agi_calleridname") == "Иван Петров"
    cp1251 = EnvironmentParser().feed("agi_calleridname: Ольга Смирнова\n\n".encode("cp1251"))
    assert cp1251 is not None and cp1251.get("agi_calleridname") == "Ольга Смирнова"


def test_crlf_line_ends_are_accepted() -> None:
    request = EnvironmentParser().feed(b"agi_callerid: 100\r\nagi_network_script: route\r\n\r\n")
    assert request is not None and request.get("agi_callerid") == "100"


def test_over_long_lines_are_cut_and_flagged() -> None:
    huge = b"agi_callerid: " + b"7" * (MAX_LINE * 3) + b"\nagi_uniqueid: 1.2\n\n"
    parser = EnvironmentParser()
    request = None
    for i in range(0, len(huge), 1000):
        request = parser.feed(huge[i : i + 1000]) or request
    assert request is not None
    assert request.oversized == {"agi_callerid"}
    assert len(request.get("agi_callerid") or "") < MAX_LINE
    assert request.uniqueid == "1.2"


@pytest.mark.parametrize(
    "data",
    [
        b"GET /route HTTP/1.1\r\nHost: x\r\n\r\n",
        b"agi_callerid 100\n\n",
        b"\x00\x01\x02: x\n\n",
        b"".join(b"agi_x%d: 1\n" % i for i in range(300)),
        b"agi_callerid: 1\n" + b"9" * (200 * 1024),
    ],
)
def test_garbage_environments_are_refused(data: bytes) -> None:
    with pytest.raises(AgiProtocolError):
        EnvironmentParser().feed(data)


def test_bytes_after_the_environment_are_kept() -> None:
    parser = EnvironmentParser()
    assert parser.feed(b"agi_uniqueid: 1\n\nHANGUP\n") is not None
    assert parser.rest == b"HANGUP\n"
    with pytest.raises(AgiProtocolError):
        parser.feed(b"more")


def test_replies_as_asterisk_sends_them() -> None:
    parser = ReplyParser()
    replies = parser.feed(
        b"200 result=1\n200 result=1 (1795717820.15)\n200 result=0\n"
        b"510 Invalid or unknown command\n"
    )
    assert [(r.code, r.result, r.data) for r in replies] == [
        (200, "1", None),
        (200, "1", "1795717820.15"),
        (200, "0", None),
        (510, None, None),
    ]
    assert [r.ok for r in replies] == [True, True, True, False]
    usage = parser.feed(
        b"520-Invalid command syntax.  Proper usage follows:\n Usage: SET VARIABLE\n"
    )
    assert usage == []
    (end,) = parser.feed(b"520 End of proper usage.\n")
    assert end.code == 520 and "Usage: SET VARIABLE" in end.text
    assert parser.feed(b"HANGUP\n200 res") == [HANGUP]
    assert [r.code for r in parser.feed(b"ult=1\n")] == [200]
    with pytest.raises(AgiProtocolError):
        parser.feed(b"hello there\n")


@pytest.mark.parametrize(
    "value",
    [
        "",
        "Local/102@agents/n",
        'Иван "Ваня" Петров',
        "back\\slash\\",
        "tab\there",
        " spaces  ",
        '"',
        '\\"',
    ],
)
def test_values_round_trip_through_asterisks_parser(value: str) -> None:
    line = set_variable("ROUTE_REASON", value).decode()
    assert line.endswith("\n")
    assert parse_args(line[:-1]) == ["SET", "VARIABLE", "ROUTE_REASON", value]


@pytest.mark.parametrize("value", ["two\nlines", "cr\r", "nul\0"])
def test_values_that_would_break_the_line_are_refused(value: str) -> None:
    with pytest.raises(AgiValueError):
        quote(value)


@pytest.mark.parametrize(
    "name", ["ROUTE AGENT", "ROUTE_AGENT\n", "", "1ABC", 'X("y")', "A" * 100, "CALLERID(name) x"]
)
def test_bad_variable_names_are_refused(name: str) -> None:
    with pytest.raises(AgiValueError):
        set_variable(name, "x")


def test_function_names_are_allowed() -> None:
    assert set_variable("CALLERID(name)", "Иван") == 'SET VARIABLE CALLERID(name) "Иван"\n'.encode()


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("Иван Петров", "Иван Петров"),
        ('Иван "Ваня" Петров', "Иван Ваня Петров"),
        ("Ivanov\r\nDial: evil", "Ivanov Dial: evil"),
        ("a\x00b\x07c\x1bd", "abcd"),
        ("\u202eevil\u202c name", "evil name"),  # bidi overrides spoof what the phone shows
        ("back\\slash", "backslash"),
        ("  lots   of\tspace  ", "lots of space"),
        ("Ж" * 100, "Ж" * 64),
        ('"""', ""),
    ],
)
def test_display_names_are_sanitized(name: str, shown: str) -> None:
    assert display_name(name) == shown


def test_clean_text_caps_and_keeps_quotes() -> None:
    assert clean_text('a "quoted"\nreason', 200) == 'a "quoted" reason'
    assert clean_text("x" * 300, 200) == "x" * 200
