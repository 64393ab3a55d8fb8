"""Parser throughput: ours against a naive SOI/EOI scanner and aiohttp's MultipartReader.

Every contender gets the same bytes in the same 64 KiB chunks: 100 parts of
100 KB JPEG-like payloads (random bytes with no 0xFF, so no marker inside, between
SOI and EOI, as in entropy-coded data), with and without Content-Length. The
boundary is the kit's default. ``extra_info`` carries the stream's size and the
median throughput. Targets on a 2-core box: 2 GB/s with Content-Length and 1 GB/s
without. Figures, not asserts (``tox -e bench``); the asserts check that each
contender really found every frame.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterator

import aiohttp
import pytest
from aiohttp.base_protocol import BaseProtocol
from pytest_benchmark.fixture import BenchmarkFixture

from mjpeg_server.wire.jpeg import EOI, SOI
from mjpeg_server.wire.multipart import NEED_DATA, MultipartParser, PartEncoder, PartEnd, StreamEnd

BOUNDARY = "mjpegframe"  # the server's default
PARTS = 100
PART_SIZE = 100_000
CHUNK = 64 * 1024
ENCODER = PartEncoder(BOUNDARY)


def _payloads() -> list[bytes]:
    rng = random.Random(3)
    body = rng.randbytes(PART_SIZE * 2).replace(b"\xff", b"\xfe")
    return [SOI + body[i * 997 : i * 997 + PART_SIZE - 4] + EOI for i in range(PARTS)]


def _with_content_length(payloads: list[bytes]) -> bytes:
    stream = ENCODER.opening + b"".join(ENCODER.encode(p) for p in payloads)
    return stream.removesuffix(b"\r\n") + b"--\r\n"  # a close delimiter, for aiohttp


def _without_content_length(payloads: list[bytes]) -> bytes:
    head = b"--" + BOUNDARY.encode() + b"\r\nContent-Type: image/jpeg\r\n\r\n"
    return b"".join(head + p + b"\r\n" for p in payloads) + b"--" + BOUNDARY.encode() + b"--\r\n"


PAYLOADS = _payloads()
STREAMS = {
    "content-length": _with_content_length(PAYLOADS),
    "no-content-length": _without_content_length(PAYLOADS),
}


def _chunks(stream: bytes) -> list[bytes]:
    return [stream[i : i + CHUNK] for i in range(0, len(stream), CHUNK)]


def ours(chunks: list[bytes]) -> int:
    parser = MultipartParser(BOUNDARY)
    frames = 0
    for chunk in chunks:
        parser.feed(chunk)
        while (event := parser.next_event()) is not NEED_DATA:
            if type(event) is StreamEnd:  # it repeats: stop asking
                return frames
            frames += type(event) is PartEnd
    return frames


def naive_soi_eoi(chunks: list[bytes]) -> int:
    """The snippet many OpenCV scripts use: search the whole buffer again per chunk."""
    buffer = b""
    frames = 0
    for chunk in chunks:
        buffer += chunk
        while (start := buffer.find(SOI)) != -1 and (end := buffer.find(EOI)) != -1:
            frames += bool(buffer[start : end + 2])
            buffer = buffer[end + 2 :]
    return frames


async def _aiohttp(chunks: list[bytes]) -> int:
    loop = asyncio.get_running_loop()
    reader = aiohttp.StreamReader(BaseProtocol(loop), sum(map(len, chunks)), loop=loop)
    for chunk in chunks:
        reader.feed_data(chunk)
    reader.feed_eof()
    multipart = aiohttp.MultipartReader({"Content-Type": ENCODER.content_type}, reader)
    frames = 0
    while (part := await multipart.next()) is not None:
        assert isinstance(part, aiohttp.BodyPartReader)
        while await part.read_chunk(CHUNK):
            pass
        frames += 1
    return frames


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    event_loop = asyncio.new_event_loop()
    yield event_loop
    event_loop.close()


def _measure(
    benchmark: BenchmarkFixture, stream: bytes, parse: Callable[[list[bytes]], int]
) -> None:
    chunks = _chunks(stream)
    benchmark.extra_info["bytes"] = len(stream)
    benchmark.extra_info["chunk_bytes"] = CHUNK
    frames = benchmark(parse, chunks)
    if benchmark.stats is not None:  # None under --benchmark-disable
        median = benchmark.stats.stats.median
        benchmark.extra_info["MB/s (median)"] = round(len(stream) / median / 1e6)
    assert frames == PARTS


@pytest.mark.parametrize("framing", list(STREAMS))
def test_ours(benchmark: BenchmarkFixture, framing: str) -> None:
    _measure(benchmark, STREAMS[framing], ours)


@pytest.mark.parametrize("framing", list(STREAMS))
def test_naive_soi_eoi_scanner(benchmark: BenchmarkFixture, framing: str) -> None:
    _measure(benchmark, STREAMS[framing], naive_soi_eoi)


@pytest.mark.parametrize("framing", list(STREAMS))
def test_aiohttp_multipart_reader(
    benchmark: BenchmarkFixture, framing: str, loop: asyncio.AbstractEventLoop
) -> None:
    _measure(benchmark, STREAMS[framing], lambda chunks: loop.run_until_complete(_aiohttp(chunks)))
