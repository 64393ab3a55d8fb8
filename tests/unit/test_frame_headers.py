"""X-Timestamp and X-Frame-Seq: one writer, one reader, and every tool applies the one rule."""

from __future__ import annotations

import math

import pytest
from codec_servers import RawServer, http10, jpeg
from hypothesis import given
from hypothesis import strategies as st
from requests.structures import CaseInsensitiveDict

from mjpeg_server.client.bench import ClientResult, StreamRecorder
from mjpeg_server.client.stream import iter_frames
from mjpeg_server.wire.frame_headers import (
    FrameStamp,
    decode_frame_headers,
    encode_frame_headers,
    parse_seq,
    parse_timestamp,
)
from mjpeg_server.wire.multipart import Headers, PartEncoder

ENCODER = PartEncoder("mjpegframe")


def test_encode_writes_microseconds_and_the_counter() -> None:
    assert encode_frame_headers(1_700_000_000.25, 7) == (
        ("X-Timestamp", "1700000000.250000"),
        ("X-Frame-Seq", "7"),
    )
    assert encode_frame_headers(0.0000004, 0) == (("X-Timestamp", "0.000000"), ("X-Frame-Seq", "0"))


@pytest.mark.parametrize("timestamp", [math.nan, math.inf, -math.inf])
def test_encode_refuses_a_timestamp_no_reader_would_take(timestamp: float) -> None:
    with pytest.raises(ValueError, match="X-Timestamp must be a finite number"):
        encode_frame_headers(timestamp, 1)


def test_encode_refuses_a_negative_counter() -> None:
    with pytest.raises(ValueError, match="X-Frame-Seq must not be negative"):
        encode_frame_headers(1.0, -1)


@pytest.mark.parametrize(
    ("value", "timestamp"),
    [
        ("1700000000.250000", 1_700_000_000.25),
        (" 1700000000.5\t", 1_700_000_000.5),
        ("1700000000", 1_700_000_000.0),
        ("1700000000.", 1_700_000_000.0),
        (".5", 0.5),
        ("+2.5", 2.5),
        ("-2.5", -2.5),
        ("1.7e9", 1.7e9),
        ("1E-3", 0.001),
        (None, None),
        ("", None),
        ("soon", None),
        ("nan", None),
        ("NaN", None),
        ("inf", None),
        ("-Infinity", None),
        ("1e999", None),  # overflows to inf
        ("0x10", None),
        ("1_000", None),
        ("\u0661\u0662", None),  # Arabic-Indic digits: float() would take them
        ("1.5.2", None),
        ("X1.5", None),
        ("1.5X", None),
        ("1.5\x0b", None),  # only spaces and tabs are stripped
        ("\x0c1.5", None),
        ("e5", None),
        (".", None),
    ],
)
def test_parse_timestamp(value: str | None, timestamp: float | None) -> None:
    assert parse_timestamp(value) == timestamp


@pytest.mark.parametrize(
    ("value", "seq"),
    [
        ("0", 0),
        ("42", 42),
        (" 42 ", 42),
        ("007", 7),
        ("9" * 18, int("9" * 18)),
        (None, None),
        ("", None),
        ("9" * 19, None),
        ("-1", None),
        ("+3", None),
        ("1.5", None),
        ("1e3", None),
        ("1_000", None),
        ("\u00b2", None),  # "²".isdigit() is True, int("²") raises
        ("\u0663", None),
        ("x", None),
        ("X1", None),
        ("1X", None),
        ("12\x0c", None),  # only spaces and tabs are stripped
        ("\x0b12", None),
    ],
)
def test_parse_seq(value: str | None, seq: int | None) -> None:
    assert parse_seq(value) == seq


def test_decode_reads_any_case_from_part_headers_and_response_headers() -> None:
    part = Headers((("x-timestamp", "12.5"), ("X-FRAME-SEQ", "3")))
    assert decode_frame_headers(part) == FrameStamp(12.5, 3)
    response = CaseInsensitiveDict({"X-Timestamp": "nan", "x-frame-seq": "4"})
    assert decode_frame_headers(response) == FrameStamp(None, 4)
    assert decode_frame_headers(Headers()) == FrameStamp(None, None)


@given(
    timestamp=st.floats(min_value=-1e12, max_value=1e12, allow_nan=False),
    seq=st.integers(min_value=0, max_value=10**18 - 1),
)
def test_what_is_written_reads_back(timestamp: float, seq: int) -> None:
    stamp = decode_frame_headers(Headers(encode_frame_headers(timestamp, seq)))
    assert stamp.seq == seq
    assert stamp.timestamp == pytest.approx(timestamp, abs=5e-7)


STAMPS = ["100.5", "nan", "inf", "1e999", "0x10", "soon", " 101.5 ", "-Infinity", "1.02e2"]
SEQS = ["0", "-1", "+2", "\u00b2", "3", "1.5", "5", " 6 ", "x"]


def test_the_client_and_the_bench_apply_the_same_rule() -> None:
    """The same parts through iter_frames and through the bench's recorder: the
    timestamps one takes are the ones the other measures latency from, and the
    counters one takes are the ones the other counts drops between."""
    parts = [
        ENCODER.encode(jpeg(i), [("X-Timestamp", stamp), ("X-Frame-Seq", seq)])
        for i, (stamp, seq) in enumerate(zip(STAMPS, SEQS, strict=True))
    ]
    response = http10(ENCODER.opening + b"".join(parts), ENCODER.content_type)
    with RawServer(lambda _: response) as raw:
        frames = list(iter_frames(raw.url()))
    assert [f.timestamp for f in frames] == [100.5, None, None, None, None, None, 101.5, None, 102]
    assert [f.seq for f in frames] == [0, None, None, None, 3, None, 5, 6, None]

    recorder = StreamRecorder(ClientResult(0), window_opens=0.0)
    recorder.receive(response, 1.0, 200.0)  # every frame read at wall time 200.0
    result = recorder.result
    assert result.error is None
    assert result.frames == len(frames)
    expected = [(200.0 - f.timestamp) * 1000 for f in frames if f.timestamp is not None]
    assert result.latencies_ms == pytest.approx(expected)
    assert result.dropped == 2 + 1  # 0 → 3 and 3 → 5; 5 → 6 is no gap
