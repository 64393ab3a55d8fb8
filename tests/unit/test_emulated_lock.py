"""The emulated camera's ``lock=PATH``: an exclusive device across processes, as a Pi camera is."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from mjpeg_server.cameras import CameraBusy, create_camera
from support.server import ServerProcess
from support.waiting import wait_until

OPEN_IN_CHILD = """
import sys
from mjpeg_server.cameras import CameraBusy, create_camera
camera = create_camera(sys.argv[1])
try:
    camera.open()
except CameraBusy as error:
    print(error)
    sys.exit(3)
camera.close()
"""


def open_in_child(spec: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", OPEN_IN_CHILD, spec],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_second_open_of_the_same_lock_is_busy_and_names_the_holder(tmp_path: Path) -> None:
    spec = f"emulated?lock={tmp_path / 'camera.lock'}"
    first, second = create_camera(spec), create_camera(spec)
    first.open()
    try:
        with pytest.raises(CameraBusy, match=rf"held by pid {os.getpid()}\b"):
            second.open()
    finally:
        first.close()
    second.open()
    second.close()


def test_another_process_gets_busy_while_the_server_streams_and_opens_after_idle_release(
    tmp_path: Path,
) -> None:
    spec = f"emulated?fps=10&lock={tmp_path / 'camera.lock'}"
    with ServerProcess("--camera", spec, "--idle-timeout", "1") as server:
        with requests.get(server.url("/stream.mjpg"), stream=True, timeout=30) as stream:
            next(stream.iter_content(1024))  # streaming: the camera is open
            busy = open_in_child(spec)
            assert busy.returncode == 3, busy.stderr
            assert f"held by pid {server.worker_pid()}" in busy.stdout
        # The viewer left: after the idle timeout the server closes the camera.
        wait_until(lambda: server.camera_status()["state"] == "idle", 30)
        released = open_in_child(spec)
        assert released.returncode == 0, released.stdout + released.stderr
