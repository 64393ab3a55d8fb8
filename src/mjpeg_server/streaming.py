"""One client's stream: the WSGI response body that writes a hub's parts.

The body is a class, not a generator, on purpose: a WSGI server that never
starts iterating (the client hung up first) still calls ``close()``, and a
generator's ``finally`` would not run, leaking the subscription and keeping
the camera open.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from .hub import HubClosed, Subscription

__all__ = ["StreamBody", "StreamSlots"]


class StreamSlots:
    """At most ``limit`` simultaneous streams, all cameras together.

    The limit keeps one thread per stream free for the other requests: past
    it, a stream is refused at once (503) instead of starving the status page.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._semaphore = threading.BoundedSemaphore(limit)
        self._lock = threading.Lock()
        self._active = 0

    def try_acquire(self) -> bool:
        if not self._semaphore.acquire(blocking=False):
            return False
        with self._lock:
            self._active += 1
        return True

    def release(self) -> None:
        with self._lock:
            self._active -= 1
        self._semaphore.release()

    @property
    def active(self) -> int:
        return self._active


class StreamBody:
    """Iterates the opening delimiter, then each new part; re-sends the newest one
    (the hub's heartbeat) after ``heartbeat_interval`` seconds of camera silence.

    Ends when the hub closes. ``close()`` leaves the hub and calls ``on_close``
    exactly once, whether or not iteration ever started.
    """

    def __init__(
        self,
        subscription: Subscription,
        *,
        opening: bytes,
        heartbeat_interval: float,
        on_close: Callable[[StreamBody], None],
    ) -> None:
        self.subscription = subscription
        self.heartbeat_interval = heartbeat_interval
        self.heartbeats = 0
        self.started_at = time.monotonic()
        self._opening: bytes | None = opening
        self._on_close: Callable[[StreamBody], None] | None = on_close

    def __iter__(self) -> StreamBody:
        return self

    def __next__(self) -> bytes:
        if self._opening is not None:
            opening, self._opening = self._opening, None
            return opening
        while True:
            try:
                part = self.subscription.next_part(self.heartbeat_interval)
            except HubClosed:
                raise StopIteration from None
            if part is not None:
                return part.data
            beat = self.subscription.heartbeat()
            if beat is not None:
                self.heartbeats += 1
                return beat

    def close(self) -> None:
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            self.subscription.close()
            on_close(self)
