"""What a capture hub says about its camera: its state, the record ``/status``
shows, and a failure put into words.

Apart from the capture thread (``capture.py``), which fills them in, so that
what is reported can be read without the threading that produces it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = ["HubState", "HubStatus", "describe_failure", "measured_fps"]


class HubState(StrEnum):
    IDLE = "idle"
    STARTING = "starting"
    STREAMING = "streaming"
    ERROR = "error"
    CLOSED = "closed"


@dataclass(frozen=True)
class HubStatus:
    name: str
    camera: str
    state: HubState
    fps_configured: float
    fps_measured: float
    resolution: tuple[int, int] | None
    clients: int
    frames_captured: int
    frames_sent: int
    frames_skipped: int
    #: Frames not published because they were identical to the one before.
    frames_unchanged: int
    #: Frames the camera delivered that were not JPEGs: counted, never served.
    frames_rejected: int
    opens: int
    closes: int
    failures: int
    last_error: str | None
    #: Unix time of ``last_error``.
    last_error_at: float | None
    #: The error that began the current run of failures (the last run, once the
    #: camera is back); ``last_error`` may be a later symptom of it.
    root_cause: str | None = None
    #: The rate the camera runs at, as it reports once open (a sensor mode may
    #: limit ``fps_configured``); None where the backend cannot tell.
    fps_actual: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "camera": self.camera,
            "state": str(self.state),
            "fps_configured": self.fps_configured,
            "fps_actual": None if self.fps_actual is None else round(self.fps_actual, 3),
            "fps_measured": round(self.fps_measured, 2),
            "resolution": list(self.resolution) if self.resolution else None,
            "clients": self.clients,
            "frames_captured": self.frames_captured,
            "frames_sent": self.frames_sent,
            "frames_skipped": self.frames_skipped,
            "frames_unchanged": self.frames_unchanged,
            "frames_rejected": self.frames_rejected,
            "opens": self.opens,
            "closes": self.closes,
            "failures": self.failures,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
            "root_cause": self.root_cause,
        }


def describe_failure(error: BaseException) -> str:
    """``Type: message`` and the errors it was raised from, the root cause last.

    A backend's message says what to do (``CameraNotFound: picamera2 camera 0:
    list the cameras with ...``); the cause it wraps says what happened, and both
    belong in the status. A cause whose words the message already quotes is
    left out.
    """
    text = f"{type(error).__name__}: {error}"
    seen = {id(error)}
    cause = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if str(cause) and str(cause) not in text:
            text += f"; caused by {type(cause).__name__}: {cause}"
        cause = cause.__cause__ or (None if cause.__suppress_context__ else cause.__context__)
    return text


def measured_fps(frame_times: Sequence[float], now: float) -> float:
    """Frames per second over the last frames' times (oldest first), seen at ``now``.

    Zero with fewer than two frames, and for a camera that stopped delivering:
    nothing for over a second, or for over two of its own frame intervals if it
    is slower than that, whatever rate its last frames had.
    """
    if len(frame_times) < 2:
        return 0.0
    span = frame_times[-1] - frame_times[0]
    intervals = len(frame_times) - 1
    if span <= 0 or now - frame_times[-1] > max(1.0, 2 * span / intervals):
        return 0.0
    return intervals / span
