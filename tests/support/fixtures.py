"""Paths of the project's test fixtures, in one place."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
#: A real mjpg-streamer HTTP response (fixtures/captures/README.md).
MJPG_STREAMER_CAPTURE = FIXTURES / "captures" / "mjpg-streamer.raw"
