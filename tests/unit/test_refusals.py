"""Refusals are summarised in the log: one line when the first comes, then one
line per interval with a count, never one WARNING per refused request."""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
import socket
from collections.abc import Callable, Iterator

import pytest
import requests

from mjpeg_server.server.front_door import RESERVED_FDS
from mjpeg_server.server.refusals import RefusalLog
from support.server import ServerProcess
from support.waiting import LIVENESS, wait_until

log = logging.getLogger("test.refusals")


class Harness:
    """A RefusalLog on the test's clock, whose timer the test fires by hand."""

    def __init__(self) -> None:
        self.now = 100.0
        self.timers: list[tuple[float, Callable[[], None]]] = []
        self.refusals = RefusalLog(
            log, interval=10.0, clock=lambda: self.now, schedule=self._schedule
        )

    def _schedule(self, delay: float, action: Callable[[], None]) -> None:
        self.timers.append((self.now + delay, action))

    def advance(self, seconds: float) -> None:
        """Move the clock on and fire the timers that are due."""
        self.now += seconds
        due = [t for t in self.timers if t[0] <= self.now]
        self.timers = [t for t in self.timers if t[0] > self.now]
        for _, action in due:
            action()


@pytest.fixture
def lines(caplog: pytest.LogCaptureFixture) -> Callable[[], list[str]]:
    caplog.set_level(logging.WARNING, logger=log.name)
    return lambda: [r.getMessage() for r in caplog.records if r.name == log.name]


def test_a_burst_of_refusals_is_one_line_then_one_with_the_count(
    lines: Callable[[], list[str]],
) -> None:
    harness = Harness()
    for _ in range(100):
        harness.refusals.refused("stream", "32 streams already open")
        harness.advance(0.0625)  # 100 refusals in 6.25 s (a binary fraction: exact sums)
    assert lines() == ["refused a stream: 32 streams already open (more within 10 s are counted)"]
    assert len(harness.timers) == 1  # one timer for the interval, not one per refusal
    harness.advance(3.75)
    assert lines()[1:] == ["refused 99 more streams in the last 10 s: 32 streams already open"]
    assert not harness.timers


def test_refusals_that_go_on_are_one_line_per_interval(lines: Callable[[], list[str]]) -> None:
    harness = Harness()
    for _ in range(60):  # one a second for a minute
        harness.refusals.refused("stream", "full")
        harness.advance(1.0)
    harness.advance(10.0)
    assert len(lines()) == 7  # the first, then one per 10 s
    counts = [int(line.split()[1]) for line in lines()[1:]]
    assert sum(counts) == 59


def test_a_refusal_after_a_quiet_interval_is_said_at_once(lines: Callable[[], list[str]]) -> None:
    harness = Harness()
    harness.refusals.refused("stream", "full")
    harness.advance(10.0)
    harness.refusals.refused("stream", "full")
    assert len(lines()) == 2
    assert all(line.startswith("refused a stream") for line in lines())


def test_kinds_are_counted_apart_and_flush_writes_what_is_left(
    lines: Callable[[], list[str]],
) -> None:
    harness = Harness()
    for why in ["full", "full", "shutting down", "full"]:
        harness.refusals.refused("stream", why)
    harness.refusals.flush()
    assert lines()[2:] == ["refused 2 more streams in the last 0 s: full"]
    harness.refusals.flush()  # nothing more to say
    assert len(lines()) == 3


def test_the_server_logs_a_crowd_of_refused_viewers_in_two_lines() -> None:
    """The real server at its limit, 20 more viewers: one line at once, and the
    count when it stops (or when the interval is over, whichever comes first)."""
    with (
        ServerProcess("--camera", "emulated?fps=10", "--max-clients", "1") as server,
        requests.get(server.url("/stream.mjpg"), stream=True, timeout=LIVENESS) as first,
    ):
        assert first.status_code == 200
        start = len(server.lines)
        for _ in range(20):
            assert requests.get(server.url("/stream.mjpg"), timeout=LIVENESS).status_code == 503
        server.wait_for_log("refused a stream: 1 streams already open", LIVENESS, start)
        server.stop()
    refusals = [line for line in server.lines[start:] if "refused" in line]
    assert len(refusals) == 2, refusals
    assert "refused 19 more streams" in refusals[1]


def test_one_more_is_one_stream(lines: Callable[[], list[str]]) -> None:
    harness = Harness()
    harness.refusals.refused("stream", "full")
    harness.refusals.refused("stream", "full")
    harness.refusals.flush()
    assert lines()[1] == "refused 1 more stream in the last 0 s: full"


@contextlib.contextmanager
def half_sent_requests(server: ServerProcess, count: int) -> Iterator[list[socket.socket]]:
    """``count`` connections to ``server``, each sending the start of a request
    head and no more, so that the front door holds them open (or refuses them);
    closed on the way out."""
    held: list[socket.socket] = []
    port = int(server.base_url.rpartition(":")[2])
    try:
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=LIVENESS)
            sock.sendall(b"GET / HTTP/1.1\r\n")  # and nothing more
            held.append(sock)
        yield held
    finally:
        for sock in held:
            sock.close()


def closed(socks: list[socket.socket]) -> int:
    """How many of ``socks`` the server has closed (read without blocking)."""
    count = 0
    for sock in socks:
        sock.setblocking(False)
        try:
            count += sock.recv(1, socket.MSG_PEEK) == b""
        except BlockingIOError:
            pass  # open, nothing to read
        except ConnectionResetError:  # closed with our bytes unread
            count += 1
    return count


def test_the_front_door_summarises_connections_over_its_limit() -> None:
    """With 40 connections' worth of descriptors (the file limit less the front
    door's reserve), 20 more half-sent requests are refused: one line at once,
    the count when the server stops."""
    allowed = 40
    prlimit = shutil.which("prlimit")
    if prlimit is None:
        pytest.skip("needs prlimit (util-linux) to start the server with a low file limit")
    limit = RESERVED_FDS + allowed
    wrapper = [prlimit, f"--nofile={limit}:{limit}", "--"]
    # A long header timeout: only refusals close connections during the test.
    server = ServerProcess(
        "--camera", "emulated?fps=10", "--header-timeout", "300", wrapper=wrapper
    )
    with server:
        start = len(server.lines)
        with half_sent_requests(server, allowed + 20) as held:
            # The front door closes each connection it refuses at once (the others wait
            # for the rest of their request): wait until the 20 or so have seen it.
            wait_until(lambda: closed(held) >= 19, LIVENESS, message="nothing was refused")
            server.stop()
    refusals = [line for line in server.lines[start:] if "refused" in line]
    assert len(refusals) == 2, refusals
    assert refusals[0].endswith(
        f"refused a connection: {allowed} connections open (more within 10 s are counted)"
    )
    # 20 or so: a connection of the server's start-up check may still hold a place.
    assert re.search(
        r"refused \d+ more connections in the last \d+ s: 40 connections open$", refusals[1]
    )
