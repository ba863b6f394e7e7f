"""Errors of the recordings package.

RecordingError                 root: anything this package raises on purpose
├── StorageError               the store could not keep or read a file
│   └── StorageFull            no space left (ENOSPC/EDQUOT): the job is retried later
├── UnsafePath                 a file name from the PBX is refused (``..``, outside the dirs)
├── AudioError                 ffmpeg could not read or convert the file (``reason`` is ffmpeg's)
└── FfmpegUnavailable          ffmpeg/ffprobe (or the chosen encoder) is not installed
"""

from __future__ import annotations

import errno


class RecordingError(Exception):
    """Root of the recordings package's errors."""


class StorageError(RecordingError):
    """The store could not write, read or delete a file."""


class StorageFull(StorageError):
    """No space left on the device (or over quota); nothing partial was left behind."""


class UnsafePath(RecordingError):
    """A recording file name is refused (path traversal or a directory we do not serve)."""


class AudioError(RecordingError):
    """ffmpeg could not read or convert a recording; `reason` is what ffmpeg said."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class FfmpegUnavailable(RecordingError):
    """ffmpeg or ffprobe is missing, or lacks the encoder the settings ask for."""


NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


def is_no_space(exc: OSError) -> bool:
    return exc.errno in NO_SPACE
