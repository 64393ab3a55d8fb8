"""The project's test fixtures, in one place: their paths, and the bundled frames."""

from __future__ import annotations

from pathlib import Path

from mjpeg_server.cameras.emulated import bundled_frames_dir, load_frames

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
#: A real mjpg-streamer HTTP response (fixtures/captures/README.md).
MJPG_STREAMER_CAPTURE = FIXTURES / "captures" / "mjpg-streamer.raw"

#: The bundled test frames (``fixtures/frames``, as the emulated camera loads them).
FRAMES: list[bytes] = load_frames(bundled_frames_dir())
