"""A TCP relay between a client and the real server, which can cut connections.

It stands for the network path: a test cuts one request's connection (say the
browser's stream) while everything else keeps working, as a Wi-Fi hiccup or a
proxy timeout does. Bytes pass unchanged, both ways.

    with TcpProxy(("127.0.0.1", server_port)) as proxy:
        browser.goto(proxy.url("/"))
        proxy.cut(b"stream.mjpg")
"""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass
from types import TracebackType
from typing import Self

_HEAD_LIMIT = 64 * 1024
#: The most of a connection's request bytes kept for ``cut`` to search.
_REQUESTS_LIMIT = 1024 * 1024


@dataclass
class _Connection:
    client: socket.socket
    upstream: socket.socket
    #: What the client has sent so far (bounded): a kept-alive connection may
    #: carry a page, a poll and then a stream, so ``cut`` searches all of it.
    requests: bytearray
    #: Directions still relaying; the sockets close when both are done.
    pumps: int = 2

    def close(self) -> None:
        for sock in (self.client, self.upstream):
            with contextlib.suppress(OSError):  # already gone
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


class TcpProxy:
    """Listens on a free port of 127.0.0.1 and relays each connection to ``target``."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._connections: list[_Connection] = []
        threading.Thread(target=self._accept, name="proxy-accept", daemon=True).start()

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def cut(self, marker: bytes) -> int:
        """Close both ends of every open connection whose request contains ``marker``
        (searched in every request the client sent on it). Returns how many were cut."""
        with self._lock:
            doomed = [c for c in self._connections if marker in c.requests]
            self._connections = [c for c in self._connections if c not in doomed]
        for connection in doomed:
            connection.close()
        return len(doomed)

    def close(self) -> None:
        self._listener.close()
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._open, args=(client,), daemon=True).start()

    def _open(self, client: socket.socket) -> None:
        try:
            first = client.recv(_HEAD_LIMIT)
            upstream = socket.create_connection(self.target)
            upstream.sendall(first)
        except OSError:
            client.close()
            return
        connection = _Connection(client, upstream, bytearray(first))
        with self._lock:
            self._connections.append(connection)
        threading.Thread(
            target=self._pump, args=(connection, upstream, client), daemon=True
        ).start()
        self._pump(connection, client, upstream, record=True)

    def _pump(
        self,
        connection: _Connection,
        source: socket.socket,
        sink: socket.socket,
        *,
        record: bool = False,
    ) -> None:
        try:
            while data := source.recv(_HEAD_LIMIT):
                if record and len(connection.requests) < _REQUESTS_LIMIT:
                    with self._lock:
                        connection.requests += data
                sink.sendall(data)
            sink.shutdown(socket.SHUT_WR)  # pass the end of this direction on
        except OSError:
            pass  # cut, or the other side went away: this direction is over
        with self._lock:
            connection.pumps -= 1
            finished = connection.pumps == 0
            if finished and connection in self._connections:
                self._connections.remove(connection)
        if finished:
            connection.close()
