"""The one-slot handoff between a backend's own capture thread and the hub's reads.

Libraries that deliver frames from their own thread (picamera2's encoder) or
whose ``read`` blocks (OpenCV) put each frame here; :meth:`Camera.read` takes
it with a timeout, so a hung device never blocks the hub longer than that.
One slot, latest wins: nothing queues, and a frame the hub did not take in
time is replaced by the next (the backend's frame numbers show the gap).
"""

from __future__ import annotations

import threading

from .base import CameraError, Frame

__all__ = ["LatestFrame"]


class LatestFrame:
    """Producer: :meth:`put`, then maybe :meth:`fail`. Consumer: :meth:`take`."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self._error: CameraError | None = None

    def put(self, frame: Frame) -> None:
        with self._cond:
            self._frame = frame
            self._cond.notify()

    def fail(self, error: CameraError) -> None:
        """The producer cannot go on: :meth:`take` raises ``error`` once the last frame is taken."""
        with self._cond:
            self._error = error
            self._cond.notify()

    def take(self, timeout: float) -> Frame | None:
        """The newest frame not yet taken, or ``None`` if none came within ``timeout``."""
        with self._cond:
            if self._frame is None and self._error is None:
                self._cond.wait(timeout)
            frame, self._frame = self._frame, None
            if frame is None and self._error is not None:
                raise self._error
            return frame

    def clear(self) -> None:
        """Forget any frame and error (a new session starts)."""
        with self._cond:
            self._frame = None
            self._error = None
