"""The interop tier's figures: one module, shared by the tests that record them
and the conftest that prints them (a conftest imported by name would be a
second copy with its own list)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["ARTIFACTS", "Result", "record", "results"]

ARTIFACTS = Path(os.environ.get("MJPEG_SERVER_ARTIFACTS", "artifacts")) / "interop"


@dataclass
class Result:
    program: str
    path: str
    frames: int
    seconds: float
    fps: float
    skipped_by_server: int


results: list[Result] = []


def record(result: Result) -> None:
    results.append(result)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "results.json").write_text(
        json.dumps([asdict(r) for r in results], indent=2) + "\n"
    )
