"""The hub's measured frame rate (``/status`` fps_measured), on frame times chosen here."""

from __future__ import annotations

import pytest

from mjpeg_server.hub import measured_fps


@pytest.mark.parametrize(
    ("times", "now", "fps"),
    [
        ([], 0.0, 0.0),
        ([5.0], 5.0, 0.0),  # one frame is no rate
        ([0.0, 0.5], 0.5, 2.0),  # two are
        ([0.0, 0.1, 0.2], 0.25, 10.0),
        ([10.0, 10.1, 10.2, 10.3], 10.3, 10.0),  # the span, not the clock's value
        ([0.0, 0.1, 0.3], 0.3, 2 / 0.3),  # intervals over the span, not the last interval
        ([5.0, 5.0], 5.0, 0.0),  # no span
        ([0.0, 0.1, 0.2], 1.2, 10.0),  # silent for exactly a second: still delivering
        ([0.0, 0.1, 0.2], 1.21, 0.0),  # silent for longer: stopped
        ([0.0, 2.0, 4.0], 7.9, 0.5),  # a slow camera: two of its intervals are allowed
        ([0.0, 2.0, 4.0], 8.0, 0.5),
        ([0.0, 2.0, 4.0], 8.1, 0.0),
        ([0.0, 3.0], 5.9, 1 / 3),
        ([0.0, 3.0], 9.1, 0.0),
    ],
)
def test_measured_fps(times: list[float], now: float, fps: float) -> None:
    assert measured_fps(times, now) == pytest.approx(fps)
