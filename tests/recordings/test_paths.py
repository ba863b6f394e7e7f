"""File names from the PBX are untrusted: refused names, and where accepted ones are found."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from recordings.errors import UnsafePath
from recordings.paths import SourcePolicy


@pytest.fixture
def policy(tmp_path: Path) -> SourcePolicy:
    (tmp_path / "pbx").mkdir()
    (tmp_path / "spool").mkdir()
    return SourcePolicy(pbx_dir=tmp_path / "pbx", spool=tmp_path / "spool")


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../../etc/passwd", "contains '..'"),
        ("/var/spool/asterisk/monitor/../../../etc/shadow", "contains '..'"),
        ("sub/../../x.wav", "contains '..'"),
        ("/etc/passwd", "outside the recordings directories"),
        ("/tmp/elsewhere/1795717766.1.wav", "outside the recordings directories"),
        ("", "empty file name"),
        ("a\nb.wav", "control characters"),
        ("x" * 2000, "longer than"),
    ],
)
def test_refused_names(policy: SourcePolicy, name: str, reason: str) -> None:
    with pytest.raises(UnsafePath, match=reason):
        policy.check(name)


def test_pbx_path_on_this_machine_is_used_first(policy: SourcePolicy) -> None:
    pbx_file = policy.pbx_dir / "1.wav"
    pbx_file.write_bytes(b"pbx")
    assert policy.spool is not None
    (policy.spool / "1.wav").write_bytes(b"spool copy")
    found = policy.locate(str(pbx_file))
    assert found is not None and found.path == pbx_file.resolve() and found.size == 3


def test_remote_pbx_path_is_looked_up_in_the_spool(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    (spool / "2026" / "11").mkdir(parents=True)
    policy = SourcePolicy(pbx_dir=Path("/var/spool/asterisk/monitor"), spool=spool)
    (spool / "flat.wav").write_bytes(b"a")
    (spool / "2026" / "11" / "tree.wav").write_bytes(b"bb")
    flat = policy.locate("/var/spool/asterisk/monitor/flat.wav")
    tree = policy.locate("/var/spool/asterisk/monitor/2026/11/tree.wav")
    relative = policy.locate("flat.wav")
    assert flat is not None and flat.path == (spool / "flat.wav").resolve()
    assert tree is not None and tree.path == (spool / "2026" / "11" / "tree.wav").resolve()
    assert relative is not None and relative.size == 1
    assert policy.locate("/var/spool/asterisk/monitor/absent.wav") is None


def test_symlink_out_of_the_spool_is_refused(policy: SourcePolicy, tmp_path: Path) -> None:
    secret = tmp_path / "secret.wav"
    secret.write_bytes(b"not yours")
    assert policy.spool is not None
    os.symlink(secret, policy.spool / "call.wav")
    with pytest.raises(UnsafePath, match="resolves to"):
        policy.locate("call.wav")


def test_directories_and_specials_are_not_files(policy: SourcePolicy) -> None:
    assert policy.spool is not None
    (policy.spool / "dir.wav").mkdir()
    assert policy.locate("dir.wav") is None


def test_owns(policy: SourcePolicy, tmp_path: Path) -> None:
    assert policy.spool is not None
    assert policy.owns(policy.spool / "x.wav")
    assert not policy.owns(tmp_path / "x.wav")
