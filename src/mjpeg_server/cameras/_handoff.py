"""The handoff between a backend's own capture thread and the hub's reads.

Libraries that deliver frames from their own thread (picamera2's encoder) or
whose ``read`` blocks (OpenCV, the http relay) put each frame here;
:meth:`Camera.read` takes it with a timeout, so a hung device never blocks the
hub longer than that.

It holds the newest :data:`BUFFERED_FRAMES` frames, like a sensor's buffer
queue: a hub thread that was a frame late (a busy machine) still gets every
frame, back to back; one that fell further behind loses the oldest, and the
backend's frame numbers show the gap. Nothing grows without bound.
"""

from __future__ import annotations

import threading
from collections import deque

from .base import CameraError, Frame

__all__ = ["BUFFERED_FRAMES", "LatestFrames"]

#: Frames kept for a late reader (the emulated camera keeps as many).
BUFFERED_FRAMES = 2


class LatestFrames:
    """Producer: :meth:`put`, then maybe :meth:`fail`. Consumer: :meth:`take`."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frames: deque[Frame] = deque(maxlen=BUFFERED_FRAMES)
        self._error: CameraError | None = None

    def put(self, frame: Frame) -> None:
        with self._cond:
            self._frames.append(frame)  # drops the oldest when full
            self._cond.notify()

    def fail(self, error: CameraError) -> None:
        """The producer cannot go on: :meth:`take` raises ``error`` once the frames are taken."""
        with self._cond:
            self._error = error
            self._cond.notify()

    def take(self, timeout: float) -> Frame | None:
        """The oldest frame not yet taken, or ``None`` if none came within ``timeout``."""
        with self._cond:
            if not self._frames and self._error is None:
                self._cond.wait(timeout)
            if self._frames:
                return self._frames.popleft()
            if self._error is not None:
                raise self._error
            return None

    def clear(self) -> None:
        """Forget any frames and error (a new session starts)."""
        with self._cond:
            self._frames.clear()
            self._error = None
