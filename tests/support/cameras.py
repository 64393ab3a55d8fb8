"""Cameras a test opens through the registry, each closed when the test ends.

The ``opened`` fixture (tests/conftest.py) gives every suite one:

camera = opened.open("opencv:clip.avi?fps=100", OpenCVCamera)
frames = read_frames(camera, 3)
"""

from __future__ import annotations

from typing import TypeVar

from mjpeg_server.cameras import Camera, Frame, create_camera

from .waiting import LIVENESS, wait_until

C = TypeVar("C", bound=Camera)


class OpenCameras:
    """Opens cameras of an expected backend class, and closes them all."""

    def __init__(self) -> None:
        self._cameras: list[Camera] = []

    def open(self, spec: str, kind: type[C]) -> C:
        camera = create_camera(spec)
        assert isinstance(camera, kind), f"{spec} made a {type(camera).__name__}"
        self._cameras.append(camera)
        camera.open()
        return camera

    def close_all(self) -> None:
        for camera in self._cameras:
            camera.close()


def read_frames(camera: Camera, count: int) -> list[Frame]:
    """``count`` frames from an open camera, each waited for up to LIVENESS seconds."""
    return [wait_until(lambda: camera.read(0.5), LIVENESS, interval=0) for _ in range(count)]
