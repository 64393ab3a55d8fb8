"""Frame timing: the camera's rate through the server, cold start, snapshots while streaming."""

from __future__ import annotations

import time
from collections.abc import Callable

import requests
from hil_tools import HilCamera, Received, StreamFigures, capture_stream, skipped_for_clients

from mjpeg_server.client.stream import iter_frames
from mjpeg_server.wire.jpeg import is_complete_jpeg, jpeg_size
from support.waiting import wait_until


def test_frame_rate(hil_camera: HilCamera, report: Callable[..., None]) -> None:
    """fps within ±5 % over the measured span; median interval within ±10 % of the
    period; no early frame; p99 ≤ 2 periods; no frame lost by the camera (where its
    sensor keeps real time)."""
    with hil_camera.server("--idle-timeout", "1") as server:
        capture = capture_stream(server.url("/stream.mjpg"), hil_camera.seconds)
        status = server.camera_status()
        wait_until(lambda: server.camera_status()["clients"] == 0, 30)
        figures = StreamFigures.of(capture, hil_camera.fps, skipped_for_clients(server))
        report(**figures.to_json(), server_fps_measured=status["fps_measured"])
        figures.check(hil_camera)


def test_cold_start(hil_camera: HilCamera, report: Callable[..., None]) -> None:
    """Time from the first request to an idle server until its first frame (reported)."""
    with hil_camera.server("--idle-timeout", "1") as server:
        assert server.camera_status()["state"] == "idle"
        requested = time.time()  # the client stamps arrivals with time.time()
        stream = iter_frames(server.url("/stream.mjpg"), timeout=30)
        try:
            first = next(stream)
        finally:
            stream.close()
        assert is_complete_jpeg(first.jpeg)
        report(first_frame_s=round(first.received_at - requested, 3))


def test_snapshot_during_streaming(hil_camera: HilCamera, report: Callable[..., None]) -> None:
    """Snapshots taken while a client streams are whole JPEGs of the stream's size, and
    the stream keeps its frame rate."""
    snapshots: list[bytes] = []
    stream_size: list[tuple[int, int] | None] = []

    with hil_camera.server("--idle-timeout", "1") as server:

        def snapshot_now_and_then(frame: Received) -> None:
            if not stream_size:
                stream_size.append(jpeg_size(frame.jpeg))
            if frame.seq % max(1, round(hil_camera.fps / 2)) == 0:
                response = requests.get(server.url("/snapshot.jpg"), timeout=30)
                assert response.status_code == 200
                assert response.headers["Content-Type"] == "image/jpeg"
                snapshots.append(response.content)

        seconds = max(5.0, hil_camera.seconds / 2)
        capture = capture_stream(
            server.url("/stream.mjpg"), seconds, on_frame=snapshot_now_and_then
        )
        wait_until(lambda: server.camera_status()["clients"] == 0, 30)
        figures = StreamFigures.of(capture, hil_camera.fps, skipped_for_clients(server))
        report(**figures.to_json(), snapshots=len(snapshots))
        assert len(snapshots) >= 5
        assert all(is_complete_jpeg(jpeg) for jpeg in snapshots)
        assert {jpeg_size(jpeg) for jpeg in snapshots} == set(stream_size)
        figures.check(hil_camera)
