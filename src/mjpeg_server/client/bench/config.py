"""What a bench run is asked to do: :class:`LoadConfig`, and the request each client sends.

Goal: check everything about a run before it starts (a bad flag or URL ends
in one line, never in every client), and build the HTTP request once. No I/O.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from ... import __version__

__all__ = ["LoadConfig", "Target"]


@dataclass(frozen=True)
class Target:
    """Where a client connects, and the request it sends (built once per run)."""

    host: str
    port: int
    request: bytes

    @classmethod
    def from_url(cls, url: str) -> Target:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"expected an http:// URL, got {url!r}")
        try:
            port = parts.port or 80
        except ValueError:
            raise ValueError(f"bad port in {url!r}") from None
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host = parts.netloc.rpartition("@")[2]
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {host}",
            f"User-Agent: mjpeg-server-bench/{__version__}",
            "Accept: multipart/x-mixed-replace, */*",
            "Connection: close",
        ]
        if parts.username is not None:  # mjpg-streamer -c user:pass, µStreamer --user
            secret = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            lines.append("Authorization: Basic " + base64.b64encode(secret.encode()).decode())
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return cls(parts.hostname, port, request)


@dataclass(frozen=True)
class LoadConfig:
    """One load run: see the module docstring and ``mjpeg-server bench --help``."""

    url: str
    clients: int = 1
    seconds: float = 10.0
    processes: int = 1
    slow: int = 0
    slow_rate: float = 0.1
    warmup: float = 0.0
    #: The sizes of the frames the server loops, in order (``--loop DIR``).
    loop: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.clients < 1:
            raise ValueError("--clients must be at least 1")
        if not 0 < self.seconds < math.inf:
            raise ValueError("--seconds must be a positive number")
        if not 1 <= self.processes <= self.clients:
            raise ValueError("--processes must be between 1 and --clients")
        if not 0 <= self.slow <= self.clients:
            raise ValueError("--slow must be between 0 and --clients")
        if not 0 < self.slow_rate <= 1:
            raise ValueError("--slow-rate must be a fraction in (0, 1]")
        if not 0 <= self.warmup < self.seconds:
            raise ValueError("--warmup must be at least 0 and less than --seconds")
        if len(set(self.loop)) < len(self.loop):
            raise ValueError("--loop: frames of the same size cannot be told apart")
        Target.from_url(self.url)  # a bad URL fails here, once, not in every client

    def slow_indexes(self) -> frozenset[int]:
        """Which clients are slow: spread evenly, so each process gets its share."""
        if not self.slow:
            return frozenset()
        step = self.clients / self.slow
        return frozenset(int(i * step) for i in range(self.slow))

    def to_json(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "url": self.url,
            "clients": self.clients,
            "seconds": self.seconds,
            "processes": self.processes,
            "slow": self.slow,
            "slow_rate": self.slow_rate,
            "warmup": self.warmup,
        }
        if self.loop:
            params["loop_frames"] = len(self.loop)
        return params
