"""A UVC webcam as OpenCV's V4L2 backend shows it, for tests without a device.

:class:`FakeVideoCapture` has ``cv2.VideoCapture``'s API and the V4L2
backend's behaviour (modules/videoio/src/cap_v4l.cpp): ``get`` of a property
the device lacks is ``-1``, ``set`` returns False when the driver refuses (a
control it lacks, a value out of range, the exposure while auto exposure is
on, as uvcvideo refuses it); with MJPG and ``CONVERT_RGB`` off, ``read`` hands
over the camera's own JPEG as one row of bytes, at the camera's rate. Its
picture is a grey card whose level is the brightness (so a change shows).

:class:`FakeNode` answers ``VIDIOC_QUERYCTRL`` for the same controls (an
injected ioctl for ``v4l2.controls``), with the limits a typical UVC webcam has.
"""

from __future__ import annotations

import errno
import functools
import io
import struct
import threading
import time
from typing import Any

import numpy as np
from PIL import Image

from mjpeg_server.cameras import v4l2
from mjpeg_server.cameras._opencv_controls import PROPERTIES

__all__ = ["CONTROLS", "FakeNode", "FakeVideoCapture"]

#: The webcam's controls: OpenCV property name → (V4L2 type, name, min, max, default).
CONTROLS = {
    "BRIGHTNESS": (v4l2.CTRL_TYPE_INTEGER, "Brightness", 0, 255, 128),
    "CONTRAST": (v4l2.CTRL_TYPE_INTEGER, "Contrast", 0, 255, 32),
    "SATURATION": (v4l2.CTRL_TYPE_INTEGER, "Saturation", 0, 255, 64),
    "AUTO_WB": (v4l2.CTRL_TYPE_BOOLEAN, "White Balance Temperature, Auto", 0, 1, 1),
    "AUTO_EXPOSURE": (v4l2.CTRL_TYPE_MENU, "Exposure, Auto", 1, 3, 3),
    "EXPOSURE": (v4l2.CTRL_TYPE_INTEGER, "Exposure (Absolute)", 3, 2047, 250),
}
_QUERYCTRL = struct.Struct("=II32siiiiI8x")
_MANUAL_EXPOSURE = 1


class FakeNode:
    """``VIDIOC_QUERYCTRL`` of the webcam's node."""

    def __call__(self, fd: int, request: int, argument: bytes) -> bytes:
        assert request == v4l2.VIDIOC_QUERYCTRL
        control_id = _QUERYCTRL.unpack(argument)[0]
        name = next((n for n, cid in PROPERTIES.items() if cid == control_id), None)
        if name not in CONTROLS:
            raise OSError(errno.EINVAL, "Invalid argument")
        kind, title, low, high, default = CONTROLS[name]
        return _QUERYCTRL.pack(control_id, kind, title.encode(), low, high, 1, default, 0)


@functools.lru_cache(maxsize=64)
def _card(level: int, size: tuple[int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (level, level, level)).save(out, "JPEG", quality=90)
    return out.getvalue()


class FakeVideoCapture:
    """``cv2.VideoCapture(index, cv2.CAP_V4L2)`` on the fake webcam."""

    #: Every capture made, newest last (a test looks at what the backend did).
    made: list[FakeVideoCapture] = []  # noqa: RUF012 - shared on purpose

    def __init__(self, cv2: Any, index: int, fps: float = 30.0) -> None:
        self._cv2 = cv2
        self.index = index
        self.fps = fps
        self.size = (320, 240)
        self._open = True
        self._lock = threading.Lock()
        self._next = time.monotonic()
        self.values = {
            getattr(cv2, f"CAP_PROP_{name}"): default for name, (*_, default) in CONTROLS.items()
        }
        #: (property, value) of every set() the backend made, in order.
        self.sets: list[tuple[int, float]] = []
        FakeVideoCapture.made.append(self)

    def isOpened(self) -> bool:  # noqa: N802 - OpenCV's name
        return self._open

    def read(self) -> tuple[bool, Any]:
        if not self._open:
            return False, None
        # A camera delivers at its rate: the read waits for the next frame.
        self._next = max(self._next + 1 / self.fps, time.monotonic())
        time.sleep(max(0.0, self._next - time.monotonic()))
        with self._lock:
            level = int(self.values[self._cv2.CAP_PROP_BRIGHTNESS])
        return True, np.frombuffer(_card(level, self.size), np.uint8).reshape(1, -1)

    def get(self, prop: int) -> float:
        with self._lock:
            return float(self.values.get(prop, -1.0))

    def set(self, prop: int, value: float) -> bool:
        cv2 = self._cv2
        with self._lock:
            self.sets.append((prop, value))
            if prop in (cv2.CAP_PROP_FOURCC, cv2.CAP_PROP_FPS, cv2.CAP_PROP_CONVERT_RGB):
                return True
            if prop in (cv2.CAP_PROP_FRAME_WIDTH, cv2.CAP_PROP_FRAME_HEIGHT):
                return True
            name = next((n for n in CONTROLS if getattr(cv2, f"CAP_PROP_{n}") == prop), None)
            if name is None:
                return False  # the device has no such control
            _, _, low, high, _ = CONTROLS[name]
            if not low <= round(value) <= high:
                return False  # ERANGE
            if name == "EXPOSURE" and self.values[cv2.CAP_PROP_AUTO_EXPOSURE] != _MANUAL_EXPOSURE:
                return False  # uvcvideo: EACCES while auto exposure is on
            self.values[prop] = round(value)
            return True

    def release(self) -> None:
        self._open = False
