"""ffmpeg, GStreamer, OpenCV and aiohttp's MultipartReader (as Home Assistant reads)
on ``/stream.mjpg`` and mjpg-streamer's ``/?action=stream`` (see conftest)."""

from __future__ import annotations

import asyncio
import itertools
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import cv2
import numpy as np
import pytest

from interop.results import Result, record
from support.server import ServerProcess
from support.tools import require_tool
from support.waiting import LIVENESS

#: Frames each program reads.
FRAMES = 16
# ffmpeg, GStreamer and OpenCV start slowly on a loaded box: twice the shared bound.
TOOL_LIVENESS = 2 * LIVENESS
PATHS = ["/stream.mjpg", "/?action=stream"]
_LEFT = re.compile(r"left camera 'default' .* after ([\d.]+) s, (\d+) frames? sent, (\d+) skipped")

Identify = Callable[[object], int]


#: Frames the server may skip for a reader: it skips only when the reader (or,
#: on a loaded machine, the server's own loop) falls a frame behind. The exact
#: count is recorded; the bound keeps the test about the wire, not the machine.
MAX_SKIPPED = FRAMES // 10


def check_order(indices: list[int], count: int) -> int:
    """The frames are source frames in the camera's order (none repeated, none
    reordered); returns how many the reader did not get between them."""
    assert len(indices) >= FRAMES - 1, indices
    steps = [(b - a) % count for a, b in itertools.pairwise(indices)]
    assert all(1 <= step <= 1 + MAX_SKIPPED for step in steps), f"not the camera's order: {indices}"
    return sum(step - 1 for step in steps)


def skipped_for_the_viewer(server: ServerProcess, start: int) -> int:
    """Frames the server skipped for the one viewer that left since ``start``."""
    match = _LEFT.search(server.wait_for_log(_LEFT, TOOL_LIVENESS, start))
    assert match is not None
    return int(match[3])


def finish(
    server: ServerProcess,
    start: int,
    *,
    program: str,
    path: str,
    indices: list[int],
    times: list[float],
    count: int,
) -> None:
    missing = check_order(indices, count)
    skipped = skipped_for_the_viewer(server, start)
    # What the reader missed, the server skipped for it (and said so).
    assert missing <= skipped
    # From the second frame: the first is the newest frame, sent at once on joining.
    seconds = times[-1] - times[1]
    fps = round((len(times) - 2) / seconds, 2)
    record(Result(program, path, len(indices), round(seconds, 3), fps, skipped))
    assert missing <= MAX_SKIPPED, f"{missing} frames skipped for {program}"


def by_bytes(sources: list[bytes]) -> Callable[[bytes], int]:
    def identify(jpeg: bytes) -> int:
        assert jpeg in sources, "not byte for byte a source frame"
        return sources.index(jpeg)

    return identify


def files(folder: Path) -> tuple[list[bytes], list[float]]:
    paths = sorted(folder.iterdir())
    return [p.read_bytes() for p in paths], [p.stat().st_mtime for p in paths]


@pytest.mark.parametrize("path", PATHS)
def test_ffmpeg_copies_are_the_source_frames_byte_for_byte(
    server: ServerProcess, source_frames: tuple[Path, list[bytes]], path: str, tmp_path: Path
) -> None:
    ffmpeg = require_tool("ffmpeg", "ffmpeg")
    _, sources = source_frames
    start = len(server.lines)
    subprocess.run(
        [
            ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-i", server.url(path),
            "-frames:v", str(FRAMES), "-c:v", "copy", "-f", "image2", str(tmp_path / "%05d.jpg"),
        ],
        check=True,
        timeout=TOOL_LIVENESS,
    )  # fmt: skip
    jpegs, times = files(tmp_path)
    assert len(jpegs) == FRAMES
    indices = [by_bytes(sources)(jpeg) for jpeg in jpegs]
    finish(
        server, start, program="ffmpeg", path=path, indices=indices, times=times, count=len(sources)
    )


@pytest.mark.parametrize("path", PATHS)
def test_gstreamer_souphttpsrc_multipartdemux_jpegdec(
    server: ServerProcess, source_frames: tuple[Path, list[bytes]], path: str, tmp_path: Path
) -> None:
    gst = require_tool("gst-launch-1.0", "gstreamer1.0-tools")
    inspect = require_tool("gst-inspect-1.0", "gstreamer1.0-tools")
    for element in ("souphttpsrc", "multipartdemux", "jpegdec"):
        found = subprocess.run([inspect, element], capture_output=True, timeout=30, check=False)
        assert found.returncode == 0, f"GStreamer has no {element} (gstreamer1.0-plugins-good)"
    _, sources = source_frames
    start = len(server.lines)
    # jpegdec decodes every frame (a broken one fails the pipeline); the tee also
    # keeps the demuxed bytes to compare. identity ends the run after FRAMES.
    pipeline = (
        f'souphttpsrc location="{server.url(path)}" ! multipartdemux '
        f"! identity eos-after={FRAMES + 1} ! tee name=t "
        f"! queue ! jpegdec ! fakesink t. ! queue ! multifilesink location={tmp_path}/%05d.jpg"
    )
    subprocess.run([gst, "-q", "-e", *pipeline.split()], check=True, timeout=TOOL_LIVENESS)
    jpegs, times = files(tmp_path)
    assert len(jpegs) == FRAMES
    indices = [by_bytes(sources)(jpeg) for jpeg in jpegs]
    finish(
        server,
        start,
        program="gstreamer",
        path=path,
        indices=indices,
        times=times,
        count=len(sources),
    )


@pytest.mark.parametrize("path", PATHS)
def test_opencv_videocapture(
    server: ServerProcess, source_frames: tuple[Path, list[bytes]], path: str
) -> None:
    _, sources = source_frames
    decoded = [cv2.imdecode(np.frombuffer(s, np.uint8), cv2.IMREAD_COLOR) for s in sources]

    def identify(image: np.ndarray) -> int:
        # OpenCV decodes with FFmpeg, the sources with libjpeg: nearly, not
        # exactly, the same pixels. The frames differ by far more than that.
        errors = [float(np.abs(image.astype(int) - d.astype(int)).mean()) for d in decoded]
        best = int(np.argmin(errors))
        assert errors[best] < 3, errors
        assert sorted(errors)[1] > 20, errors
        return best

    start = len(server.lines)
    capture = cv2.VideoCapture(server.url(path), cv2.CAP_FFMPEG)
    try:
        assert capture.isOpened()
        indices, times = [], []
        deadline = time.monotonic() + TOOL_LIVENESS
        while len(indices) < FRAMES and time.monotonic() < deadline:
            ok, image = capture.read()
            assert ok, "OpenCV could not read a frame"
            assert image.shape == (240, 320, 3)
            indices.append(identify(image))
            times.append(time.monotonic())
    finally:
        capture.release()
    assert len(indices) == FRAMES
    finish(
        server, start, program="opencv", path=path, indices=indices, times=times, count=len(sources)
    )


@pytest.mark.parametrize("path", PATHS)
def test_aiohttp_multipart_reader_as_home_assistant_reads(
    server: ServerProcess, source_frames: tuple[Path, list[bytes]], path: str
) -> None:
    _, sources = source_frames

    async def read() -> tuple[list[bytes], list[float]]:
        jpegs, times = [], []
        timeout = aiohttp.ClientTimeout(total=TOOL_LIVENESS)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(server.url(path)) as response,
        ):
            assert response.status == 200
            reader = aiohttp.MultipartReader.from_response(response)
            while len(jpegs) < FRAMES:
                part = await reader.next()
                assert isinstance(part, aiohttp.BodyPartReader)
                assert part.headers["Content-Type"] == "image/jpeg"
                jpegs.append(bytes(await part.read()))
                times.append(time.monotonic())
        return jpegs, times

    start = len(server.lines)
    jpegs, times = asyncio.run(read())
    indices = [by_bytes(sources)(jpeg) for jpeg in jpegs]
    finish(
        server,
        start,
        program="aiohttp",
        path=path,
        indices=indices,
        times=times,
        count=len(sources),
    )
