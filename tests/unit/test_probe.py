"""The probe command: its report, over real sockets, and its errors."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from codec_servers import BOUNDARY, RawServer, WSGIStreamServer, closed_port, http10, jpeg

import mjpeg_server
from mjpeg_server.client import probe
from mjpeg_server.client.stream import ReceivedFrame
from mjpeg_server.wire.multipart import Headers, PartEncoder
from support.fixtures import MJPG_STREAMER_CAPTURE
from support.server import ServerProcess, run_cli

ENCODER = PartEncoder(BOUNDARY)


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    probe.add_arguments(parser)
    return probe.run(parser.parse_args(argv))


def stream_of(*parts: tuple[bytes, list[tuple[str, str]]]) -> bytes:
    return http10(ENCODER.opening + b"".join(ENCODER.encode(p, h) for p, h in parts))


def test_text_report(wsgi_server: WSGIStreamServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(wsgi_server.url("/stream?n=4")) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[1:4] == [
        "HTTP         200 OK",
        f"Content-Type multipart/x-mixed-replace; boundary={BOUNDARY}",
        f"boundary     {BOUNDARY}",
    ]
    assert lines[4].startswith("frames       4 in ")
    assert lines[4].endswith("(X-Timestamp: 1.0 fps)")
    size = len(jpeg(0))
    assert f"frame size   min {size}, median {size}, max {size} bytes" in lines
    assert "resolution   unknown (4)" in lines
    assert "sequence     0 gaps in X-Frame-Seq, 0 frames missing" in lines
    assert "incomplete   0 of 4 JPEGs lack SOI or EOI" in lines
    assert lines[-1] == (
        "deviations   no-close-delimiter: the stream ended without the close delimiter "
        "'--boundary--'"
    )
    assert err == ""


def test_json_report_and_saved_frames(
    wsgi_server: WSGIStreamServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(wsgi_server.url("/stream?n=3"), "--json", "--save", str(tmp_path / "frames")) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["frames"] == 3
    assert report["capture_fps"] == 1.0
    assert report["sequence"] == {"gaps": 0, "missing": 0}
    assert report["latency_ms"]["p50"] <= report["latency_ms"]["p99"] <= report["latency_ms"]["max"]
    assert report["error"] is None
    saved = sorted((tmp_path / "frames").iterdir())
    assert [p.name for p in saved] == ["000000.jpg", "000001.jpg", "000002.jpg"]
    assert [p.read_bytes() for p in saved] == [jpeg(i) for i in range(3)]


def test_gaps_incomplete_jpegs_and_deviations(capsys: pytest.CaptureFixture[str]) -> None:
    seqs = [0, 1, 4, 5, 7, 3]
    parts = [(jpeg(s) if s != 5 else b"truncated", [("X-Frame-Seq", str(s))]) for s in seqs]
    body = stream_of(*parts).replace(b"\r\n", b"\n")
    with RawServer(lambda _: body) as raw:
        assert run(raw.url(), "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["sequence"] == {"gaps": 3, "missing": 3}  # 1→4, 5→7 and 7→3
    assert report["incomplete_jpegs"] == 1
    assert report["latency_ms"] is None
    assert list(report["deviations"]) == ["lf-line-endings", "no-close-delimiter"]


def test_latency_percentiles() -> None:
    frames = [
        ReceivedFrame(b"", Headers(), timestamp=100.0, seq=None, received_at=100.0 + ms / 1000)
        for ms in [5, 1, 3, 2, 4] * 20
    ]
    report = probe.Report("u", frames=frames)
    assert report.summary()["latency_ms"] == {
        "p50": 3.0,
        "p99": 5.0,
        "max": 5.0,
        "note": probe.CLOCK_NOTE,
    }
    assert "latency      p50 3.0 ms, p99 5.0 ms, max 5.0 ms (X-Timestamp against" in report.text()


def test_seconds_bounds_the_reading(
    wsgi_server: WSGIStreamServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(wsgi_server.url("/stream?n=50"), "--seconds", "0", "--json") == 0
    assert json.loads(capsys.readouterr().out)["frames"] == 1


@pytest.mark.parametrize(
    ("path", "message", "said"),
    [
        ("/missing", "answered HTTP 404 NOT FOUND", "HTTP         404 NOT FOUND"),
        (
            "/text",
            "is not a multipart stream: expected a multipart Content-Type",
            "Content-Type text/plain",
        ),
    ],
)
def test_errors_before_the_stream(
    wsgi_server: WSGIStreamServer,
    capsys: pytest.CaptureFixture[str],
    path: str,
    message: str,
    said: str,
) -> None:
    assert run(wsgi_server.url(path)) == 1
    out, err = capsys.readouterr()
    # The report is printed all the same, with what the server said.
    assert out.startswith(f"URL          {wsgi_server.url(path)}\n")
    assert said in out.splitlines()
    assert "frames       0 in 0.00 s" in out
    assert err.startswith("mjpeg-server probe: error: ")
    assert message in err
    assert err.count("\n") == 1


def test_protocol_error_midway_reports_what_arrived(capsys: pytest.CaptureFixture[str]) -> None:
    body = stream_of((jpeg(0), [])) + b"Content-Length: x\r\n\r\n"
    with RawServer(lambda _: body) as raw:
        assert run(raw.url()) == 1
    out, err = capsys.readouterr()
    assert "frames       1 in 0.00 s, fps unknown" in out
    assert err == (
        "mjpeg-server probe: error: expected Content-Length to be 1-18 digits, got 'x' "
        f"in the part headers (at byte {len(ENCODER.opening) + len(ENCODER.encode(jpeg(0), []))}"
        " of the stream)\n"
    )


def test_runs_as_a_module() -> None:
    """``python -m mjpeg_server.client.probe`` works without the CLI."""
    env = {**os.environ, "PYTHONPATH": str(Path(mjpeg_server.__file__).parents[1])}
    result = subprocess.run(
        [sys.executable, "-m", "mjpeg_server.client.probe", f"http://127.0.0.1:{closed_port()}/"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "mjpeg-server probe: error: cannot connect to" in result.stderr
    assert "Connection refused" in result.stderr


def test_mjpeg_server_probe_reads_our_real_server() -> None:
    """The subcommand as users run it, against the real server process."""
    # 10 fps: a 100 ms frame period, so that a loaded machine does not make the
    # camera lose a frame or the server skip one for this reader (both are gaps).
    with ServerProcess("--camera", "emulated?fps=10") as server:
        result = run_cli(["probe", server.url("/stream.mjpg"), "--seconds", "2", "--json"])
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["error"] is None
    assert report["frames"] >= 10
    assert report["sequence"] == {"gaps": 0, "missing": 0}
    # Our streams end on a connection close without a close delimiter; nothing else.
    assert set(report["deviations"]) <= {"no-close-delimiter"}


def test_probe_reads_the_mjpg_streamer_capture(capsys: pytest.CaptureFixture[str]) -> None:
    with RawServer(lambda _: MJPG_STREAMER_CAPTURE.read_bytes()) as raw:
        assert run(raw.url("/?action=stream"), "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["error"] is None
    assert report["frames"] == 11
    assert report["boundary"] == "boundarydonotcross"
