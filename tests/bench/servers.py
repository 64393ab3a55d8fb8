"""The servers the benchmark compares, each serving the same folder of frames at 30 fps.

* ``ours``: the real ``mjpeg-server`` process, ``--camera emulated:DIR?fps=30``.
* ``mjpg-streamer``: the C server most MJPEG users know, built from its public
  source outside this repository and found through the ``MJPG_STREAMER``
  environment variable (the path of its ``mjpg_streamer`` binary; the plugins
  ``input_file.so`` and ``output_http.so`` next to it, in ``../lib/mjpg-streamer``
  as ``make install`` puts them, or in ``plugins/*/`` of a CMake build folder).
  It loops the folder with ``input_file.so -f DIR/ -e -d 0.0333`` (``-e``:
  serve the existing ``*.jpg`` files in name order, over and over; ``-d``:
  seconds to pause after each frame) and serves it with ``output_http.so``.

Both are started fresh, measured one at a time, and stopped, so that neither
pays for the other's capture.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self

import requests

from bench.procs import tree
from support.server import ServerProcess
from support.waiting import wait_until

FPS = 30
STARTUP = 30.0  # seconds a server may take to serve its first frame
PLUGINS = ("input_file.so", "output_http.so")


class Server(Protocol):
    """A running server under test."""

    name: str
    #: The stream every client opens.
    stream_url: str
    #: The TCP port it listens on (its connections are counted there).
    port: int

    def pids(self) -> list[int]:
        """The processes whose CPU, memory and threads are the server's."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class Ours:
    """``mjpeg-server`` on the frames of ``folder``, the camera kept open throughout."""

    name = "ours"

    def __init__(
        self,
        folder: Path,
        *,
        max_clients: int,
        extra_args: Sequence[str] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        camera = f"emulated:{folder}?fps={FPS}"
        self._process = ServerProcess(
            "--camera",
            camera,
            "--max-clients",
            str(max_clients),
            "--idle-timeout",
            "never",
            *extra_args,
            env=env,
            startup_timeout=STARTUP,
        )
        self.stream_url = ""
        self.port = 0

    def pids(self) -> list[int]:
        return tree(self._process.pid)

    def __enter__(self) -> Self:
        self._process.start()
        self.stream_url = self._process.url("/stream.mjpg")
        self.port = int(self._process.base_url.rpartition(":")[2])
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._process.stop()


def find_mjpg_streamer(environ: dict[str, str] | None = None) -> tuple[Path | None, str]:
    """(the binary, "") if ``MJPG_STREAMER`` names a usable mjpg-streamer, else
    (None, why not): the comparison is then skipped, saying so."""
    environ = dict(os.environ) if environ is None else environ
    value = environ.get("MJPG_STREAMER", "")
    if not value:
        return None, (
            "MJPG_STREAMER is not set (the path of an mjpg_streamer binary built from "
            "https://github.com/jacksonliam/mjpg-streamer; see README, Performance)"
        )
    binary = Path(value).expanduser()
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        return None, f"MJPG_STREAMER={value}: no executable file there"
    if plugin_folder(binary) is None:
        return None, f"MJPG_STREAMER={value}: no {' and '.join(PLUGINS)} found near it"
    return binary, ""


def plugin_folder(binary: Path) -> Path | None:
    """Where the plugins are: next to the binary, the install layout, or a build folder."""
    here = binary.resolve().parent
    for folder in (here, here.parent / "lib" / "mjpg-streamer"):
        if all((folder / plugin).is_file() for plugin in PLUGINS):
            return folder
    return None if not (here / "plugins").is_dir() else _build_folder(here)


def _build_folder(here: Path) -> Path | None:
    # A CMake build folder has each plugin in its own plugins/<name>/ folder.
    found = [next(iter((here / "plugins").glob(f"*/{plugin}")), None) for plugin in PLUGINS]
    if None in found:
        return None
    return here / "plugins"


def _plugin(binary: Path, name: str) -> Path:
    folder = plugin_folder(binary)
    assert folder is not None
    direct = folder / name
    return direct if direct.is_file() else next(folder.glob(f"*/{name}"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class MjpgStreamer:
    """mjpg-streamer looping ``folder`` at 30 fps, on a free loopback port."""

    name = "mjpg-streamer"

    def __init__(self, binary: Path, folder: Path) -> None:
        self.binary = binary
        self.folder = folder
        self.port = 0
        self.stream_url = ""
        self._process: subprocess.Popen[bytes] | None = None

    def command(self, port: int) -> list[str]:
        delay = f"{1 / FPS:.4f}"  # 0.0333: the pause after each frame, as the issue ran it
        return [
            str(self.binary),
            "-i",
            f"{_plugin(self.binary, 'input_file.so')} -f {self.folder}/ -e -d {delay}",
            "-o",
            f"{_plugin(self.binary, 'output_http.so')} -p {port} -l 127.0.0.1",
        ]

    def pids(self) -> list[int]:
        assert self._process is not None
        return tree(self._process.pid)

    def _serves(self) -> bool:
        assert self._process is not None
        if self._process.poll() is not None:
            raise RuntimeError(f"mjpg-streamer exited with status {self._process.returncode}")
        try:
            snapshot = requests.get(self._url("/?action=snapshot"), timeout=5)
        except requests.ConnectionError:
            return False
        return snapshot.ok and snapshot.content.startswith(b"\xff\xd8")

    def _url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> Self:
        # A port found free can be taken before mjpg-streamer binds it (other
        # tests run on this machine): then it exits, and another port is tried.
        for _attempt in range(3):
            self.port = free_port()
            self._process = subprocess.Popen(
                self.command(self.port),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            try:
                wait_until(self._serves, STARTUP, interval=0.1, message="mjpg-streamer silent")
            except RuntimeError:
                continue
            self.stream_url = self._url("/?action=stream")
            return self
        raise RuntimeError(f"mjpg-streamer did not start: {' '.join(self.command(self.port))}")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
