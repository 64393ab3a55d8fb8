"""``--camera emulated:DIR`` with folders as users have them: whatever is wrong
ends start-up in one line and exit 2, nothing hangs, and real-world JPEGs load.

The start-up cases run the real ``mjpeg-server`` command. "Unreadable" needs
care where the tests run as root, which reads any file whatever its mode: there
the command runs with the two capabilities that let root ignore file modes
(CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH) dropped, as an unprivileged user would
run it; only where that is impossible is the case skipped, saying why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from mjpeg_server.cameras.emulated import EmulatedCamera, load_frames
from mjpeg_server.wire.jpeg import is_complete_jpeg, jpeg_end
from support.fixtures import FRAMES
from support.server import assert_one_line_error, run_cli

TIMEOUT = 30.0  # a hang fails the test (subprocess.TimeoutExpired), it never passes


def start(folder: Path) -> subprocess.CompletedProcess[str]:
    """Start the server on ``folder``; every case here ends before it serves."""
    return run_cli(["--port", "0", "--camera", f"emulated:{folder}"], timeout=TIMEOUT)


def start_unprivileged(folder: Path) -> subprocess.CompletedProcess[str]:
    """As :func:`start`, but file modes apply even if the tests run as root."""
    if os.geteuid() != 0:
        return start(folder)
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv (util-linux): root reads any file")
    drop: Sequence[str] = [setpriv, "--bounding-set=-dac_override,-dac_read_search"]
    if subprocess.run([*drop, "true"], capture_output=True, check=False).returncode:
        pytest.skip("running as root and not allowed to drop CAP_DAC_OVERRIDE here")
    command = [
        sys.executable,
        "-m",
        "mjpeg_server",
        "--port",
        "0",
        "--camera",
        f"emulated:{folder}",
    ]
    return subprocess.run(
        [*drop, *command],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "1.jpg").write_bytes(FRAMES[0])
    return frames


def test_an_unreadable_folder_is_one_line(folder: Path) -> None:
    folder.chmod(0)
    try:
        assert_one_line_error(start_unprivileged(folder), str(folder), "Permission denied")
    finally:
        folder.chmod(0o755)


def test_an_unreadable_file_is_one_line(folder: Path) -> None:
    frame = folder / "2.jpg"
    frame.write_bytes(FRAMES[1])
    frame.chmod(0)
    assert_one_line_error(start_unprivileged(folder), str(frame), "Permission denied")


def test_a_file_that_cannot_be_opened_is_one_line(folder: Path) -> None:
    """A link to nowhere: an entry that no user, root included, can open."""
    (folder / "2.jpg").symlink_to(folder / "gone.jpg")
    assert_one_line_error(start(folder), str(folder / "2.jpg"), "No such file")


def test_a_folder_named_like_a_frame_is_one_line(folder: Path) -> None:
    (folder / "2.jpg").mkdir()
    assert_one_line_error(start(folder), str(folder / "2.jpg"), "not a file")


def test_a_fifo_named_like_a_frame_does_not_hang_start_up(folder: Path) -> None:
    """Reading a FIFO waits for a writer that never comes: it is not opened for
    reading as a file, so start-up ends at once, in one line."""
    os.mkfifo(folder / "2.jpg")
    assert_one_line_error(start(folder), str(folder / "2.jpg"), "not a file")


def test_a_jpeg_with_bytes_after_its_end_is_served_up_to_its_end(folder: Path) -> None:
    """Editors and cameras append trailers (maker data, a motion photo's video):
    the picture is the JPEG up to its EOI, and only that goes to viewers."""
    (folder / "2.jpg").write_bytes(FRAMES[1] + b"trailer\xff\xd8 not picture " * 10)
    frames = load_frames(folder)
    assert frames == [FRAMES[0], FRAMES[1]]
    camera = EmulatedCamera(frames, fps=100)
    with camera:
        served = [camera.read(5.0) for _ in range(2)]
    assert [f.jpeg for f in served if f is not None] == [FRAMES[0], FRAMES[1]]
    assert all(is_complete_jpeg(f.jpeg) for f in served if f is not None)


def test_a_file_that_is_no_jpeg_at_all_is_still_refused(folder: Path) -> None:
    (folder / "2.jpg").write_bytes(b"\xff\xd8 no scan, no end")
    (folder / "3.jpg").write_bytes(FRAMES[2][:-2])  # cut before its EOI
    assert_one_line_error(start(folder), str(folder / "2.jpg"), "not a JPEG")
    (folder / "2.jpg").unlink()
    assert_one_line_error(start(folder), str(folder / "3.jpg"), "not a JPEG")


def test_the_end_of_a_thumbnail_is_not_the_end_of_the_picture() -> None:
    """An EXIF thumbnail is a whole JPEG inside an APP1 segment, before the scan."""
    thumbnail = b"Exif\x00\x00" + FRAMES[0][:40] + b"\xff\xd9"
    app1 = b"\xff\xe1" + (len(thumbnail) + 2).to_bytes(2, "big") + thumbnail
    jpeg = FRAMES[1][:2] + app1 + FRAMES[1][2:]
    assert jpeg_end(jpeg + b"trailer") == len(jpeg)
    assert jpeg_end(jpeg[:-2]) is None
    assert jpeg_end(b"\xff\xd8\xff\xd9") is None  # no scan: no picture
