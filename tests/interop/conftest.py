"""The interop tier: programs nobody here wrote read the real server's streams.

Every test reads a fixed number of frames from the real server process through
one program, then checks what arrived by logic, not by the clock: each frame is
one of the camera's source frames (byte for byte where the program hands over
bytes), they come in the camera's order without a gap, and the server skipped
none for that viewer (a viewer that cannot keep up is skipped frames, so "no
frame skipped" is "read at the camera's rate"). The rate each program measured
is recorded as a figure in ``artifacts/interop/results.json`` and printed at
the end of the run; it is never asserted.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from interop.results import results
from support.server import ServerProcess

#: Distinct source frames: a skipped frame shows as a gap in their order.
FRAME_COUNT = 10
#: Low, so a program on a loaded machine never falls behind (then the server
#: would skip frames for it, and the test would fail for the machine's sake).
CAMERA_FPS = 5


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not results:
        return
    terminalreporter.section(f"interop: frames read from a {CAMERA_FPS} fps camera")
    for r in results:
        terminalreporter.write_line(
            f"{r.program:<10} {r.path:<16} {r.frames:>3} frames; from the 2nd {r.seconds:5.2f} s = "
            f"{r.fps:5.2f} fps, {r.skipped_by_server} skipped by the server"
        )


def make_frames(folder: Path) -> list[bytes]:
    """FRAME_COUNT distinct 320x240 JPEGs (a colour and a number each)."""
    frames = []
    for index in range(FRAME_COUNT):
        image = Image.new(
            "RGB", (320, 240), ((index * 97) % 256, (index * 53) % 256, 40 + index * 20)
        )
        ImageDraw.Draw(image).text((150, 110), str(index), fill=(255, 255, 255))
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=90)
        frames.append(buffer.getvalue())
        (folder / f"{index}.jpg").write_bytes(frames[-1])
    return frames


@pytest.fixture(scope="session")
def source_frames(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[bytes]]:
    folder = tmp_path_factory.mktemp("frames")
    return folder, make_frames(folder)


@pytest.fixture(scope="session")
def server(source_frames: tuple[Path, list[bytes]]) -> Iterator[ServerProcess]:
    folder, _ = source_frames
    with ServerProcess(
        "--camera", f"emulated:{folder}?fps={CAMERA_FPS}", "--idle-timeout", "never"
    ) as s:
        yield s
