"""HTTPS served directly (``--tls-cert``/``--tls-key``; issue 11 item 3), streams included.

Real clients (curl, requests, the kit's own reader) against the real server
process on a certificate each test session makes with the ``openssl`` CLI. The
browser tier shows the viewer page over HTTPS in headless Chromium
(``tests/browser/test_tls.py``).
"""

from __future__ import annotations

import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from mjpeg_server.client.stream import iter_frames
from support.fixtures import FRAMES
from support.server import ServerProcess, run_cli
from support.tls import make_certificate
from support.tools import require_tool
from support.waiting import LIVENESS, wait_until


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def server(certificate: tuple[Path, Path]) -> Iterator[ServerProcess]:
    cert, key = certificate
    with ServerProcess(
        "--camera",
        "emulated?fps=30",
        "--tls-cert",
        str(cert),
        "--tls-key",
        str(key),
        "--header-timeout",
        "2",
        "--send-timeout",
        "2",
        verify=str(cert),
    ) as s:
        yield s


def tls_connect(server: ServerProcess, cert: Path, *, rcvbuf: int | None = None) -> ssl.SSLSocket:
    context = ssl.create_default_context(cafile=str(cert))
    raw = socket.socket()
    if rcvbuf is not None:
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    raw.settimeout(LIVENESS)
    raw.connect(server.address)
    return context.wrap_socket(raw, server_hostname="127.0.0.1")


def test_the_server_says_https(server: ServerProcess) -> None:
    assert server.base_url.startswith("https://127.0.0.1:")


def test_curl_reads_pages_and_the_stream(
    server: ServerProcess, certificate: tuple[Path, Path]
) -> None:
    curl = require_tool("curl", "curl")
    cert = str(certificate[0])
    health = subprocess.run(
        [curl, "-sS", "--cacert", cert, server.url("/healthz")],
        capture_output=True,
        timeout=LIVENESS,
        check=True,
    )
    assert health.stdout == b"ok\n"
    # A stream never ends by itself: curl stops after 3 s (exit 28), with what it read.
    stream = subprocess.run(
        [curl, "-sS", "-N", "-i", "--max-time", "3", "--cacert", cert, server.url("/stream.mjpg")],
        capture_output=True,
        timeout=LIVENESS,
        check=False,
    )
    assert stream.returncode == 28, stream.stderr
    assert stream.stdout.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Content-Type: multipart/x-mixed-replace; boundary=mjpegframe" in stream.stdout
    assert stream.stdout.count(b"X-Frame-Seq: ") >= 10


def test_the_kit_client_reads_whole_frames(server: ServerProcess) -> None:
    session = requests.Session()
    session.verify = server.verify
    session.trust_env = False  # REQUESTS_CA_BUNDLE would beat session.verify
    frames = []
    for frame in iter_frames(server.url("/stream.mjpg"), timeout=LIVENESS, session=session):
        frames.append(frame)
        if len(frames) == 10:
            break
    seqs = [frame.seq for frame in frames]
    assert seqs == sorted(set(seqs))
    assert all(frame.jpeg in FRAMES for frame in frames)
    wait_until(lambda: server.status()["clients"] == 0, LIVENESS)


def test_kept_alive_requests_and_snapshots(server: ServerProcess) -> None:
    with requests.Session() as session:
        session.verify = server.verify
        session.trust_env = False
        for _ in range(3):
            assert session.get(server.url("/healthz"), timeout=LIVENESS).text == "ok\n"
        snapshot = session.get(server.url("/snapshot.jpg"), timeout=LIVENESS)
        assert snapshot.headers["Content-Type"] == "image/jpeg"
        assert snapshot.content in FRAMES


def test_plain_http_on_the_tls_port_is_closed_and_costs_nothing(server: ServerProcess) -> None:
    before = front_door(server)["tls_failures"]
    with socket.create_connection(server.address, timeout=LIVENESS) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        data = b""
        try:
            while chunk := sock.recv(4096):
                data += chunk
        except ConnectionResetError:
            pass
    assert b"ok" not in data
    assert front_door(server)["tls_failures"] == before + 1
    assert requests.get(server.url("/healthz"), timeout=LIVENESS, verify=server.verify).ok


def test_a_handshake_never_finished_meets_the_header_deadline(server: ServerProcess) -> None:
    silent = [socket.create_connection(server.address, timeout=LIVENESS) for _ in range(50)]
    try:
        assert requests.get(server.url("/healthz"), timeout=LIVENESS, verify=server.verify).ok
        for sock in silent:
            assert sock.recv(4096) == b""
    finally:
        for sock in silent:
            sock.close()


def test_a_tls_viewer_that_never_reads_is_ended_after_the_send_timeout(
    server: ServerProcess, certificate: tuple[Path, Path]
) -> None:
    wait_until(lambda: server.status()["clients"] == 0, LIVENESS)
    before = front_door(server)["send_timeouts"]
    stuck = [tls_connect(server, certificate[0], rcvbuf=1024) for _ in range(4)]
    try:
        for sock in stuck:
            sock.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: test\r\n\r\n")
        wait_until(lambda: front_door(server)["send_timeouts"] >= before + 4, LIVENESS)
        wait_until(lambda: server.status()["clients"] == 0, LIVENESS)
    finally:
        for sock in stuck:
            sock.close()


def test_a_tls_stream_over_http_1_0(server: ServerProcess, certificate: tuple[Path, Path]) -> None:
    with tls_connect(server, certificate[0]) as sock:
        sock.sendall(b"GET /stream.mjpg HTTP/1.0\r\n\r\n")
        data = b""
        while data.count(b"X-Frame-Seq") < 3:
            chunk = sock.recv(65536)
            assert chunk
            data += chunk
    assert data.startswith(b"HTTP/1.0 200 OK\r\n")


def test_a_certificate_and_key_that_do_not_match_end_in_one_line(
    tmp_path: Path, certificate: tuple[Path, Path]
) -> None:
    other_cert, other_key = make_certificate(tmp_path)
    result = run_cli(["--tls-cert", str(certificate[0]), "--tls-key", str(other_key)])
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("mjpeg-server: error: cannot use --tls-cert")
    result = run_cli(["--tls-cert", str(other_cert), "--tls-key", str(tmp_path / "missing.pem")])
    assert result.returncode == 2
    assert result.stderr.startswith("mjpeg-server: error: cannot read --tls-key")
    assert len(result.stderr.splitlines()) == 1


def front_door(server: ServerProcess) -> dict[str, int]:
    stats = server.status()["front_door"]
    assert isinstance(stats, dict)
    return stats
