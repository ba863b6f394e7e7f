"""Which recording file names are acceptable, and where such a file is on this machine.

The name comes from the PBX (``MIXMONITOR_FILENAME``, e.g.
``/var/spool/asterisk/monitor/1795717766.1.wav``): it is untrusted. It is refused when it
contains ``..``, control characters, or is an absolute path outside the PBX recordings
directory and the spool directory. An acceptable name is looked for:

1. at the PBX's own path (Asterisk on this machine);
2. in the spool at the same place relative to the PBX directory (a synced tree);
3. in the spool by its base name (recordings copied or mounted flat).

A file found there must really be inside one of the two directories after symlinks are
resolved; a symlink pointing elsewhere is refused too.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from recordings.errors import UnsafePath

MAX_NAME = 1024
AUDIO_SUFFIXES = frozenset(
    {".wav", ".wav16", ".gsm", ".wav49", ".ulaw", ".alaw", ".sln", ".mp3", ".ogg", ".opus", ".flac"}
)


@dataclass(frozen=True, slots=True)
class FoundFile:
    path: Path
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class SourcePolicy:
    pbx_dir: Path
    spool: Path | None = None
    others: tuple[Path, ...] = ()  # the other PBXes' spools (TRUBKA_PBXES), as roots only

    @property
    def roots(self) -> tuple[Path, ...]:
        roots = [self.pbx_dir]
        if self.spool is not None:
            roots.append(self.spool)
        roots.extend(self.others)
        return tuple(Path(os.path.abspath(root)) for root in roots)

    def check(self, name: str) -> PurePosixPath:
        """The name as a path, or UnsafePath with the reason it is refused."""
        if not name or not name.strip():
            raise UnsafePath("refused: empty file name")
        if len(name) > MAX_NAME:
            raise UnsafePath(f"refused: file name longer than {MAX_NAME} characters")
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
            raise UnsafePath("refused: file name contains control characters")
        path = PurePosixPath(name)
        if ".." in path.parts:
            raise UnsafePath(f"refused: file name {name!r} contains '..'")
        if path.is_absolute() and self._root_of(Path(path)) is None:
            dirs = " or ".join(str(root) for root in self.roots)
            raise UnsafePath(f"refused: {name!r} is outside the recordings directories ({dirs})")
        if not path.name or path.name in {".", ".."}:
            raise UnsafePath(f"refused: {name!r} does not name a file")
        return path

    def candidates(self, name: str) -> list[Path]:
        path = self.check(name)
        found: list[Path] = []
        if path.is_absolute():
            found.append(Path(path))
            relative = self._relative_to_pbx(Path(path))
        else:
            found.append(self.pbx_dir / path)
            relative = Path(path)
        if self.spool is not None:
            if relative is not None:
                found.append(self.spool / relative)
            found.append(self.spool / path.name)
        unique: list[Path] = []
        for candidate in found:
            if candidate not in unique:
                unique.append(candidate)
        return unique

    def locate(self, name: str) -> FoundFile | None:
        """The file on this machine (a regular file inside our directories) or None."""
        for candidate in self.candidates(name):
            try:
                info = candidate.stat()
            except (FileNotFoundError, NotADirectoryError):
                continue
            except PermissionError as exc:
                raise UnsafePath(f"refused: {candidate} is not readable ({exc.strerror})") from exc
            if not stat.S_ISREG(info.st_mode):
                continue
            real = Path(os.path.realpath(candidate))
            if self._root_of(real, resolve=True) is None:
                raise UnsafePath(
                    f"refused: {candidate} resolves to {real}, outside the recordings directories"
                )
            return FoundFile(real, info.st_size, info.st_mtime_ns)
        return None

    def owns(self, path: Path) -> bool:
        """True when `path` (resolved) is inside the PBX directory or the spool."""
        return self._root_of(Path(os.path.realpath(path)), resolve=True) is not None

    def _root_of(self, path: Path, *, resolve: bool = False) -> Path | None:
        normal = Path(os.path.normpath(path))
        for root in self.roots:
            base = Path(os.path.realpath(root)) if resolve else root
            if normal == base or normal.is_relative_to(base):
                return base
        return None

    def _relative_to_pbx(self, path: Path) -> Path | None:
        normal = Path(os.path.normpath(path))
        pbx = Path(os.path.abspath(self.pbx_dir))
        return normal.relative_to(pbx) if normal.is_relative_to(pbx) else None


def is_audio_name(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() in AUDIO_SUFFIXES and not name.startswith(".")
