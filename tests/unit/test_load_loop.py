"""``mjpeg-server bench --loop DIR``: dropped frames of a server that sends no
``X-Frame-Seq`` (mjpg-streamer), counted from each frame's place in the folder
it loops, known from the frame's size. Exact counts on streams built here."""

from __future__ import annotations

from pathlib import Path

import pytest

from mjpeg_server.cli import main
from mjpeg_server.client.bench import ClientResult, LoadConfig, StreamRecorder
from mjpeg_server.wire.multipart import PartEncoder

ENCODER = PartEncoder("boundarydonotcross")
HEAD = b"HTTP/1.0 200 OK\r\nContent-Type: " + ENCODER.content_type.encode() + b"\r\n\r\n"
#: The folder's frames, by size: four of them, looped in this order.
LOOP = (100, 200, 300, 400)


def frame(size: int, seq: int | None = None) -> bytes:
    headers = [("X-Timestamp", "100.0")] + ([("X-Frame-Seq", str(seq))] if seq is not None else [])
    return ENCODER.encode(b"\xff\xd8" + b"x" * (size - 4) + b"\xff\xd9", headers)


def dropped(sizes: list[int], loop: tuple[int, ...] = LOOP, seqs: list[int] | None = None) -> int:
    recorder = StreamRecorder(ClientResult(0), window_opens=0.0, loop=loop)
    parts = [frame(size, seqs[i] if seqs else None) for i, size in enumerate(sizes)]
    recorder.receive(HEAD + ENCODER.opening + b"".join(parts), 1.0, 101.0)
    assert recorder.result.frames == len(sizes)
    return recorder.result.dropped


def test_every_frame_in_turn_is_no_drop() -> None:
    assert dropped([100, 200, 300, 400, 100, 200]) == 0


def test_a_skipped_place_is_a_drop_also_across_the_loops_end() -> None:
    assert dropped([100, 300]) == 1
    assert dropped([300, 100]) == 1  # 400 missed, then the loop starts over
    assert dropped([400, 300]) == 2  # 100 and 200 missed


def test_the_same_frame_again_is_a_repeat_not_a_lap() -> None:
    """A server re-sends its newest frame when the camera is quiet."""
    assert dropped([100, 100, 200]) == 0


def test_a_size_not_in_the_loop_counts_nothing() -> None:
    assert dropped([100, 250, 200]) == 0


def test_x_frame_seq_wins_where_the_server_sends_it() -> None:
    assert dropped([100, 200, 300], seqs=[7, 9, 10]) == 1


def test_without_loop_nothing_is_counted() -> None:
    assert dropped([100, 300], loop=()) == 0


def test_frames_of_equal_size_cannot_be_told_apart() -> None:
    with pytest.raises(ValueError, match="same size"):
        LoadConfig("http://127.0.0.1:1/", loop=(100, 200, 100))


def test_the_flag_reads_the_folder_in_name_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, size in [("002.jpg", 20), ("001.jpg", 10), ("notes.txt", 5), ("010.jpg", 30)]:
        (tmp_path / name).write_bytes(b"x" * size)
    args = ["bench", "http://127.0.0.1:1/", "--loop", str(tmp_path), "--seconds", "0.5", "--json"]
    assert main(args) == 1  # refused: an error, yet the report comes
    assert '"loop_frames": 3' in capsys.readouterr().out
    with pytest.raises(SystemExit) as exited:
        main(["bench", "http://127.0.0.1:1/", "--loop", str(tmp_path / "none")])
    assert exited.value.code == 2
    assert "argument --loop: cannot read" in capsys.readouterr().err
