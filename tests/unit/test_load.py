"""The load tool (``mjpeg-server bench``): what it counts, and that it reads real servers.

The counting is tested on :class:`StreamRecorder` with streams built here and
receive times chosen here, so every figure has an exact expected value. The
end-to-end tests run real sockets against our server, an HTTP/1.0
close-delimited server in the style of mjpg-streamer, a refused port and a
503; they check what was counted, never how fast.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator, Sequence

import pytest
from codec_servers import RawServer, closed_port, frame_parts, jpeg

from mjpeg_server.cli import main
from mjpeg_server.client.bench import (
    SLOW_WARMUP_FRAMES,
    ClientResult,
    LoadConfig,
    StreamRecorder,
    join_times,
    run_load,
)
from mjpeg_server.wire.multipart import PartEncoder
from support.fixtures import MJPG_STREAMER_CAPTURE
from support.server import ServerProcess
from support.waiting import LIVENESS

SAMPLE = MJPG_STREAMER_CAPTURE
ENCODER = PartEncoder("mjpegframe")
CHUNKED_HEAD = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
    b"Content-Type: " + ENCODER.content_type.encode() + b"\r\n\r\n"
)
MJPG_STREAMER_TYPE = "multipart/x-mixed-replace;boundary=boundarydonotcross"


def chunk(data: bytes) -> bytes:
    return b"%X\r\n%s\r\n" % (len(data), data)


def feed(recorder: StreamRecorder, data: bytes, now: float, wall: float, size: int) -> None:
    """``data`` in reads of ``size`` bytes, all received at the same moment."""
    for start in range(0, len(data), size):
        recorder.receive(data[start : start + size], now, wall)


def recorder(window_opens: float = 0.0, slow_rate: float | None = None) -> StreamRecorder:
    return StreamRecorder(
        ClientResult(0, slow=slow_rate is not None), window_opens=window_opens, slow_rate=slow_rate
    )


# -------------------------------------------------------------- counting


@pytest.mark.parametrize("size", [1, 7, 1000, 1 << 20])
def test_chunked_stream_frames_gaps_and_latency(size: int) -> None:
    """Frames 0, 1, 2, 5, 6, each read 5 ms after its X-Timestamp: 2 dropped.

    Whatever the read sizes: a chunk, a chunk's size line or a part's headers
    split across reads change nothing.
    """
    rec = recorder()
    rec.result.started = 9.0
    feed(rec, CHUNKED_HEAD + chunk(ENCODER.opening), 9.5, 0.0, size)
    for seq, part in zip((0, 1, 2, 5, 6), frame_parts(ENCODER, (0, 1, 2, 5, 6)), strict=True):
        # frame_parts stamps frame `seq` with X-Timestamp 1_700_000_000 + seq + 0.25.
        feed(rec, chunk(part), 10.0 + seq, 1_700_000_000 + seq + 0.255, size)
    rec.finish(20.0)
    result = rec.result
    assert (result.status, result.error) == (200, None)
    assert result.frames == 5
    assert result.dropped == 2
    assert result.latencies_ms == pytest.approx([5.0] * 5, abs=1e-3)
    assert result.first_frame_s == 1.0  # from started (9.0) to the first frame (10.0)
    assert result.window_frames == 4  # counted from the first frame on
    assert result.fps == 4 / 10  # ... to the end of the run (20.0)


def test_close_delimited_http10_stream_without_seq() -> None:
    """mjpg-streamer's style: HTTP/1.0, no space after ';', X-Timestamp, no X-Frame-Seq."""
    encoder = PartEncoder("boundarydonotcross")
    body = encoder.opening + b"".join(
        encoder.encode(jpeg(i), [("X-Timestamp", f"{100 + i}.5")]) for i in range(4)
    )
    rec = recorder()
    rec.receive(b"HTTP/1.0 200 OK\r\nContent-Type: " + MJPG_STREAMER_TYPE.encode(), 0.0, 0.0)
    rec.receive(b"\r\n\r\n" + body, 1.0, 104.0)
    rec.end(2.0, 105.0)
    result = rec.result
    assert result.frames == 4
    assert result.dropped == 0
    assert result.latencies_ms == pytest.approx([3500.0, 2500.0, 1500.0, 500.0])
    assert result.error == "the server ended the stream"


def test_content_length_body_ends_with_its_length() -> None:
    """A finite multipart body (Content-Length) ends there, whatever follows."""
    body = ENCODER.opening + b"".join(frame_parts(ENCODER, (0, 1)))
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nContent-Type: %s\r\n\r\n" % (
        len(body),
        ENCODER.content_type.encode(),
    )
    rec = recorder()
    rec.receive(head + body + b"trailing junk", 1.0, 1_700_000_002.0)
    assert rec.result.frames == 2
    assert rec.result.error == "the server ended the stream"


def test_the_mjpg_streamer_capture() -> None:
    rec = recorder()
    feed(rec, SAMPLE.read_bytes(), 1.0, 1_795_463_182.0, 1500)
    assert rec.result.frames == 11
    assert len(rec.result.latencies_ms) == 11
    assert rec.result.error is None


def test_warmup_frames_count_only_for_first_frame() -> None:
    """Before the window opens: no fps, latency or drops, but time to first frame."""
    rec = recorder(window_opens=3.0)
    rec.receive(CHUNKED_HEAD + chunk(ENCODER.opening), 0.0, 0.0)
    for now, seq in ((1.0, 0), (2.0, 4), (3.0, 5), (4.0, 7), (5.0, 8)):
        rec.receive(chunk(next(frame_parts(ENCODER, [seq]))), now, 1_700_000_000 + seq + 0.75)
    rec.finish(6.0)
    result = rec.result
    assert result.first_frame_s == 1.0
    assert result.dropped == 1  # 5 -> 7; the gap 0 -> 4 came during the warm-up
    assert result.latencies_ms == pytest.approx([500.0] * 3)
    assert (result.window_start, result.window_frames, result.fps) == (3.0, 2, 2 / 3)


def test_slow_client_age_beyond_transfer_time() -> None:
    """The first frames measure the stream (full speed); then each frame's age
    is what its transfer at the throttled rate does not explain."""
    rec = recorder(slow_rate=0.1)
    rec.receive(CHUNKED_HEAD + chunk(ENCODER.opening), 0.0, 0.0)
    seqs = range(10, 10 + SLOW_WARMUP_FRAMES + 1)  # two digits each: parts of one size
    parts = [chunk(p) for p in frame_parts(ENCODER, seqs)]
    for seq, part in enumerate(parts[:SLOW_WARMUP_FRAMES]):
        rec.receive(part, 1.0 + seq * 0.1, 0.0)
    # 15 frames 0.1 s apart: the stream is len(part) bytes per 0.1 s.
    assert rec.throttle_rate is not None
    assert rec.throttle_rate == pytest.approx(0.1 * len(parts[0]) / 0.1)
    assert rec.result.interval == pytest.approx(0.1)
    transfer = len(jpeg(0)) / rec.throttle_rate
    stamp = 1_700_000_000 + seqs[-1] + 0.25
    rec.receive(parts[-1], 5.0, stamp + transfer + 0.25)  # 2.5 intervals beyond its transfer
    assert rec.result.ages == pytest.approx([2.5])
    assert rec.result.latencies_ms == []  # slow clients' latency is not the others'


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (
            b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\n\r\nbusy",
            "HTTP 503 Service Unavailable",
        ),
        (b"HTTP/1.0 200 OK\r\nContent-Type: image/jpeg\r\n\r\n\xff\xd8", "not a multipart stream"),
        (b"SSH-2.0-OpenSSH_9.2\r\n\r\n", "malformed stream: expected an HTTP status line"),
        (CHUNKED_HEAD + b"zz\r\n", "malformed stream: chunked body: bad chunk size"),
    ],
)
def test_bad_responses_are_errors(response: bytes, error: str) -> None:
    rec = recorder()
    rec.receive(response, 0.0, 0.0)
    rec.finish(1.0)
    assert rec.done
    assert rec.result.error is not None
    assert rec.result.error.startswith(error)
    assert rec.result.frames == 0


def test_closed_before_headers_and_no_frame() -> None:
    rec = recorder()
    rec.end(1.0, 1.0)
    assert rec.result.error == "connection closed before the response headers"
    silent = recorder()
    silent.receive(CHUNKED_HEAD, 0.0, 0.0)
    silent.finish(1.0)
    assert silent.result.error == "no frame received"


# ------------------------------------------------------ real sockets


class Http10Streamer:
    """mjpg-streamer's wire format, served forever: HTTP/1.0, close-delimited,
    X-Timestamp and no sequence header, one thread per client, a part every 20 ms."""

    def __init__(self) -> None:
        self.encoder = PartEncoder("boundarydonotcross")
        self.requests: list[bytes] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._accept, daemon=True)]

    def url(self, path: str = "/?action=stream") -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}{path}"

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:  # closed by __exit__
                return
            thread = threading.Thread(target=self._stream, args=(connection,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _stream(self, connection: socket.socket) -> None:
        with connection:
            request = connection.recv(4096)
            self.requests.append(request)
            head = f"HTTP/1.0 200 OK\r\nContent-Type: {MJPG_STREAMER_TYPE}\r\n\r\n".encode()
            try:
                connection.sendall(head + self.encoder.opening)
                while not self._stop.wait(0.02):
                    stamp = f"{time.time():.6f}"
                    connection.sendall(self.encoder.encode(jpeg(0), [("X-Timestamp", stamp)]))
            except OSError:  # the client left
                return

    def __enter__(self) -> Http10Streamer:
        self._threads[0].start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        for thread in self._threads:
            thread.join(10)


@pytest.fixture(scope="module")
def streamer() -> Iterator[Http10Streamer]:
    with Http10Streamer() as running:
        yield running


def assert_all_read(clients: Sequence[ClientResult], count: int) -> None:
    assert [c.index for c in clients] == list(range(count))
    for client in clients:
        assert (client.status, client.error) == (200, None)
        assert client.frames > 0
        assert client.latencies_ms
        assert client.first_frame_s is not None


@pytest.mark.parametrize("processes", [1, 2])
def test_reads_an_http10_server(streamer: Http10Streamer, processes: int) -> None:
    report = run_load(LoadConfig(streamer.url(), clients=4, seconds=1.0, processes=processes))
    assert_all_read(report.clients, 4)
    assert sum(c.dropped for c in report.clients) == 0  # no X-Frame-Seq: nothing to count
    assert all(r.startswith(b"GET /?action=stream HTTP/1.1\r\n") for r in streamer.requests)


def test_credentials_in_the_url_are_sent(streamer: Http10Streamer) -> None:
    """mjpg-streamer's -c user:pass: the URL's user and password as Basic auth."""
    url = streamer.url().replace("http://", "http://cam%40home:s3cret@")
    first = len(streamer.requests)
    # Long enough for a frame on a loaded box: a frame proves the request was answered.
    assert run_load(LoadConfig(url, seconds=2.0)).errors == {}
    assert b"\r\nAuthorization: Basic Y2FtQGhvbWU6czNjcmV0\r\n" in streamer.requests[first]


@pytest.mark.slow
def test_reads_our_server() -> None:
    with ServerProcess("--camera", "emulated?fps=15", "--max-clients", "8") as server:
        report = run_load(LoadConfig(server.url("/stream.mjpg"), clients=3, seconds=2.0))
        joins = join_times(server.url("/stream.mjpg"), 2, pause=0.0, timeout=LIVENESS)
    # Each join's time to its first frame: measured (positive), and within its
    # deadline (a join that misses it raises instead).
    assert len(joins) == 2
    assert all(0 < seconds < LIVENESS for seconds in joins), joins
    assert_all_read(report.clients, 3)
    assert report.to_json()["errors"] == 0


def test_refused_connections_are_errors() -> None:
    url = f"http://127.0.0.1:{closed_port()}/stream.mjpg"
    report = run_load(LoadConfig(url, clients=3, seconds=1.0))
    assert report.errors == {"connect: Connection refused": 3}
    assert [c.frames for c in report.clients] == [0, 0, 0]


def test_503_is_an_error() -> None:
    busy = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\n\r\nbusy\n"
    with RawServer(lambda _: busy) as raw:
        report = run_load(LoadConfig(raw.url("/stream.mjpg"), clients=2, seconds=1.0))
    assert report.errors == {"HTTP 503 Service Unavailable": 2}
    assert [c.status for c in report.clients] == [503, 503]


def test_json_output(streamer: Http10Streamer, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["bench", streamer.url(), "--clients", "3", "--seconds", "1", "--slow", "1", "--json"]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {
        "params",
        "duration_s",
        "client_cpu_percent",
        "fps",
        "frames",
        "frames_per_s",
        "dropped",
        "mb_per_s",
        "latency_ms",
        "first_frame_ms",
        "errors",
        "error_kinds",
        "slow_clients",
    }
    assert report["params"] == {
        "url": streamer.url(),
        "clients": 3,
        "seconds": 1.0,
        "processes": 1,
        "slow": 1,
        "slow_rate": 0.1,
        "warmup": 0.0,
    }
    assert set(report["fps"]) == {"min", "median"}
    assert set(report["latency_ms"]) == {"p50", "p99", "max", "samples"}
    assert set(report["first_frame_ms"]) == {"p50", "max"}
    assert (report["errors"], report["error_kinds"]) == (0, {})
    assert report["slow_clients"]["count"] == 1
    assert set(report["slow_clients"]) == {
        "count",
        "rate_kb_per_s",
        "fps",
        "frames",
        "age_intervals",
        "client_buffer_intervals",
    }


def test_table_output(streamer: Http10Streamer, capsys: pytest.CaptureFixture[str]) -> None:
    # Two seconds, not half of one: on a loaded box two clients' first frames took
    # longer than half a second, and a run without frames exits 1 ("no frame received").
    assert main(["bench", streamer.url(), "--clients", "2", "--seconds", "2"]) == 0
    table = capsys.readouterr().out
    assert "fps per client" in table
    assert "latency (ms)" in table


def test_errors_set_the_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{closed_port()}/"
    assert main(["bench", url, "--seconds", "0.5"]) == 1
    assert "error x1: connect: Connection refused" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args",
    [
        ["--clients", "2", "--slow", "3"],
        ["--clients", "2", "--processes", "3"],
        ["--slow-rate", "0"],
        ["--seconds", "2", "--warmup", "2"],
    ],
)
def test_bad_arguments(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "http://127.0.0.1:1/", *args]) == 2
    assert "mjpeg-server bench: error: --" in capsys.readouterr().err


def test_bad_url(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "https://example.invalid/"]) == 2
    assert "expected an http:// URL" in capsys.readouterr().err
