"""How a capture hub treats its camera: idle release, stall detection, backoff."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["HubSettings"]


@dataclass(frozen=True)
class HubSettings:
    #: Seconds the camera stays open after the last subscriber left; 0 closes at
    #: once, ``None`` never closes.
    idle_timeout: float | None = 10.0
    #: Seconds without a frame after which an open camera counts as failed.
    stall_timeout: float = 5.0
    #: First wait before reopening a failed camera; doubles up to ``backoff_max``.
    backoff_initial: float = 0.5
    backoff_max: float = 10.0
    #: Drop a frame byte-identical to the previous one, but publish at least one
    #: in this many (pacing.SameFrameFilter); 0 publishes every frame.
    drop_same_frames: int = 0
    #: A session whose frames spanned this many seconds (first to last) proves the
    #: camera works, so the failure that ends it waits ``backoff_initial`` again.
    #: Backing off is for a camera that cannot work (open fails, or it dies at its
    #: first frames: those never span a second); a camera that worked and failed
    #: (a loose cable, an upstream restart) should be back as fast as the first
    #: time. Without this, one failing every 2 s waited 0.5, 1, 2, 4, 8, 10, 10 s
    #: and lost two thirds of its frames; with it, a fifth. One second is far
    #: below any real failure period worth forgiving and far above the frames a
    #: broken camera sends before dying, and a camera that fails just after it
    #: still spends two thirds of its time streaming, never hammering reopens.
    healthy_after: float = 1.0
