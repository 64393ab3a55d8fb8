"""What a new user reads first: the help texts, counts in plain English, hints."""

from __future__ import annotations

import re

import pytest
import requests

from mjpeg_server.cameras import opencv
from mjpeg_server.client.probe import Report
from mjpeg_server.client.stream import ReceivedFrame
from mjpeg_server.picture.settings import OVERLAY_HINT
from mjpeg_server.wire.multipart import Headers
from mjpeg_server.wording import counted
from support.server import ServerProcess, run_cli

#: reStructuredText or Markdown that argparse would print as it is.
MARKUP = re.compile(r"``|\*\*|:class:|:func:|:data:|:meth:")


@pytest.mark.parametrize("command", ["probe", "bench", "passwd"])
def test_command_help_is_plain_text(command: str) -> None:
    result = run_cli([command, "--help"])
    assert result.returncode == 0
    assert result.stdout.startswith(f"usage: mjpeg-server {command} ")
    assert not MARKUP.search(result.stdout), result.stdout
    # Laid out for a terminal: no line runs past 80 columns.
    assert max(map(len, result.stdout.splitlines())) <= 80, result.stdout


def test_top_level_usage_lists_the_commands() -> None:
    result = run_cli(["--help"])
    usage = result.stdout.split("\n\n", 1)[0]
    for command in ("mjpeg-server [OPTIONS]", "probe URL", "bench URL", "passwd FILE USER"):
        assert command in usage, usage
    assert not MARKUP.search(result.stdout)


@pytest.mark.parametrize(
    ("number", "text"), [(0, "0 viewers"), (1, "1 viewer"), (2, "2 viewers"), (11, "11 viewers")]
)
def test_counted(number: int, text: str) -> None:
    assert counted(number, "viewer") == text


def frame(seq: int) -> ReceivedFrame:
    return ReceivedFrame(
        jpeg=b"\xff\xd8\xff\xd9", headers=Headers(), timestamp=None, seq=seq, received_at=float(seq)
    )


def test_probe_says_1_gap_and_1_frame() -> None:
    report = Report("http://x/")
    for seq in (0, 2):
        report.add(frame(seq))
    lines = report.text().splitlines()
    assert "sequence     1 gap in X-Frame-Seq, 1 frame missing" in lines
    report.add(frame(5))
    assert "sequence     2 gaps in X-Frame-Seq, 3 frames missing" in report.text().splitlines()


def test_server_log_says_1_viewer() -> None:
    with ServerProcess("--camera", "emulated?fps=20") as server:
        start = len(server.lines)
        with requests.get(server.url("/stream.mjpg"), stream=True, timeout=30) as response:
            assert response.raw.read(14) == b"--mjpegframe\r\n"
            server.wait_for_log(r"connected to camera 'default' \(1 viewer\)$", 30, start)
        server.wait_for_log(r"left camera 'default' .* \(0 viewers\)$", 30, start)


def test_install_hints_name_the_extras_of_this_repository() -> None:
    # The package is not on PyPI: 'pip install mjpeg-server[opencv]' would fail.
    assert "pip install '.[opencv]'" in opencv.INSTALL_HINT
    assert "pip install '.[picture]'" in OVERLAY_HINT
