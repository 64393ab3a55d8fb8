"""Run the real ``mjpeg-server`` process on a free port, as users do.

    with ServerProcess("--camera", "emulated?fps=10") as server:
        requests.get(server.url("/status"))

The server listens on port 0 (the kernel picks a free port) and the test
reads the address from its "serving … on http://HOST:PORT/" log line
(``https://`` with ``--tls-cert``).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import requests

from .waiting import Timeout, wait_until

_SERVING_RE = re.compile(r"serving \d+ camera\(s\) on (https?://[^/\s]+)/")


class ServerProcess:
    """One ``python -m mjpeg_server`` process; its output is kept in :attr:`lines`."""

    def __init__(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        startup_timeout: float = 30.0,
        host: str = "127.0.0.1",
        verify: str | bool = True,
        wrapper: Sequence[str] = (),
    ) -> None:
        self.args = ["--host", host, "--port", "0", *args]
        #: A command the server runs under (say, ``prlimit --nofile=N:N``).
        self.wrapper = list(wrapper)
        self.env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.startup_timeout = startup_timeout
        #: What requests checks TLS against: a CA file for a server on a test certificate.
        self.verify = verify
        self.lines: list[str] = []
        self.base_url = ""
        self._changed = threading.Condition()
        self._process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None

    # -- life cycle ---------------------------------------------------------

    def start(self) -> Self:
        self._process = subprocess.Popen(
            [*self.wrapper, sys.executable, "-m", "mjpeg_server", *self.args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=self.env,
            start_new_session=True,  # a Ctrl-C in the terminal is not for the server
        )
        self._reader = threading.Thread(target=self._read_output, daemon=True)
        self._reader.start()
        line = self.wait_for_log(_SERVING_RE, self.startup_timeout)
        match = _SERVING_RE.search(line)
        assert match is not None
        self.base_url = match[1]
        # The log line comes before the worker accepts: wait until it answers.
        wait_until(self._answers, self.startup_timeout, message="server never answered")
        return self

    def _answers(self) -> bool:
        try:
            return requests.get(self.url("/healthz"), timeout=5, verify=self.verify).ok
        except requests.ConnectionError:
            if self._process is not None and self._process.poll() is not None:
                raise AssertionError(f"server exited:\n{self.output}") from None
            return False

    def _read_output(self) -> None:
        process = self._require()
        assert process.stdout is not None
        for line in process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> float:
        """Send ``sig`` and wait for the process to exit; returns the seconds it took."""
        process = self._require()
        started = time.monotonic()
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                raise Timeout(
                    f"server ignored signal {sig} for {timeout} s:\n{self.output}"
                ) from None
        if self._reader is not None:
            self._reader.join(5)
        return time.monotonic() - started

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._process is not None and self._process.poll() is None:
            self.stop()

    # -- inspection -----------------------------------------------------------

    def _require(self) -> subprocess.Popen[str]:
        if self._process is None:
            raise RuntimeError("server not started")
        return self._process

    @property
    def pid(self) -> int:
        return self._require().pid

    @property
    def returncode(self) -> int | None:
        return self._require().poll()

    @property
    def output(self) -> str:
        with self._changed:
            return "\n".join(self.lines)

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    def status(self) -> dict[str, object]:
        response = requests.get(self.url("/status"), timeout=10, verify=self.verify)
        response.raise_for_status()
        result: dict[str, object] = response.json()
        return result

    def camera_status(self, name: str = "default") -> dict[str, object]:
        cameras = self.status()["cameras"]
        assert isinstance(cameras, dict)
        camera: dict[str, object] = cameras[name]
        return camera

    def wait_for_log(self, pattern: str | re.Pattern[str], timeout: float, start: int = 0) -> str:
        """The first output line from index ``start`` on that matches ``pattern``."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.lines[start:]:
                    if regex.search(line):
                        return line
                remaining = deadline - time.monotonic()
                exited = self._process is not None and self._process.poll() is not None
                if remaining <= 0 or (exited and not self._reader_alive()):
                    raise Timeout(
                        f"no log line matching {regex.pattern!r}:\n" + "\n".join(self.lines)
                    )
                self._changed.wait(min(remaining, 0.5))

    def _reader_alive(self) -> bool:
        return self._reader is not None and self._reader.is_alive()

    def worker_pid(self) -> int:
        """The process that owns the cameras: the server itself (one process, always)."""
        return self.pid

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) the server listens on."""
        host, port = self.base_url.split("://", 1)[1].rsplit(":", 1)
        return host, int(port)


def child_pids(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def thread_count(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise RuntimeError(f"no thread count for pid {pid}")


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def run_cli(args: Sequence[str], timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    """Run ``mjpeg-server ARGS`` to completion (for flag errors, --help, probe …)."""
    return subprocess.run(
        [sys.executable, "-m", "mjpeg_server", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    """What every bad flag, spec, config or file must end in: exit status 2 and one
    line on stderr, ``mjpeg-server: error: …``, holding each of ``fragments``."""
    assert result.returncode == 2, result.stderr
    assert result.stdout == "", result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("mjpeg-server: error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
