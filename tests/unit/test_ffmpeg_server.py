"""Reading ffmpeg's own MJPEG server (``-f mpjpeg -listen 1``), which sends
``Content-Type: application/octet-stream``: the client, probe and relay accept it
as a recorded deviation; strict mode refuses it."""

from __future__ import annotations

import itertools
import json
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from mjpeg_server.cameras.emulated import bundled_frames_dir
from mjpeg_server.client.stream import NotMultipartError, iter_frames, open_stream
from support.fixtures import FRAMES
from support.server import ServerProcess, run_cli
from support.tools import require_tool
from support.waiting import LIVENESS, wait_until


def listening(port: int) -> bool:
    """Whether something listens on loopback ``port``, without connecting: ffmpeg
    ``-listen 1`` serves exactly one connection, and a probe would use it up."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                return True
    return False


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def ffmpeg_server(fps: int = 10) -> Iterator[str]:
    """ffmpeg serving the bundled frames (copied, not re-encoded) to one client."""
    ffmpeg = require_tool("ffmpeg", "ffmpeg")
    port = free_port()
    frames = bundled_frames_dir() / "%d.jpg"
    process = subprocess.Popen(
        [
            ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-re",
            "-framerate", str(fps), "-stream_loop", "-1", "-i", str(frames),
            "-c:v", "copy", "-f", "mpjpeg", "-listen", "1", f"http://127.0.0.1:{port}/stream",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until(
            lambda: listening(port) or process.poll() is not None,
            LIVENESS,
            message="ffmpeg never listened",
        )
        assert process.poll() is None, "ffmpeg exited"
        yield f"http://127.0.0.1:{port}/stream"
    finally:
        process.kill()
        process.wait(10)


def test_client_reads_ffmpeg_and_records_the_deviation() -> None:
    with ffmpeg_server() as url, open_stream(url, timeout=LIVENESS) as stream:
        assert stream.content_type == "application/octet-stream"
        assert stream.boundary == "ffmpeg"
        frames = list(itertools.islice(stream.frames(), 6))
        assert "content-type-not-multipart" in stream.deviations
    # Byte for byte the source frames, in order (ffmpeg copies them).
    start = FRAMES.index(frames[0].jpeg)
    assert [f.jpeg for f in frames] == list(
        itertools.islice(itertools.cycle(FRAMES), start, start + 6)
    )


def test_iter_frames_reads_ffmpeg() -> None:
    with ffmpeg_server() as url:
        frames = list(itertools.islice(iter_frames(url, timeout=LIVENESS), 3))
    assert all(frame.jpeg in FRAMES for frame in frames)


def test_strict_mode_refuses_a_non_multipart_content_type() -> None:
    with (
        ffmpeg_server() as url,
        pytest.raises(NotMultipartError, match="expected a multipart Content-Type"),
    ):
        open_stream(url, timeout=LIVENESS, strict=True)


def test_probe_reports_the_deviation() -> None:
    with ffmpeg_server() as url:
        result = run_cli(["probe", url, "--seconds", "1", "--json"], timeout=LIVENESS * 2)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["content_type"] == "application/octet-stream"
    assert report["boundary"] == "ffmpeg"
    assert report["frames"] >= 2
    assert report["incomplete_jpegs"] == 0
    assert "content-type-not-multipart" in report["deviations"]


def test_relay_camera_serves_ffmpeg() -> None:
    with ffmpeg_server() as url, ServerProcess("--camera", url) as server:
        response = requests.get(server.url("/snapshot.jpg"), timeout=LIVENESS)
        assert response.status_code == 200
        assert response.content in FRAMES
        assert server.camera_status()["state"] == "streaming"


def test_a_body_without_a_boundary_line_is_still_not_multipart() -> None:
    # Reading the first line is only for bodies that start with a delimiter.
    with ServerProcess() as server, pytest.raises(NotMultipartError, match="text/html"):
        open_stream(server.url("/"), timeout=LIVENESS)
