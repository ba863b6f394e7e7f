"""Streaming stored recordings over HTTP with byte ranges (what `<audio>` seeking uses).

`media_response` answers GET and HEAD for one object of a recordings store:

- always ``Accept-Ranges: bytes``, the length, the media type and an ETag;
- ``Range: bytes=a-b`` / ``a-`` / ``-n`` → 206 with ``Content-Range: bytes a-b/size``;
- a range that starts past the end → 416 with ``Content-Range: bytes */size``;
- a malformed or multi-part Range, or an ``If-Range`` that does not match → the whole file
  (200), as RFC 9110 allows;
- recordings are personal data: ``Cache-Control: private, no-store``.

It does not decide who may listen: the route that calls it (``web.api.recordings``)
checks the session and the role first, and audits the play or download.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from recordings.errors import StorageError
from recordings.storage import RecordingStorage
from web.errors import error_body

_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)
_FILENAME_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class RangeNotSatisfiable(Exception):
    """The requested range starts past the end of the file."""


@dataclass(frozen=True, slots=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The single byte range asked for, None to send everything, or RangeNotSatisfiable."""
    if not header or "," in header:
        return None
    match = _RANGE.match(header)
    if match is None:
        return None
    first, last = match.group(1), match.group(2)
    if not first and not last:
        return None
    if not first:
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable
        return ByteRange(max(size - suffix, 0), size - 1)
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None  # invalid: ignore the header
    if start >= size:
        raise RangeNotSatisfiable
    return ByteRange(start, min(end, size - 1))


def _etag(storage_key: str, size: int, sha256: str | None) -> str:
    if sha256:
        return f'"{sha256[:32]}"'
    return (
        f'"{size:x}-{hashlib.sha1(storage_key.encode(), usedforsecurity=False).hexdigest()[:16]}"'
    )


async def media_response(
    request: Request,
    storage: RecordingStorage,
    key: str,
    *,
    media_type: str,
    sha256: str | None = None,
    filename: str | None = None,
    download: bool = False,
) -> Response:
    """Stream `key` from `storage`, honouring Range (206/416) and HEAD."""
    try:
        found = await asyncio.to_thread(storage.stat, key)
    except StorageError:
        return _unavailable()
    if found is None:
        return JSONResponse(
            error_body("not_found", "the recording file is not in the store"), status_code=404
        )
    size = found.size
    etag = _etag(key, size, sha256)
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": etag,
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
    }
    if filename:
        safe = _FILENAME_UNSAFE.sub("_", filename)[:120] or "recording"
        headers["Content-Disposition"] = (
            f'{"attachment" if download else "inline"}; filename="{safe}"'
        )
    if_range = request.headers.get("if-range")
    try:
        wanted = parse_range(request.headers.get("range"), size)
    except RangeNotSatisfiable:
        return Response(
            status_code=416,
            headers={**headers, "Content-Range": f"bytes */{size}", "Content-Length": "0"},
        )
    if wanted is not None and if_range is not None and if_range.strip() != etag:
        wanted = None
    if wanted is None:
        status, start, length = 200, 0, size
    else:
        status, start, length = 206, wanted.start, wanted.length
        headers["Content-Range"] = f"bytes {wanted.start}-{wanted.end}/{size}"
    headers["Content-Length"] = str(length)
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=media_type)
    try:
        chunks = await asyncio.to_thread(storage.read, key, start, start + length)
    except StorageError:
        return _unavailable()
    return StreamingResponse(
        _stream(chunks), status_code=status, headers=headers, media_type=media_type
    )


async def _stream(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """Read the store in a thread, chunk by chunk; release it however the response ends
    (a browser that seeks elsewhere drops the connection mid-stream)."""
    try:
        while True:
            chunk = await asyncio.to_thread(next, chunks, None)
            if chunk is None:
                return
            yield chunk
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def _unavailable() -> JSONResponse:
    return JSONResponse(
        error_body("unavailable", "the recordings store cannot be read right now; try again"),
        status_code=503,
    )
