"""``/metrics`` scraped from the real server process and read with prometheus_client's parser."""

from __future__ import annotations

import itertools
import shutil
import subprocess
import sys

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from test_refusals import closed, half_sent_requests

from mjpeg_server.client.stream import iter_frames
from mjpeg_server.server.front_door import RESERVED_FDS
from support.fixtures import FRAMES
from support.server import ServerProcess
from support.upstreams import Upstream, parts
from support.waiting import LIVENESS, wait_until

TOKEN = "metrics-token-0123456789"


def scrape(
    server: ServerProcess, session: requests.Session | None = None, **headers: str
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """``(sample name, sorted labels) → value`` of one scrape."""
    response = (session or requests).get(server.url("/metrics"), headers=headers, timeout=LIVENESS)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def camera(name: str, **labels: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted({"camera": name, **labels}.items()))


def test_per_camera_and_server_metrics() -> None:
    with ServerProcess(
        "--camera", "front=emulated?fps=20", "--camera", "back=emulated?fps=5",
        "--max-clients", "1", "--idle-timeout", "never",
    ) as server:  # fmt: skip
        before = scrape(server)
        assert before[("mjpeg_server_frames_captured_total", camera("front"))] == 0
        assert before[("mjpeg_server_camera_state", camera("front", state="idle"))] == 1
        assert before[("mjpeg_server_camera_state", camera("front", state="streaming"))] == 0
        assert before[("mjpeg_server_max_streams", ())] == 1
        assert before[("mjpeg_server_info", (("version", server.status()["version"]),))] == 1

        stream = iter_frames(server.url("/cameras/front/stream.mjpg"), timeout=LIVENESS)
        frames = list(itertools.islice(stream, 5))
        # The one slot is taken: a second stream is refused and counted.
        refused = requests.get(server.url("/cameras/back/stream.mjpg"), timeout=LIVENESS)
        assert refused.status_code == 503
        during = scrape(server)
        stream.close()

        front = camera("front")
        assert during[("mjpeg_server_viewers", front)] == 1
        assert during[("mjpeg_server_streams", ())] == 1
        assert during[("mjpeg_server_streams_refused_total", ())] == 1
        # The front door's own counts: every request so far went through it.
        assert during[("mjpeg_server_requests_total", ())] >= 3
        assert during[("mjpeg_server_connections_accepted_total", ())] >= 3
        assert during[("mjpeg_server_streams_started_total", ())] == 1
        assert during[("mjpeg_server_header_timeouts_total", ())] == 0
        assert during[("mjpeg_server_frames_sent_total", front)] >= len(frames)
        assert during[("mjpeg_server_frames_captured_total", front)] >= len(frames)
        assert during[("mjpeg_server_camera_opens_total", front)] == 1
        assert during[("mjpeg_server_camera_failures_total", front)] == 0
        assert during[("mjpeg_server_camera_state", camera("front", state="streaming"))] == 1
        assert during[("mjpeg_server_fps_configured", front)] == 20
        assert during[("mjpeg_server_fps", front)] > 0
        assert during[("mjpeg_server_frames_captured_total", camera("back"))] == 0
        assert during[("mjpeg_server_frames_rejected_total", front)] == 0
        # The scrape agrees with /status: one source for both.
        status = server.camera_status("front")
        after = scrape(server)
        assert after[("mjpeg_server_frames_sent_total", front)] >= status["frames_sent"]  # type: ignore[operator]
        wait_until(
            lambda: scrape(server)[("mjpeg_server_viewers", front)] == 0,
            LIVENESS,
            message="viewer never left",
        )


def test_metrics_need_credentials_and_count_auth_failures() -> None:
    with ServerProcess("--token", TOKEN) as server:
        assert requests.get(server.url("/metrics"), timeout=LIVENESS).status_code == 401
        for _ in range(3):
            wrong = requests.get(
                server.url("/status"), headers={"Authorization": "Bearer nope"}, timeout=LIVENESS
            )
            assert wrong.status_code == 401
        samples = scrape(server, Authorization=f"Bearer {TOKEN}")
        assert samples[("mjpeg_server_auth_failures_total", ())] == 3
        assert samples[("mjpeg_server_auth_lockouts_total", ())] == 0


def test_prometheus_client_is_imported_on_the_first_scrape_only() -> None:
    code = (
        "import sys\n"
        "from mjpeg_server import create_app\n"
        "app = create_app()\n"
        "client = app.test_client()\n"
        "assert client.get('/status').status_code == 200\n"
        "print('prometheus_client' in sys.modules)\n"
        "assert client.get('/metrics').status_code == 200\n"
        "print('prometheus_client' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.split() == ["False", "True"]


def test_frames_that_are_not_jpegs_are_counted() -> None:
    """A relayed upstream that sends an error page as a part: counted, never served."""
    page = b"<html><body>Internal error</body></html>"
    upstream_parts = parts([FRAMES[0], page, FRAMES[1]], repeat=200, period=0.02, then_close=False)
    with (
        Upstream(upstream_parts) as upstream,
        ServerProcess("--camera", upstream.url(), "--idle-timeout", "never") as server,
    ):
        stream = iter_frames(server.url("/stream.mjpg"), timeout=LIVENESS)
        frames = list(itertools.islice(stream, 4))
        stream.close()
        wait_until(lambda: server.camera_status()["frames_rejected"] >= 2, LIVENESS)
        rejected = server.camera_status()["frames_rejected"]
        assert scrape(server)[("mjpeg_server_frames_rejected_total", camera("default"))] >= rejected
    assert all(frame.jpeg in FRAMES for frame in frames)


def test_skipped_frames_and_an_idle_close_are_counted() -> None:
    """A viewer capped at 4 fps of a 20 fps camera skips frames; with
    --idle-timeout 0 the camera closes as it leaves. Both counters move, and
    agree with /status."""
    with ServerProcess("--camera", "emulated?fps=20", "--idle-timeout", "0") as server:
        front = camera("default")
        before = scrape(server)
        assert before[("mjpeg_server_frames_skipped_total", front)] == 0
        assert before[("mjpeg_server_camera_closes_total", front)] == 0
        stream = iter_frames(server.url("/stream.mjpg?fps=4"), timeout=LIVENESS)
        seqs = [frame.seq for frame in itertools.islice(stream, 3)]
        stream.close()
        wait_until(
            lambda: server.camera_status()["closes"] == 1, LIVENESS, message="camera never closed"
        )
        status = server.camera_status()
        after = scrape(server)
    assert all(seq is not None for seq in seqs)
    # At most one frame in 5 of a 20 fps camera: 4 or more skipped between two sent.
    passed_over = sum(b - a - 1 for a, b in itertools.pairwise(seqs))  # type: ignore[operator]
    assert passed_over >= 8, seqs
    assert after[("mjpeg_server_frames_skipped_total", front)] == status["frames_skipped"]
    assert after[("mjpeg_server_frames_skipped_total", front)] >= passed_over
    assert after[("mjpeg_server_camera_opens_total", front)] == 1
    assert after[("mjpeg_server_camera_closes_total", front)] == 1
    assert after[("mjpeg_server_camera_state", camera("default", state="idle"))] == 1


def test_connections_over_the_front_doors_limit_are_counted() -> None:
    """The server starts with descriptors for 40 connections (prlimit; the front
    door keeps RESERVED_FDS of its file limit back). The scrape's kept-alive
    connection holds one place, 60 half-sent requests follow: every one the
    front door closes at once is counted as refused, and only those."""
    prlimit = shutil.which("prlimit")
    if prlimit is None:
        pytest.skip("needs prlimit (util-linux) to start the server with a low file limit")
    allowed = 40
    limit = RESERVED_FDS + allowed
    # A long header timeout: only refusals close connections during the test.
    server = ServerProcess(
        "--header-timeout", "300", wrapper=[prlimit, f"--nofile={limit}:{limit}", "--"]
    )
    with server, requests.Session() as session:
        assert scrape(server, session)[("mjpeg_server_connections_refused_total", ())] == 0
        with half_sent_requests(server, allowed + 20) as held:
            # 40 places, one of them the session's: 21 or more of the 60 are refused.
            wait_until(lambda: closed(held) >= 21, LIVENESS, message="nothing was refused")
            wait_until(
                lambda: (
                    scrape(server, session)[("mjpeg_server_connections_refused_total", ())]
                    == closed(held)
                ),
                LIVENESS,
                message="the count never matched the connections closed",
            )
