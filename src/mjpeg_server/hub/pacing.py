"""Fewer frames on purpose: a viewer's rate cap (``?fps=N``) and the camera's
identical-frame filter (``--drop-same-frames N``). Pure logic, no clock: both
decide from what they are shown, so tests need no waiting.

**Rate cap.** A viewer that asks for ``?fps=5`` of a 30 fps camera gets every
sixth frame, evenly, rather than bursts: a frame is taken when its capture
time has reached the next due time, and the due time then moves on by one
interval. Due times are a schedule, not "one interval after the last frame
sent": frames come at the camera's discrete times, so the latter would round
every gap up (20 of 30 fps would give 15). The schedule never banks more than
one interval, so after a pause the viewer gets the next frame at once, not a
burst. A frame counts as on time a little before its due time (``EARLY``
camera intervals), so camera jitter does not push a due frame to the next one.
After a pause (a stalled camera) the schedule restarts at the next frame.

**Identical frames.** A static scene from some cameras (and every relayed
still image) repeats the same JPEG bytes; sending them costs bandwidth for
nothing. The filter drops a frame byte-identical to the previous one, but
passes at least one in every ``N``, so viewers and proxies still see the
stream alive (µStreamer's ``--drop-same-frames``).
"""

from __future__ import annotations

__all__ = ["EARLY", "RateCap", "SameFrameFilter"]

#: How early (in camera frame intervals) a frame may come and still be due.
EARLY = 0.6


class RateCap:
    """Takes frames at most ``fps`` per second of capture time, evenly spaced."""

    __slots__ = ("_due", "_step", "_tolerance", "fps")

    def __init__(self, fps: float, camera_fps: float) -> None:
        if not fps > 0:
            raise ValueError(f"fps must be positive, not {fps}")
        self.fps = fps
        self._step = 1.0 / fps
        self._tolerance = EARLY / camera_fps if camera_fps > 0 else 0.0
        self._due: float | None = None

    def take(self, timestamp: float) -> bool:
        """Whether the frame captured at ``timestamp`` (seconds) goes to the viewer."""
        due = self._due
        if due is not None and timestamp + self._tolerance < due:
            return False
        # Next due one interval on the schedule; after a pause (this frame a whole
        # interval or more past due) the schedule restarts here: no burst of
        # "overdue" frames.
        on_schedule = due if due is not None and timestamp - due < self._step else timestamp
        self._due = on_schedule + self._step
        return True


class SameFrameFilter:
    """Drops a frame byte-identical to the one before, passing at least one in ``every``."""

    __slots__ = ("_previous", "_run", "dropped", "every")

    def __init__(self, every: int) -> None:
        if every < 1:
            raise ValueError(f"every must be at least 1, not {every}")
        self.every = every
        self._previous: bytes | None = None
        self._run = 0  # identical frames dropped in a row
        #: Frames dropped so far.
        self.dropped = 0

    def passes(self, jpeg: bytes) -> bool:
        """Whether ``jpeg`` should be published."""
        if jpeg == self._previous and self._run + 1 < self.every:
            self._run += 1
            self.dropped += 1
            return False
        self._previous = jpeg
        self._run = 0
        return True
