"""The AMI codec: whole frames only, Cyrillic split across reads, cp1251, bad input."""

from __future__ import annotations

import pytest

from telephony.codec import AmiDecoder, EncodeError, FrameKind, encode_action
from tests.kit_traces import trace_path

BANNER = b"Asterisk Call Manager/11.0.0\r\n"
NAME_UTF8 = "Иван Петров".encode()
NAME_CP1251 = "Ольга Смирнова".encode("cp1251")


def newcallerid(name: bytes) -> bytes:
    return (
        b"Event: NewCallerid\r\nPrivilege: call,all\r\nChannel: Local/1@from-trunk-00000000;2\r\n"
        b"Uniqueid: 1.1\r\nLinkedid: 1.0\r\nCallerIDNum: 84951110001\r\nCallerIDName: "
        + name
        + b"\r\n\r\n"
    )


def test_banner_then_frames_in_one_read() -> None:
    decoder = AmiDecoder()
    frames = decoder.feed(
        BANNER + b"Response: Success\r\nActionID: crm-1\r\nMessage: Authentication accepted\r\n\r\n"
    )
    assert [f.kind for f in frames] == [FrameKind.BANNER, FrameKind.RESPONSE]
    assert frames[0].name == "Asterisk Call Manager/11.0.0"
    assert frames[1].name == "Success"
    assert frames[1].action_id == "crm-1"
    assert frames[1].get("Message") == "Authentication accepted"


@pytest.mark.parametrize("cut", range(1, len(BANNER) + 40))
def test_banner_split_anywhere(cut: int) -> None:
    data = BANNER + newcallerid(b"Agent")
    decoder = AmiDecoder()
    frames = decoder.feed(data[:cut]) + decoder.feed(data[cut:])
    assert [f.kind for f in frames] == [FrameKind.BANNER, FrameKind.EVENT]


def test_cyrillic_name_split_inside_a_character_survives() -> None:
    data = newcallerid(NAME_UTF8)
    start = data.index(NAME_UTF8)
    for cut in range(start, start + len(NAME_UTF8) + 1):
        decoder = AmiDecoder(expect_banner=False)
        frames = decoder.feed(data[:cut]) + decoder.feed(data[cut:])
        assert len(frames) == 1
        assert frames[0].get("CallerIDName") == "Иван Петров"
        assert not frames[0].fallback_decoded


def test_cp1251_name_is_decoded_not_dropped() -> None:
    decoder = AmiDecoder(expect_banner=False)
    (frame,) = decoder.feed(newcallerid(NAME_CP1251))
    assert frame.get("CallerIDName") == "Ольга Смирнова"
    assert frame.get("CallerIDNum") == "84951110001"
    assert frame.fallback_decoded


def test_byte_by_byte_feeding_gives_the_same_frames() -> None:
    data = trace_path("08-cyrillic-callerid.ami").read_bytes()[:20000]
    whole = AmiDecoder().feed(data)
    decoder = AmiDecoder()
    pieces = []
    for i in range(len(data)):
        pieces.extend(decoder.feed(data[i : i + 1]))
    assert [(f.kind, f.name, f.raw) for f in pieces] == [(f.kind, f.name, f.raw) for f in whole]


def test_header_case_and_repeats() -> None:
    decoder = AmiDecoder(expect_banner=False)
    (frame,) = decoder.feed(
        b"Event: UserEvent\r\nUniqueID: 1.2\r\nUniqueid: 1.3\r\nOutput: a\r\nOutput: b\r\n\r\n"
    )
    assert frame.get("uniqueid") == "1.2"  # the first of a repeated header wins
    assert frame.get_all("Uniqueid") == ["1.2", "1.3"]
    assert frame.get_all("output") == ["a", "b"]


def test_line_without_colon_skips_only_that_frame() -> None:
    decoder = AmiDecoder(expect_banner=False)
    frames = decoder.feed(b"Event: Newstate\r\nthis line has no colon\r\n\r\n" + newcallerid(b"Ok"))
    good = [f for f in frames if f.name == "NewCallerid"]
    assert len(good) == 1
    from telephony.codec import FrameError

    bad = [f for f in frames if f.name == "Newstate"]
    with pytest.raises(FrameError):
        bad[0].headers  # noqa: B018


def test_garbage_between_frames_is_counted_and_skipped() -> None:
    decoder = AmiDecoder(expect_banner=False)
    frames = decoder.feed(b"\x00\xff\xfe garbage\r\n\r\n" + newcallerid(b"Ok") + b"%%%\r\n\r\n")
    assert [f.name for f in frames] == ["NewCallerid"]
    assert decoder.stats.malformed == 2
    assert decoder.problems[0].reason == "line without ':'"
    assert "garbage" in decoder.problems[0].sample


def test_one_megabyte_header_is_skipped_and_later_frames_survive() -> None:
    decoder = AmiDecoder(expect_banner=False)
    huge = b"Event: VarSet\r\nValue: " + b"x" * (1024 * 1024) + b"\r\n\r\n"
    frames = []
    for i in range(0, len(huge), 65536):
        frames += decoder.feed(huge[i : i + 65536])
    frames += decoder.feed(newcallerid(b"After"))
    assert [f.get("CallerIDName") for f in frames] == ["After"]
    assert decoder.stats.oversized == 1
    assert len(decoder.problems[-1].sample) < 200


def test_oversized_frame_arriving_in_one_read() -> None:
    decoder = AmiDecoder(expect_banner=False, max_frame=1000)
    frames = decoder.feed(b"Event: X\r\nA: " + b"y" * 5000 + b"\r\n\r\n" + newcallerid(b"Next"))
    assert [f.name for f in frames] == ["NewCallerid"]
    assert decoder.stats.oversized == 1


def test_connection_dropping_mid_frame_is_counted() -> None:
    decoder = AmiDecoder()
    data = BANNER + newcallerid(b"Whole") + newcallerid(b"Half")[:40]
    frames = decoder.feed(data)
    assert [f.get("CallerIDName") for f in frames[1:]] == ["Whole"]
    decoder.eof()
    assert decoder.stats.truncated_at_eof == 1
    # A new connection starts clean, banner first.
    frames = decoder.feed(BANNER + newcallerid(b"New"))
    assert [f.kind for f in frames] == [FrameKind.BANNER, FrameKind.EVENT]


def test_stray_blank_lines_between_frames() -> None:
    decoder = AmiDecoder(expect_banner=False)
    frames = decoder.feed(b"\r\n\r\n" + newcallerid(b"A") + b"\r\n" + newcallerid(b"B"))
    assert [f.get("CallerIDName") for f in frames] == ["A", "B"]
    assert decoder.stats.malformed == 0


def test_no_banner_from_a_proxy() -> None:
    decoder = AmiDecoder()
    frames = decoder.feed(newcallerid(b"A"))
    assert [f.name for f in frames] == ["NewCallerid"]


def test_encode_action() -> None:
    raw = encode_action(
        "QueuePause", {"ActionID": "t-1", "Interface": "PJSIP/101", "Paused": True, "Queue": None}
    )
    assert (
        raw
        == b"Action: QueuePause\r\nActionID: t-1\r\nInterface: PJSIP/101\r\nPaused: true\r\n\r\n"
    )
    assert encode_action("Originate", [("Variable", "A=1"), ("Variable", "B=Иван")]).endswith(
        "Variable: B=Иван\r\n\r\n".encode()
    )


@pytest.mark.parametrize("bad", ["lunch\r\nAction: Hangup", "x\ny", "nul\x00"])
def test_encode_action_refuses_header_injection(bad: str) -> None:
    with pytest.raises(EncodeError):
        encode_action("QueuePause", {"Reason": bad})


def test_an_event_is_timed_by_its_timestamp_header_when_asterisk_sends_one() -> None:
    from telephony.pipeline import event_time

    decoder = AmiDecoder()
    stamped, plain, broken = decoder.feed(
        b"Asterisk Call Manager/11.0.0\r\n"
        b"Event: Newstate\r\nTimestamp: 1796525216.412345\r\n\r\n"
        b"Event: Newstate\r\n\r\n"
        b"Event: Newstate\r\nTimestamp: soon\r\n\r\n"
    )[1:]
    assert event_time(stamped, 1796525300.0) == 1796525216.412345
    assert event_time(plain, 1796525300.0) == 1796525300.0
    assert event_time(broken, 1796525300.0) == 1796525300.0
