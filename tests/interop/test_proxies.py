"""The reverse-proxy recipes (docs/proxy/) with Debian's nginx and Caddy in front
of the real server, read through by the kit's client over HTTPS; and the
scale-out recipe: relays behind nginx ``least_conn``."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from interop.results import ARTIFACTS
from mjpeg_server.cameras.emulated import bundled_frames_dir, load_frames
from mjpeg_server.client.stream import ReceivedFrame, iter_frames
from mjpeg_server.stats import percentile
from support.proxies import RECIPES, Caddy, Nginx, free_port, make_certificate, replace_all
from support.server import ServerProcess
from support.waiting import LIVENESS, wait_until

TOKEN = "proxy-token-0123456789abcdef"
FRAMES = 20
SOURCES = load_frames(bundled_frames_dir())


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with ServerProcess("--token", TOKEN, "--camera", "emulated?fps=10") as s:
        yield s


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_certificate(tmp_path_factory.mktemp("tls"))


def upstream_port(server: ServerProcess) -> int:
    return int(server.base_url.rsplit(":", 1)[1])


def figures(name: str, frames: list[ReceivedFrame]) -> dict[str, float]:
    """Rate and latency of frames read through a proxy, saved as figures."""
    latencies = [(f.received_at - f.timestamp) * 1000 for f in frames[1:] if f.timestamp]
    span = frames[-1].received_at - frames[1].received_at
    seqs = [f.seq or 0 for f in frames]
    result = {
        "frames": len(frames),
        "skipped": seqs[-1] - seqs[0] + 1 - len(frames),
        "fps": round((len(frames) - 2) / span, 2),
        "latency_p50_ms": round(percentile(latencies, 50), 2),
        "latency_p99_ms": round(percentile(latencies, 99), 2),
    }
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"{name}: {result}")
    return result


#: Frames the server may skip for a viewer on a loaded machine (see interop's
#: MAX_SKIPPED); what a buffering proxy does, skipping none but delaying all,
#: shows in the latency figures instead.
MAX_SKIPPED = FRAMES // 10


def read_through(url: str, cert: Path) -> list[ReceivedFrame]:
    """FRAMES frames through the proxy: each a source frame, in order."""
    session = requests.Session()
    # Not the environment's CA bundle (REQUESTS_CA_BUNDLE beats session.verify).
    session.trust_env = False
    session.verify = str(cert)
    frames = list(itertools.islice(iter_frames(url, timeout=LIVENESS, session=session), FRAMES))
    assert all(frame.jpeg in SOURCES for frame in frames)
    seqs = [frame.seq for frame in frames]
    assert all(seq is not None for seq in seqs)
    steps = [b - a for a, b in itertools.pairwise(seqs)]  # type: ignore[operator]
    assert all(step >= 1 for step in steps), f"frames out of order: {seqs}"
    assert sum(steps) - len(steps) <= MAX_SKIPPED, f"frames skipped on the way: {seqs}"
    return frames


def test_nginx_recipe_https_auth_and_unbuffered_streams(
    server: ServerProcess, certificate: tuple[Path, Path], tmp_path: Path
) -> None:
    cert, key = certificate
    http_port, https_port = free_port(), free_port()
    site = replace_all(
        (RECIPES / "nginx.conf").read_text(),
        {
            "server 127.0.0.1:8000;": f"server 127.0.0.1:{upstream_port(server)};",
            "    listen [::]:80;\n": "",
            "    listen [::]:443 ssl;\n": "",
            "listen 80;": f"listen 127.0.0.1:{http_port};",
            "listen 443 ssl;": f"listen 127.0.0.1:{https_port} ssl;",
            "/etc/ssl/certs/mjpeg-server.pem": str(cert),
            "/etc/ssl/private/mjpeg-server.key": str(key),
        },
    )
    with Nginx(tmp_path, site, https_port) as nginx:
        base = f"https://127.0.0.1:{https_port}"
        plain = requests.get(
            f"http://127.0.0.1:{http_port}/stream.mjpg", allow_redirects=False, timeout=LIVENESS
        )
        assert plain.status_code == 301
        assert plain.headers["Location"] == "https://127.0.0.1/stream.mjpg"
        # The server's access control answers through nginx.
        refused = requests.get(f"{base}/status", verify=str(cert), timeout=LIVENESS)
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"].startswith("Basic")
        # The kit's client reads the stream through nginx, none skipped.
        frames = read_through(f"{base}/?action=stream&token={TOKEN}", cert)
        read_through(f"{base}/stream.mjpg?token={TOKEN}", cert)
        figures("nginx", frames)
        # The login cookie is Secure behind HTTPS (X-Forwarded-Proto).
        login = requests.post(
            f"{base}/login", data={"password": TOKEN}, verify=str(cert),
            allow_redirects=False, timeout=LIVENESS,
        )  # fmt: skip
        assert login.status_code == 303
        assert "Secure" in login.headers["Set-Cookie"]
        # A failure counts against the address nginx saw, not one the client claims.
        start = len(server.lines)
        claims = {"Authorization": "Bearer wrong", "X-Forwarded-For": "203.0.113.9"}
        spoofed = requests.get(f"{base}/status", headers=claims, verify=str(cert), timeout=30)
        assert spoofed.status_code == 401
        line = server.wait_for_log("auth: wrong token from", LIVENESS, start)
        assert "from 127.0.0.1;" in line
        assert "[error]" not in (tmp_path / "error.log").read_text()
        del nginx


def test_caddy_recipe_https_streams(
    server: ServerProcess, certificate: tuple[Path, Path], tmp_path: Path
) -> None:
    cert, key = certificate
    port = free_port()
    caddyfile = replace_all(
        (RECIPES / "Caddyfile").read_text(),
        {
            # Offline: the test's certificate instead of Let's Encrypt, no admin API,
            # no port 80 redirect server.
            "camera.example.org {": "{\n\tadmin off\n\tauto_https disable_redirects\n}\n\n"
            f"https://127.0.0.1:{port} {{\n\ttls {cert} {key}",
            "reverse_proxy 127.0.0.1:8000": f"reverse_proxy 127.0.0.1:{upstream_port(server)}",
        },
    )
    with Caddy(tmp_path, caddyfile, port):
        base = f"https://127.0.0.1:{port}"
        refused = requests.get(f"{base}/snapshot.jpg", verify=str(cert), timeout=LIVENESS)
        assert refused.status_code == 401
        frames = read_through(f"{base}/stream.mjpg?token={TOKEN}", cert)
        figures("caddy", frames)


RELAYS = 3
VIEWERS = 12


def test_scale_out_relays_behind_nginx_least_conn(tmp_path: Path) -> None:
    """One origin, three relays, nginx least_conn: the origin serves one
    connection per relay however many viewers come; every viewer gets every frame."""
    with ServerProcess("--camera", "emulated?fps=10", "--idle-timeout", "never") as origin:
        relays = [
            ServerProcess(
                "--camera", f"http://{origin.base_url.removeprefix('http://')}/stream.mjpg",
                "--max-clients", str(VIEWERS),
            ).start()
            for _ in range(RELAYS)
        ]  # fmt: skip
        try:
            port = free_port()
            servers = "".join(f"    server 127.0.0.1:{upstream_port(relay)};\n" for relay in relays)
            site = replace_all(
                (RECIPES / "scale-out.conf").read_text(),
                {
                    "    server 127.0.0.1:8001;\n    server 127.0.0.1:8002;\n"
                    "    server 127.0.0.1:8003;\n": servers,
                    "listen 8000;": f"listen 127.0.0.1:{port};",
                },
            )
            with Nginx(tmp_path, site, port):
                bench = start_bench(f"http://127.0.0.1:{port}/stream.mjpg")
                # While every viewer watches: where did they go, and what does the origin serve?
                per_relay = wait_until(
                    lambda: (
                        (counts := [r.camera_status()["clients"] for r in relays])
                        and sum(counts) == VIEWERS  # type: ignore[arg-type]
                        and counts
                    ),
                    LIVENESS,
                    message="the viewers never all arrived",
                )
                origin_clients = origin.camera_status()["clients"]
                report = finish_bench(bench)
        finally:
            for relay in relays:
                relay.stop()
    fan_in = {
        "viewers": VIEWERS,
        "relays": RELAYS,
        "origin_connections": origin_clients,
        "viewers_per_relay": per_relay,
        "fps_min": report["fps"]["min"],
        "fps_median": report["fps"]["median"],
        "dropped": report["dropped"],
        "latency_p50_ms": report["latency_ms"]["p50"],
        "latency_p99_ms": report["latency_ms"]["p99"],
    }
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "scale-out.json").write_text(json.dumps(fan_in, indent=2) + "\n")
    print(f"scale-out: {fan_in}")
    assert origin_clients == RELAYS  # exactly one upstream connection per relay
    assert sum(per_relay) == VIEWERS
    assert all(count >= 1 for count in per_relay), per_relay  # least_conn spread them
    assert report["errors"] == 0
    # X-Frame-Seq passes through the relays: gaps are frames a viewer missed. On a
    # quiet machine there are none (the figures keep the exact count); a loaded one
    # delays a relay's reader now and then, and all of its viewers miss that frame.
    # A broken setup (buffering, one relay for everyone) loses far more.
    assert report["dropped"] <= report["frames"] // 10


def start_bench(url: str) -> subprocess.Popen[str]:
    """The kit's load tool: VIEWERS concurrent viewers for a few seconds."""
    return subprocess.Popen(
        [sys.executable, "-m", "mjpeg_server", "bench", url, "--clients", str(VIEWERS),
         "--seconds", "8", "--warmup", "1", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def finish_bench(bench: subprocess.Popen[str]) -> dict:  # type: ignore[type-arg]
    out, err = bench.communicate(timeout=120)
    assert bench.returncode == 0, err
    report: dict = json.loads(out)  # type: ignore[type-arg]
    return report
