"""Clients and camera over time: disconnects, release, refresh storms, failures."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from itertools import pairwise

import pytest
from hil_tools import (
    BUSY_EXIT,
    EXCLUSIVE,
    Capture,
    HilCamera,
    fault_injection,
    new_frames,
    open_in_child,
    open_raw_stream,
    reset,
)

from mjpeg_server.client.stream import iter_frames
from support.server import ServerProcess, fd_count, thread_count
from support.waiting import wait_until

CLIENTS = 5  # of each kind: clean and abrupt
STORM_CYCLES = 50
#: Generous bound on a stream that should deliver within seconds.
LIVENESS = 120.0


def _camera_idle(server: ServerProcess) -> bool:
    status = server.camera_status()
    return status["clients"] == 0 and status["state"] == "idle"


def _connect_and_leave(server: ServerProcess) -> float:
    """CLIENTS streams that close cleanly and CLIENTS that vanish (RST), all at once;
    returns the seconds until /status shows no client."""
    url = server.url("/stream.mjpg")
    clean = [iter_frames(url, timeout=30) for _ in range(CLIENTS)]
    for stream in clean:
        next(stream)  # streaming
    abrupt = [open_raw_stream(url) for _ in range(CLIENTS)]
    wait_until(lambda: server.camera_status()["clients"] == 2 * CLIENTS, 30)
    left = time.monotonic()
    for stream in clean:
        stream.close()
    for sock in abrupt:
        reset(sock)
    wait_until(lambda: server.camera_status()["clients"] == 0, 30)
    return time.monotonic() - left


def test_client_shutdown(hil_camera: HilCamera, report: Callable[..., None]) -> None:
    """Clients that leave, cleanly or by reset, are gone from /status and leave no
    thread or file descriptor behind."""
    with hil_camera.server("--idle-timeout", "0.5") as server:
        worker = server.worker_pid()
        # A first round creates the worker's pooled threads; then the baseline.
        _connect_and_leave(server)
        wait_until(lambda: _camera_idle(server), 30)
        threads, fds = thread_count(worker), fd_count(worker)

        to_zero = _connect_and_leave(server)
        wait_until(lambda: _camera_idle(server), 30)
        wait_until(
            lambda: thread_count(worker) <= threads and fd_count(worker) <= fds,
            30,
            message=f"threads {thread_count(worker)} (baseline {threads}), "
            f"fds {fd_count(worker)} (baseline {fds})",
        )
        report(
            clients=2 * CLIENTS,
            seconds_to_zero_clients=round(to_zero, 3),
            baseline_threads=threads,
            baseline_fds=fds,
        )


def test_camera_busy_while_streaming(hil_camera: HilCamera, report: Callable[..., None]) -> None:
    """While the server streams, another process cannot open the camera, and is told
    who holds it."""
    hil_camera.require(EXCLUSIVE)
    with hil_camera.server("--idle-timeout", "1") as server:
        stream = iter_frames(server.url("/stream.mjpg"), timeout=30)
        try:
            next(stream)
            busy = open_in_child(hil_camera)
            assert busy.returncode == BUSY_EXIT, busy.stdout + busy.stderr
        finally:
            stream.close()
    report(busy_message=busy.stdout.strip())


def test_camera_release(hil_camera: HilCamera, report: Callable[..., None]) -> None:
    """After the idle timeout the server has closed the camera (once), and another
    process opens it."""
    with hil_camera.server("--idle-timeout", "1") as server:
        stream = iter_frames(server.url("/stream.mjpg"), timeout=30)
        try:
            next(stream)
        finally:
            stream.close()
        left = time.monotonic()
        wait_until(lambda: _camera_idle(server), 30)
        released_after = time.monotonic() - left
        status = server.camera_status()
        assert status["opens"] == status["closes"] == 1
        reopened = open_in_child(hil_camera)
        assert reopened.returncode == 0, reopened.stdout + reopened.stderr
        report(released_after_s=round(released_after, 3))


def test_refresh_storm(hil_camera: HilCamera, report: Callable[..., None]) -> None:
    """50 viewers that connect and leave in quick succession never get the camera opened
    twice at once, nor a busy error; the stream is healthy afterwards."""
    samples: list[tuple[int, int]] = []
    done = threading.Event()

    with hil_camera.server("--idle-timeout", "0") as server:

        def sample() -> None:
            while not done.is_set():
                status = server.camera_status()
                samples.append((int(str(status["opens"])), int(str(status["closes"]))))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        started = time.monotonic()
        try:
            for cycle in range(STORM_CYCLES):
                # Two frames: one may be the newest the server had; the second is fresh.
                stream = iter_frames(server.url("/stream.mjpg"), timeout=30)
                try:
                    next(stream)
                    next(stream)
                finally:
                    stream.close()
                # Idle timeout 0: the camera closes as soon as the server sees the
                # viewer gone. Come back at once, just as it decides to close (the
                # reopen races the release), or once it is closed (a cold reopen).
                if cycle % 3 == 1:
                    wait_until(lambda: server.camera_status()["clients"] == 0, 30)
                elif cycle % 3 == 2:
                    wait_until(lambda: _camera_idle(server), 30)
        finally:
            done.set()
            sampler.join(30)
        storm_seconds = time.monotonic() - started

        capture = Capture()
        stream = iter_frames(server.url("/stream.mjpg"), timeout=30)
        try:
            for _ in new_frames(stream, capture, time.monotonic() + LIVENESS):
                if len(capture.frames) >= 10:
                    break
        finally:
            stream.close()
        status = server.camera_status()
        report(
            cycles=STORM_CYCLES,
            storm_s=round(storm_seconds, 3),
            status_samples=len(samples),
            opens=status["opens"],
            max_open_at_once=max(opens - closes for opens, closes in samples),
        )
        assert samples
        assert int(str(status["opens"])) > STORM_CYCLES // 3  # the camera did reopen
        assert all(opens - closes <= 1 for opens, closes in samples), samples
        assert status["failures"] == 0, status["last_error"]
        assert "busy" not in server.output.lower()


def test_camera_failure_mid_stream(hil_camera: HilCamera, report: Callable[..., None]) -> None:
    """A camera that fails while streaming is reopened, and the connected client
    resumes on the same connection."""
    per_session = max(5, round(hil_camera.fps))  # about a second of frames
    fault = fault_injection(hil_camera, per_session)
    if fault is None:
        pytest.skip(f"no fault injection for {hil_camera.kind} hardware: pull the cable by hand")
    spec, env = fault
    with hil_camera.server(
        "--idle-timeout", "1", "--stall-timeout", "1", spec=spec, env=env
    ) as server:
        capture = Capture()
        stream = iter_frames(server.url("/stream.mjpg"), timeout=30)
        try:
            # Three sessions' worth: at least two failures, each followed by a reopen.
            for _ in new_frames(stream, capture, time.monotonic() + LIVENESS):
                if len(capture.frames) > 2 * per_session + 2:
                    break
        finally:
            stream.close()
        status = server.camera_status()
        gaps = [b.timestamp - a.timestamp for a, b in pairwise(capture.frames)]
        report(
            frames=len(capture.frames),
            resent_while_down=capture.resent,
            failures=status["failures"],
            opens=status["opens"],
            longest_outage_s=round(max(gaps), 3),
        )
        assert status["failures"] >= 2
        assert status["opens"] >= 3
