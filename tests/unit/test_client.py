"""The MJPEG client over real sockets: chunked HTTP/1.1, HTTP/1.0, errors, reconnects."""

from __future__ import annotations

import itertools
import socket

import pytest
import requests
from codec_servers import (
    BOUNDARY,
    RawServer,
    WSGIStreamServer,
    closed_port,
    frame_parts,
    http10,
    jpeg,
)

from mjpeg_server.client.bench import LoadConfig, run_load
from mjpeg_server.client.errors import describe_error
from mjpeg_server.client.stream import (
    HTTPStatusError,
    NotMultipartError,
    ReceivedFrame,
    StreamConnectionError,
    StreamError,
    StreamTimeout,
    iter_frames,
    open_stream,
)
from mjpeg_server.wire.jpeg import is_complete_jpeg
from mjpeg_server.wire.multipart import Headers, PartEncoder, ProtocolError
from support.fixtures import MJPG_STREAMER_CAPTURE

SAMPLE = MJPG_STREAMER_CAPTURE
ENCODER = PartEncoder(BOUNDARY)


def old_style_body(seqs: range) -> bytes:
    """mjpg-streamer's layout: a delimiter before each part, LF-free, Content-Length."""
    return ENCODER.opening + b"".join(frame_parts(ENCODER, seqs))


def test_reads_chunked_http11_stream(wsgi_server: WSGIStreamServer) -> None:
    with open_stream(wsgi_server.url("/stream?n=5")) as stream:
        assert stream.status_code == 200
        assert stream.headers["Transfer-Encoding"] == "chunked"
        assert stream.boundary == BOUNDARY
        frames = list(stream.frames())
        assert stream.at_eof
        assert stream.deviations == {"no-close-delimiter"}
    assert [f.jpeg for f in frames] == [jpeg(i) for i in range(5)]
    assert [f.seq for f in frames] == list(range(5))
    assert [f.timestamp for f in frames] == [1_700_000_000 + i + 0.25 for i in range(5)]
    assert frames[0].headers.get("content-type") == "image/jpeg"
    assert all(f.received_at > 0 for f in frames)


def test_iter_frames_with_a_session(wsgi_server: WSGIStreamServer) -> None:
    with requests.Session() as session:
        frames = list(iter_frames(wsgi_server.url("/stream?n=2"), session=session))
        assert [f.seq for f in frames] == [0, 1]
        assert len(list(iter_frames(wsgi_server.url("/stream?n=1"), session=session))) == 1


def test_reads_http10_close_delimited_stream() -> None:
    with RawServer(lambda _: http10(old_style_body(range(4)))) as raw:
        frames = list(iter_frames(raw.url(), chunk_size=100))
    assert [f.jpeg for f in frames] == [jpeg(i) for i in range(4)]


def test_reads_the_mjpg_streamer_capture_over_a_socket() -> None:
    with RawServer(lambda _: SAMPLE.read_bytes()) as raw:
        frames = list(iter_frames(raw.url("/?action=stream")))
    assert len(frames) == 11
    assert all(is_complete_jpeg(f.jpeg) and f.timestamp and f.seq is None for f in frames)


def test_frame_fields_are_none_when_absent_or_malformed() -> None:
    parts = ENCODER.encode(b"a", [("X-Timestamp", "soon"), ("X-Frame-Seq", "1.5")])
    parts += ENCODER.encode(b"b", [("X-Timestamp", "nan")])
    with RawServer(lambda _: http10(ENCODER.opening + parts)) as raw:
        first, second = iter_frames(raw.url())
    assert (first.timestamp, first.seq, second.timestamp, second.seq) == (None, None, None, None)
    assert second == ReceivedFrame(
        jpeg=b"b",
        headers=Headers(
            (("Content-Type", "image/jpeg"), ("Content-Length", "1"), ("X-Timestamp", "nan"))
        ),
        timestamp=None,
        seq=None,
        received_at=second.received_at,
    )


def test_http_error_status(wsgi_server: WSGIStreamServer) -> None:
    with pytest.raises(HTTPStatusError, match=r"answered HTTP 404 NOT FOUND") as error:
        open_stream(wsgi_server.url("/missing"))
    assert error.value.status_code == 404
    assert isinstance(error.value, StreamError)


def test_not_multipart(wsgi_server: WSGIStreamServer) -> None:
    with pytest.raises(NotMultipartError, match="expected a multipart Content-Type") as error:
        next(iter_frames(wsgi_server.url("/text")))
    assert error.value.content_type == "text/plain"


def test_multipart_without_boundary() -> None:
    with (
        RawServer(lambda _: http10(b"", "multipart/x-mixed-replace")) as raw,
        pytest.raises(NotMultipartError, match="expected a boundary parameter"),
    ):
        open_stream(raw.url())


def test_connection_refused() -> None:
    with pytest.raises(StreamConnectionError, match=r"cannot connect to .*: Connection refused"):
        open_stream(f"http://127.0.0.1:{closed_port()}/")


def test_the_bench_words_a_refused_connection_as_the_client_does() -> None:
    port = closed_port()
    with pytest.raises(StreamConnectionError) as error:
        open_stream(f"http://127.0.0.1:{port}/")
    report = run_load(LoadConfig(f"http://127.0.0.1:{port}/", seconds=0.5))
    (bench_error,) = report.errors
    assert bench_error == "connect: " + str(error.value).rpartition(": ")[2]


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 1)"), "Connection refused"),
        (OSError(104, "whatever the library says"), "Connection reset by peer"),
        (socket.gaierror(-2, "Name or service not known"), "Name or service not known"),
        (OSError("no errno"), "no errno"),
        (
            requests.ConnectionError(
                "HTTPConnectionPool(host='127.0.0.1', port=1): Max retries exceeded "
                "(Caused by NewConnectionError(': Failed to establish a new connection: "
                "[Errno 111] Connection refused'))"
            ),
            "Connection refused",
        ),
        (ValueError("Connection broken: [Errno -3] Temporary failure"), "Temporary failure"),
        (TimeoutError(), "timeout"),
        (TimeoutError("read timed out"), "read timed out"),
        (RuntimeError(), "RuntimeError"),
        (RuntimeError("odd"), "odd"),
    ],
)
def test_describe_error(error: BaseException, words: str) -> None:
    assert describe_error(error) == words


def test_no_bytes_for_timeout_seconds(wsgi_server: WSGIStreamServer) -> None:
    frames = iter_frames(wsgi_server.url("/stall"), timeout=0.3)
    assert next(frames).seq == 0
    with pytest.raises(StreamTimeout, match=r"no bytes from .*/stall for 0.3 s"):
        next(frames)


def test_malformed_body_is_a_protocol_error() -> None:
    with (
        RawServer(lambda _: http10(b"--mjpegframe\r\nnot a header\r\n\r\n")) as raw,
        pytest.raises(ProtocolError, match="expected a header line"),
    ):
        next(iter_frames(raw.url(), reconnect=True))


def test_connection_closed_inside_a_part() -> None:
    truncated = old_style_body(range(2))[:-100]
    with RawServer(lambda _: http10(truncated)) as raw:
        frames = iter_frames(raw.url())
        assert next(frames).seq == 0
        with pytest.raises(ProtocolError, match="stream ended inside a part"):
            next(frames)


def test_reconnects_after_the_end_and_after_a_truncated_part() -> None:
    def respond(connection: int) -> bytes:
        body = old_style_body(range(2 * connection, 2 * connection + 2))
        return http10(body[:-100] if connection == 1 else body)  # the 2nd loses frame 3

    with RawServer(respond) as raw:
        frames = iter_frames(raw.url(), reconnect=True, max_backoff=0.01)
        seqs = [f.seq for f in itertools.islice(frames, 5)]
        frames.close()
    assert seqs == [0, 1, 2, 4, 5]
    assert raw.connections == 3


def test_reconnects_until_the_server_comes_up() -> None:
    """Connection refused twice; the server starts during the third try; frames flow."""
    port = closed_port()
    attempts = 0
    servers: list[RawServer] = []

    class StartingSession(requests.Session):
        def get(self, *args: object, **kwargs: object) -> requests.Response:  # type: ignore[override]
            nonlocal attempts
            attempts += 1
            if attempts == 3:
                servers.append(RawServer(lambda _: http10(old_style_body(range(2))), port))
                servers[0].__enter__()
            return super().get(*args, **kwargs)  # type: ignore[arg-type]

    try:
        with StartingSession() as session:
            frames = iter_frames(
                f"http://127.0.0.1:{port}/", reconnect=True, max_backoff=0.01, session=session
            )
            assert [next(frames).seq, next(frames).seq] == [0, 1]
            frames.close()
    finally:
        for server in servers:
            server.__exit__(None, None, None)
    assert attempts == 3
