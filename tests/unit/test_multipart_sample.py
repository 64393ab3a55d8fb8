"""The parser on a real capture: an HTTP/1.0 response from mjpg-streamer."""

from __future__ import annotations

import re

import pytest
from codec_streams import bytewise, feed_all, merge_data, parts_of, split

from mjpeg_server.wire.jpeg import is_complete_jpeg, jpeg_size
from mjpeg_server.wire.multipart import MultipartParser
from support.fixtures import MJPG_STREAMER_CAPTURE

SAMPLE = MJPG_STREAMER_CAPTURE


@pytest.fixture(scope="module")
def response() -> tuple[str, bytes]:
    """(Content-Type, body) of the captured response."""
    raw = SAMPLE.read_bytes()
    head, _, body = raw.partition(b"\r\n\r\n")
    match = re.search(rb"(?im)^content-type:\s*(.+?)\r?$", head)
    assert match is not None
    return match[1].decode("latin-1"), body


def expected_frames(body: bytes) -> list[bytes]:
    """The frames, found independently: every Content-Length header and its bytes."""
    frames = []
    for match in re.finditer(rb"Content-Length: (\d+)\r\n(?:[^\r\n]+\r\n)*\r\n", body):
        frames.append(body[match.end() : match.end() + int(match[1])])
    return frames


@pytest.mark.parametrize("chunking", ["whole", "4 KiB", "bytewise"])
def test_sample_yields_exactly_its_frames(response: tuple[str, bytes], chunking: str) -> None:
    content_type, body = response
    chunks = {
        "whole": [body],
        "4 KiB": split(body, range(0, len(body), 4096)),
        "bytewise": bytewise(body),
    }[chunking]
    parser = MultipartParser.from_content_type(content_type, strict=True)
    parts = parts_of(merge_data(feed_all(parser, chunks)))
    frames = [payload for _, payload in parts]
    assert frames == expected_frames(body)
    assert len(frames) == 11
    assert all(is_complete_jpeg(frame) for frame in frames)
    assert {jpeg_size(frame) for frame in frames} == {(320, 240)}
    timestamps = [float(headers.get("X-Timestamp", "nan")) for headers, _ in parts]
    assert timestamps == sorted(timestamps)
    # mjpg-streamer never closes its stream: the capture ends after a delimiter line.
    assert parser.deviations == {"no-close-delimiter"}
