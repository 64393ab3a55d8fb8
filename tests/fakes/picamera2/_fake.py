"""The fake's knobs (environment variables) and its cross-process state files."""

from __future__ import annotations

import os
from pathlib import Path

# tests/fakes/picamera2/_fake.py → the repository's fixtures/frames.
DEFAULT_FRAMES = Path(__file__).resolve().parents[3] / "fixtures" / "frames"


def state_dir() -> Path:
    folder = Path(os.environ.get("FAKE_PICAMERA2_DIR") or f"/tmp/fake-picamera2-{os.getuid()}")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def camera_count() -> int:
    return int(os.environ.get("FAKE_PICAMERA2_CAMERAS", "1"))


def platform_name() -> str:
    return os.environ.get("FAKE_PICAMERA2_PLATFORM", "VC4").upper()


def fail_after() -> int | None:
    raw = os.environ.get("FAKE_PICAMERA2_FAIL_AFTER")
    return int(raw) if raw else None


def no_flips() -> bool:
    """A sensor without flip controls: libcamera gives its picture as mounted, whatever
    transform is asked (some third-party sensors; every sensor for a transpose)."""
    return os.environ.get("FAKE_PICAMERA2_NO_FLIPS", "") not in ("", "0")


def stop_hang() -> float:
    return float(os.environ.get("FAKE_PICAMERA2_STOP_HANG") or 0)


#: The newest picamera2 the fake models, and the oldest the kit supports.
NEWEST = (0, 3, 38)
OLDEST = (0, 3, 13)


def version() -> tuple[int, int, int]:
    """The picamera2 release whose behaviour the fake models (``FAKE_PICAMERA2_VERSION``,
    default 0.3.38); behaviours that changed between 0.3.13 and 0.3.38 follow it."""
    raw = os.environ.get("FAKE_PICAMERA2_VERSION") or ".".join(map(str, NEWEST))
    major, minor, patch = (int(part) for part in raw.split("."))
    return major, minor, patch


def frames_dir() -> Path:
    return Path(os.environ.get("FAKE_PICAMERA2_FRAMES") or DEFAULT_FRAMES)


def lock_path(camera_num: int) -> Path:
    return state_dir() / f"camera{camera_num}.lock"


def record(camera_num: int, event: str) -> None:
    """Append one event line; O_APPEND keeps lines whole across processes."""
    fd = os.open(state_dir() / f"camera{camera_num}.events", os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, f"{event} {os.getpid()}\n".encode())
    finally:
        os.close(fd)


def fake_counts(camera_num: int = 0) -> dict[str, int]:
    """How many times camera ``camera_num`` was opened and closed, by any process."""
    path = state_dir() / f"camera{camera_num}.events"
    lines = path.read_text().split("\n") if path.exists() else []
    events = [line.split()[0] for line in lines if line]
    return {"open": events.count("open"), "close": events.count("close")}
