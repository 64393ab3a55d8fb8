"""The picamera2 fake (tests/fakes) for tests: importing it, its knobs, a server on it.

``import picamera2`` must find the fake (and ``import libcamera`` its stand-in),
here and in every child process and server a test starts; the fake keeps its
cross-process state in a folder of the test's own.
"""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FAKES = ROOT / "tests" / "fakes"
KNOBS = ("CAMERAS", "PLATFORM", "FAIL_AFTER", "STOP_HANG", "VERSION", "NO_FLIPS")


def import_fake() -> types.ModuleType:
    """The fake ``picamera2`` module (``tests/fakes`` put first on ``sys.path``)."""
    if str(FAKES) not in sys.path:
        sys.path.insert(0, str(FAKES))
    import picamera2  # noqa: PLC0415 - importable only once FAKES is on sys.path

    assert Path(picamera2.__file__).is_relative_to(FAKES), "the fake must shadow picamera2"
    return picamera2


def fresh_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A state folder of the test's own, and every knob at its default."""
    folder = tmp_path / "fake-picamera2"
    monkeypatch.setenv("FAKE_PICAMERA2_DIR", str(folder))
    for knob in KNOBS:
        monkeypatch.delenv(f"FAKE_PICAMERA2_{knob}", raising=False)
    return folder


def child_env() -> dict[str, str]:
    """Our environment, for a child process that imports the fake."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(FAKES), *sys.path])}


def server_env(state: Path) -> dict[str, str]:
    """What a server process on the fake needs on top of our environment."""
    return {
        "PYTHONPATH": os.pathsep.join([str(FAKES), os.environ.get("PYTHONPATH", "")]),
        "FAKE_PICAMERA2_DIR": str(state),
    }
