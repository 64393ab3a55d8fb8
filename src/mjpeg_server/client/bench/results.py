"""What one bench client measured: :class:`ClientResult`.

Goal: plain data that the recorder fills, the runner moves between processes
(it pickles), and the report adds up. No I/O; O(frames) memory per client (one
latency or age per frame).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ClientResult"]


@dataclass
class ClientResult:
    """What one client measured. Times are ``time.monotonic`` seconds."""

    index: int
    slow: bool = False
    #: When the client started connecting.
    started: float = 0.0
    #: When it stopped reading: the end of the run, or the stream's end.
    ended: float = 0.0
    #: HTTP status, once the response head is in.
    status: int | None = None
    #: Frames received in all.
    frames: int = 0
    #: Seconds from ``started`` to the last byte of the first frame.
    first_frame_s: float | None = None
    #: The first frame completed in the measurement window (after the warm-up):
    #: fps counts the frames after it, up to ``ended``.
    window_start: float | None = None
    window_frames: int = 0
    bytes: int = 0
    #: Bytes received in the measurement window.
    window_bytes: int = 0
    #: Per frame in the window, ms: receive time of its last byte - X-Timestamp.
    latencies_ms: list[float] = field(default_factory=list)
    #: Frames missing between consecutive X-Frame-Seq values, in the window.
    dropped: int = 0
    #: Slow clients: the rate they read at (bytes/s) and the stream's frame
    #: interval (s), both measured during their first frames.
    rate: float | None = None
    interval: float | None = None
    #: Slow clients, per throttled frame: age beyond transfer time, in frame intervals.
    ages: list[float] = field(default_factory=list)
    #: Slow clients: their socket's receive buffer as the kernel set it.
    rcvbuf: int | None = None
    #: Why the client failed, or None. A few fixed phrasings, so that they add up.
    error: str | None = None

    @property
    def fps(self) -> float:
        if self.window_start is None or self.ended <= self.window_start:
            return 0.0
        return self.window_frames / (self.ended - self.window_start)
