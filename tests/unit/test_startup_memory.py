"""What the server loads at start-up (issue 9's idle budget of 35 MB RSS): the
real server process, read from ``/proc/PID/maps``; the figure itself is
``python -m bench.idle`` (README §Performance)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import requests

from support.server import ServerProcess
from support.waiting import LIVENESS

TOKEN = "t0ken-for-the-tests-0123456789"


def mapped(server: ServerProcess) -> str:
    return Path(f"/proc/{server.pid}/maps").read_text()


def test_an_idle_server_maps_no_openssl() -> None:
    """OpenSSL's libcrypto (about 3.4 MB resident) is not loaded without TLS."""
    with ServerProcess("--camera", "emulated") as server:
        requests.get(server.url("/healthz"), timeout=LIVENESS).raise_for_status()
        maps = mapped(server)
    assert "libcrypto" not in maps
    assert "libssl" not in maps


def test_token_checks_need_no_openssl() -> None:
    """The HMACs of access control run on Python's own SHA-256, at request time too."""
    with ServerProcess("--camera", "emulated", "--token", TOKEN) as server:
        response = requests.get(server.url("/status"), timeout=LIVENESS)
        assert response.status_code == 401
        response = requests.get(server.url(f"/status?token={TOKEN}"), timeout=LIVENESS)
        assert response.status_code == 200
        assert "libcrypto" not in mapped(server)


def test_an_application_importing_the_server_keeps_openssl_hashes() -> None:
    """Only the ``mjpeg-server`` process trades them: an embedding app keeps scrypt."""
    code = textwrap.dedent(
        """
        import sys
        import mjpeg_server.cli
        print("flask" in sys.modules)
        from mjpeg_server import create_app
        import hashlib
        print(hasattr(hashlib, "scrypt"))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    # The command's module loads no Flask (probe, bench and passwd need none).
    assert result.stdout.split() == ["False", "True"]
