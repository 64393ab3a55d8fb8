"""What the routes share, kept in ``app.extensions`` (no module globals): the
settings, one capture hub per camera, the stream slots and the front door's counters."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from flask import Flask

from ..config import Settings
from ..hub import CaptureHub
from .refusals import RefusalLog

__all__ = ["EXTENSION", "FrontDoorStats", "ServerState", "StreamSlots"]

EXTENSION = "mjpeg_server"


class StreamSlots:
    """At most ``limit`` simultaneous streams, all cameras together.

    Past it, a stream is refused at once (503): the limit is what the network
    and memory carry, so a stream over it would slow every other viewer.
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
class FrontDoorStats:
    """What the front door (``server/front_door.py``) and its fan-out have counted
    since start-up, for ``/status`` and ``/metrics``. Written by the event loop
    only; any thread may read. All zero under ``--server dev``."""

    #: Connections accepted, and of those closed at once because the process
    #: was at its connection limit (file descriptors).
    accepted: int = 0
    refused: int = 0
    #: Complete requests run through the app, and of those handed to the fan-out.
    requests: int = 0
    streams: int = 0
    #: Of the requests, those the app answered on the event loop itself (streams,
    #: see ``admission.py``) instead of on a pool thread.
    on_loop: int = 0
    #: Connections closed because no complete request head came within
    #: ``--header-timeout`` (408 if part of one had come).
    header_timeouts: int = 0
    #: Request heads over 16 KiB (431).
    oversize_heads: int = 0
    #: Malformed requests (400) and bodies too large (413).
    bad_requests: int = 0
    #: Responses and streams ended because their socket took no byte for
    #: ``--send-timeout``.
    send_timeouts: int = 0
    #: Complete requests answered 503 because too many waited for the app.
    overloaded: int = 0
    #: TLS handshakes that failed (plain HTTP on the TLS port, bad clients).
    tls_failures: int = 0


@dataclass
class ServerState:
    """What the routes share: settings, one hub per camera, the stream slots and
    the front door's counters."""

    settings: Settings
    hubs: dict[str, CaptureHub]
    slots: StreamSlots
    started_at: float = field(default_factory=time.monotonic)
    front_door: FrontDoorStats = field(default_factory=FrontDoorStats)
    #: Refused requests, logged once per kind and interval with a count.
    refusals: RefusalLog = field(
        default_factory=lambda: RefusalLog(logging.getLogger("mjpeg_server.server"))
    )
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

    def hub(self, name: str | None) -> CaptureHub | None:
        """The hub of camera ``name`` (the default camera for ``None``), if it exists."""
        return self.hubs.get(name or self.settings.default_camera)

    @staticmethod
    def of(app: Flask) -> ServerState:
        """The state of an app made by ``create_app``: the one place it is read from."""
        state: ServerState = app.extensions[EXTENSION]
        return state

    def close(self) -> None:
        """End every stream and release every camera; write the refusals still counted."""
        self.refusals.flush()
        for hub in self.hubs.values():
            hub.close()
