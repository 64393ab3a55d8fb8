"""What the routes share, kept in ``app.extensions`` (no module globals): the
settings, one capture hub per camera, the stream slots and the fan-out loop."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from flask import Flask

from ..config import Settings
from ..hub import CaptureHub
from .fanout import FanOut

__all__ = ["EXTENSION", "ServerState", "StreamSlots"]

EXTENSION = "mjpeg_server"


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
        #: Streams refused because every slot was taken (for /metrics).
        self.refused = 0

    def try_acquire(self) -> bool:
        if not self._semaphore.acquire(blocking=False):
            with self._lock:
                self.refused += 1
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


@dataclass
class ServerState:
    """What the routes share: settings, one hub per camera, the stream slots and
    the socket fan-out (created when the first stream is handed over)."""

    settings: Settings
    hubs: dict[str, CaptureHub]
    slots: StreamSlots
    started_at: float = field(default_factory=time.monotonic)
    _fanout: FanOut | None = None
    _fanout_lock: threading.Lock = field(default_factory=threading.Lock)
    #: The ``_`` query values of the open streams: a page asks ``/status?viewer=``
    #: with its own to learn whether its stream still runs (Chrome fires no event
    #: when an <img> stream breaks, and other viewers keep the count above 0).
    _viewer_tokens: Counter[str] = field(default_factory=Counter)
    _tokens_lock: threading.Lock = field(default_factory=threading.Lock)

    def track_viewer(self, token: str, delta: int) -> None:
        with self._tokens_lock:
            self._viewer_tokens[token] += delta
            if self._viewer_tokens[token] <= 0:
                del self._viewer_tokens[token]

    def viewer_connected(self, token: str) -> bool:
        with self._tokens_lock:
            return token in self._viewer_tokens

    def fanout(self) -> FanOut:
        with self._fanout_lock:
            if self._fanout is None:
                self._fanout = FanOut(heartbeat_interval=self.settings.heartbeat_interval)
            return self._fanout

    def hub(self, name: str | None) -> CaptureHub | None:
        """The hub of camera ``name`` (the default camera for ``None``), if it exists."""
        return self.hubs.get(name or self.settings.default_camera)

    @staticmethod
    def of(app: Flask) -> ServerState:
        """The state of an app made by ``create_app``: the one place it is read from."""
        state: ServerState = app.extensions[EXTENSION]
        return state

    def close(self) -> None:
        """End every stream and release every camera."""
        for hub in self.hubs.values():
            hub.close()
        with self._fanout_lock:
            fanout = self._fanout
        if fanout is not None:
            fanout.close()
