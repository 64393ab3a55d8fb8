"""Camera backends: one module per backend behind one contract (``base.py``).

A spec names a backend and, optionally, what to open and how::

    emulated                      the bundled test frames (fixtures/frames)
    emulated:/path/to/jpegs       cycle the JPEGs of a folder
    emulated?fps=10&fail_after=50 options go after '?', as in a URL query
    picamera2 / picamera2:1       a Raspberry Pi camera (extra "pi")
    picamera2?size=640x480&quality=70&encoder=jpeg
    opencv:0 / opencv:clip.mp4    a V4L2 device index, a file or URL (extra "opencv")
    opencv:rtsp://cam/live?size=640x480&quality=80
    http://host:8080/?action=stream   relay another MJPEG server

Backends are imported only when a spec asks for them, so a missing optional
library is reported for the camera that needs it, not at import time.

Layout: ``base.py`` is the contract (:class:`Camera`, :class:`Frame`, the
errors); ``spec.py`` parses spec strings; ``registry.py`` turns a spec into its
backend; ``emulated.py``, ``picamera2.py``, ``opencv.py`` and ``relay.py`` (the
``http://`` relay of another MJPEG server) are the backends.
"""

from __future__ import annotations

from .base import Camera, CameraBusy, CameraError, CameraFailed, CameraNotFound, Frame
from .registry import BACKENDS, create_camera, device_of
from .spec import CameraDefaults, CameraSpec, SpecError, SpecOptions

__all__ = [
    "BACKENDS",
    "Camera",
    "CameraBusy",
    "CameraDefaults",
    "CameraError",
    "CameraFailed",
    "CameraNotFound",
    "CameraSpec",
    "Frame",
    "SpecError",
    "SpecOptions",
    "create_camera",
    "device_of",
]
