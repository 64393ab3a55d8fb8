"""Cameras a test opens through the registry, each closed when the test ends.

@pytest.fixture
def cameras() -> Iterator[OpenCameras]:
    cameras = OpenCameras()
    yield cameras
    cameras.close_all()

camera = cameras.open("opencv:clip.avi?fps=100", OpenCVCamera)
"""

from __future__ import annotations

from typing import TypeVar

from mjpeg_server.cameras import Camera, create_camera

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
