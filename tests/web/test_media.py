"""Streaming a stored recording: ranges, 206, 416 in-process; HEAD and a browser's seeking
over a real uvicorn server."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

import pytest
from fastapi import FastAPI, Query, Request
from fastapi.responses import Response

from recordings.storage import LocalStorage
from tests.kit_server import InProcess, LiveServer
from tests.recordings.conftest import REAL_WAV
from web.media import ByteRange, RangeNotSatisfiable, media_response, parse_range

KEY = "2026/11/26/1795717766.0-1.wav"


def media_app(storage: LocalStorage, sha256: str) -> FastAPI:
    app = FastAPI()

    @app.api_route("/media/{name}", methods=["GET", "HEAD"])
    async def media(
        request: Request, name: str, download: Annotated[bool, Query()] = False
    ) -> Response:
        key = KEY if name == "call" else f"2026/11/26/{name}"
        return await media_response(
            request,
            storage,
            key,
            media_type="audio/wav",
            sha256=sha256 if name == "call" else None,
            filename="call-1795717766.0.wav",
            download=download,
        )

    return app


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    storage = LocalStorage(tmp_path / "store")
    storage.put(KEY, REAL_WAV)
    sha = hashlib.sha256(REAL_WAV.read_bytes()).hexdigest()
    return media_app(storage, sha)


@pytest.fixture
async def server(app: FastAPI) -> AsyncIterator[InProcess]:
    async with InProcess(app) as served:
        yield served


@pytest.fixture
async def live(app: FastAPI) -> AsyncIterator[LiveServer]:
    async with LiveServer(app) as served:
        yield served


DATA = REAL_WAV.read_bytes()
SIZE = len(DATA)


async def test_whole_file(server: InProcess) -> None:
    async with server.client() as client:
        reply = await client.get("/media/call")
    assert reply.status_code == 200
    assert reply.content == DATA
    assert reply.headers["accept-ranges"] == "bytes"
    assert reply.headers["content-length"] == str(SIZE)
    assert reply.headers["content-type"] == "audio/wav"
    assert reply.headers["cache-control"] == "private, no-store"
    assert reply.headers["content-disposition"] == 'inline; filename="call-1795717766.0.wav"'
    assert reply.headers["etag"] == f'"{hashlib.sha256(DATA).hexdigest()[:32]}"'
    assert "content-range" not in reply.headers


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=100000-", 100000, SIZE - 1),
        ("bytes=-500", SIZE - 500, SIZE - 1),
        ("bytes=191000-999999", 191000, SIZE - 1),
        ("bytes=44-44", 44, 44),
        ("bytes=-999999", 0, SIZE - 1),
    ],
)
async def test_ranges(server: InProcess, header: str, start: int, end: int) -> None:
    async with server.client() as client:
        reply = await client.get("/media/call", headers={"Range": header})
    assert reply.status_code == 206
    assert reply.headers["content-range"] == f"bytes {start}-{end}/{SIZE}"
    assert reply.headers["content-length"] == str(end - start + 1)
    assert reply.headers["accept-ranges"] == "bytes"
    assert reply.content == DATA[start : end + 1]


@pytest.mark.parametrize("header", [f"bytes={SIZE}-", f"bytes={SIZE + 10}-{SIZE + 20}", "bytes=-0"])
async def test_unsatisfiable(server: InProcess, header: str) -> None:
    async with server.client() as client:
        reply = await client.get("/media/call", headers={"Range": header})
    assert reply.status_code == 416
    assert reply.headers["content-range"] == f"bytes */{SIZE}"
    assert reply.content == b""


@pytest.mark.parametrize(
    "header", ["bytes=abc", "items=0-10", "bytes=10-5", "bytes=0-1,5-6", "bytes=-"]
)
async def test_unusable_range_headers_get_the_whole_file(server: InProcess, header: str) -> None:
    async with server.client() as client:
        reply = await client.get("/media/call", headers={"Range": header})
    assert reply.status_code == 200 and reply.content == DATA


async def test_if_range(server: InProcess) -> None:
    async with server.client() as client:
        etag = (await client.head("/media/call")).headers["etag"]
        same = await client.get("/media/call", headers={"Range": "bytes=0-9", "If-Range": etag})
        changed = await client.get(
            "/media/call", headers={"Range": "bytes=0-9", "If-Range": '"other"'}
        )
    assert same.status_code == 206 and same.content == DATA[:10]
    assert changed.status_code == 200 and changed.content == DATA


async def test_head_and_download_and_not_found(live: LiveServer) -> None:
    async with live.client() as client:
        head = await client.head("/media/call", headers={"Range": "bytes=10-19"})
        download = await client.get("/media/call", params={"download": "true"})
        missing = await client.get("/media/nothing.mp3")
        evil = await client.get("/media/..%2F..%2Fetc%2Fpasswd")
    assert head.status_code == 206 and head.content == b""
    assert head.headers["content-length"] == "10"
    assert head.headers["content-range"] == f"bytes 10-19/{SIZE}"
    assert download.headers["content-disposition"] == 'attachment; filename="call-1795717766.0.wav"'
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert evil.status_code in {404, 503}


async def test_seeking_like_a_browser(live: LiveServer) -> None:
    """An <audio> element asks `bytes=0-`, then jumps: every piece matches the file."""
    async with live.client() as client:
        first = await client.get("/media/call", headers={"Range": "bytes=0-"})
        assert first.status_code == 206 and first.content == DATA
        pieces = []
        for start in range(0, SIZE, 40_000):
            reply = await client.get(
                "/media/call", headers={"Range": f"bytes={start}-{start + 39_999}"}
            )
            pieces.append(reply.content)
    assert b"".join(pieces) == DATA


def test_parse_range() -> None:
    assert parse_range(None, 100) is None
    assert parse_range("bytes=0-0", 100) == ByteRange(0, 0)
    assert parse_range("BYTES = 5 - 9", 100) == ByteRange(5, 9)
    assert parse_range("bytes=-1", 100) == ByteRange(99, 99)
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=0-", 0)
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=100-", 100)
