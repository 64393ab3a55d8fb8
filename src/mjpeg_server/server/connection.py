"""One client connection as the front door holds it: its phase, its h11 state,
what it has received and what is left to write, and its deadline.

Owned by the front door's event loop thread (``front_door.py``); nothing here
does I/O.
"""

from __future__ import annotations

import socket
from enum import Enum
from typing import Any

import h11

__all__ = ["Connection", "Phase"]


class Phase(Enum):
    """Where a connection is in its life: what the loop does with its next socket
    event, and which deadline its sweep applies (``front_door.py``)."""

    HANDSHAKE = "tls handshake"
    READING = "reading a request"
    RUNNING = "in the app"
    WRITING = "writing a response"
    LINGERING = "closing"


class Connection:
    """One client connection while the front door owns it."""

    __slots__ = (
        "body",
        "deadline",
        "eof",
        "fd",
        "h11",
        "kept_alive",
        "must_close",
        "out",
        "peer",
        "phase",
        "received",
        "registered",
        "request",
        "sock",
    )

    def __init__(self, sock: socket.socket, peer: Any, head_limit: int, deadline: float) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.peer = peer
        self.h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=head_limit)
        self.phase = Phase.READING
        self.deadline = deadline
        #: Bytes received for the current request (head and body).
        self.received = 0
        self.request: h11.Request | None = None
        self.body = bytearray()
        self.out = memoryview(b"")
        self.eof = False
        #: The response being written ends the connection (an error, a refusal).
        self.must_close = False
        self.registered = False
        #: True once a response was sent on it (an idle wait is then no timeout).
        self.kept_alive = False
