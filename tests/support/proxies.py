"""Debian's nginx and Caddy as real reverse proxies on loopback, for the recipes
in docs/proxy/ (run as they are, with ports, upstreams and certificate paths
replaced), and a certificate for them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path
from types import TracebackType
from typing import Self

from .tools import require_tool
from .waiting import LIVENESS, wait_until

ROOT = Path(__file__).resolve().parents[2]
RECIPES = ROOT / "docs" / "proxy"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (the client trusts it as its CA)."""
    openssl = require_tool("openssl", "openssl")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return cert, key


def replace_all(text: str, replacements: dict[str, str]) -> str:
    """``text`` with each key replaced; a key that is missing fails loudly, so the
    test cannot silently run something other than the recipe."""
    for old, new in replacements.items():
        assert old in text, f"the recipe no longer contains {old!r}"
        text = text.replace(old, new)
    return text


class _Process:
    command: list[str]
    env: dict[str, str] | None = None

    def __init__(self, folder: Path, port: int) -> None:
        self.folder = folder
        self.port = port
        self._process: subprocess.Popen[bytes] | None = None
        self._log = folder / "output.log"

    def start(self) -> Self:
        with self._log.open("wb") as log:
            self._process = subprocess.Popen(
                self.command, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                start_new_session=True,
            )  # fmt: skip
        wait_until(self._up, LIVENESS, message=f"{self.command[0]} never listened")
        return self

    def _up(self) -> bool:
        assert self._process is not None
        if self._process.poll() is not None:
            raise AssertionError(f"{self.command[0]} exited:\n{self.output}")
        return accepts(self.port)

    @property
    def output(self) -> str:
        return self._log.read_text(errors="replace")

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._process is not None and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(LIVENESS)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()


class Nginx(_Process):
    """nginx in the foreground with its own prefix, serving one site file."""

    def __init__(self, folder: Path, site: str, port: int) -> None:
        super().__init__(folder, port)
        nginx = require_tool("nginx", "nginx-light")
        temp = folder / "tmp"
        temp.mkdir(mode=0o777, exist_ok=True)
        (folder / "site.conf").write_text(site)
        temp_paths = "\n".join(
            f"    {kind}_temp_path {temp}/{kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        (folder / "nginx.conf").write_text(
            f"daemon off;\nworker_processes 1;\npid {folder}/nginx.pid;\n"
            f"error_log {folder}/error.log info;\n"
            "events { worker_connections 512; }\n"
            f"http {{\n    access_log {folder}/access.log;\n{temp_paths}\n"
            f"    include {folder}/site.conf;\n}}\n"
        )
        config, errors = folder / "nginx.conf", folder / "error.log"
        self.command = [nginx, "-p", str(folder), "-c", str(config), "-e", str(errors)]


class Caddy(_Process):
    """``caddy run`` with a Caddyfile, its state in the test's folder."""

    def __init__(self, folder: Path, caddyfile: str, port: int) -> None:
        super().__init__(folder, port)
        caddy = require_tool("caddy", "caddy")
        (folder / "Caddyfile").write_text(caddyfile)
        self.command = [
            caddy,
            "run",
            "--config",
            str(folder / "Caddyfile"),
            "--adapter",
            "caddyfile",
        ]
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(folder),
            "XDG_DATA_HOME": str(folder / "data"),
            "XDG_CONFIG_HOME": str(folder / "config"),
        }
