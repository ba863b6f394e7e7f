"""Errors of the recordings package.

DomainError (kernel.errors)
└── RecordingError             recording_error      anything this package raises on purpose
    ├── StorageError           storage_error        the store could not keep or read a file
    │   └── StorageFull        storage_full         no space left (ENOSPC/EDQUOT): retried later
    ├── UnsafePath             unsafe_path          a file name from the PBX is refused (``..``,
    │                                               outside the dirs)
    ├── AudioError             audio_error          ffmpeg could not read or convert the file
    │                                               (``reason`` is ffmpeg's)
    └── FfmpegUnavailable      ffmpeg_unavailable   ffmpeg/ffprobe (or the chosen encoder) is
                                                    not installed

The worker records them on the job; none is an answer to an HTTP request (the web has no
status for them: one reaching a request is a server error).
"""

from __future__ import annotations

import errno

from kernel.errors import DomainError


class RecordingError(DomainError):
    """Root of the recordings package's errors."""

    code = "recording_error"

    def __init__(self, message: str) -> None:
        super().__init__(type(self).code, message)


class StorageError(RecordingError):
    """The store could not write, read or delete a file."""

    code = "storage_error"


class StorageFull(StorageError):
    """No space left on the device (or over quota); nothing partial was left behind."""

    code = "storage_full"


class UnsafePath(RecordingError):
    """A recording file name is refused (path traversal or a directory we do not serve)."""

    code = "unsafe_path"


class AudioError(RecordingError):
    """ffmpeg could not read or convert a recording; `reason` is what ffmpeg said."""

    code = "audio_error"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class FfmpegUnavailable(RecordingError):
    """ffmpeg or ffprobe is missing, or lacks the encoder the settings ask for."""

    code = "ffmpeg_unavailable"


NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


def is_no_space(exc: OSError) -> bool:
    return exc.errno in NO_SPACE
