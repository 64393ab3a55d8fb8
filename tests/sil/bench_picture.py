"""What the picture controls cost on a Pi camera, measured on the SIL stack (issue 12 §5).

    tox -e sil-bench -- picture              # under flock /work/team/bench.lock
    tox -e sil-bench -- picture --runs 1 --seconds 3

The kit's picamera2 backend on the real picamera2 and libcamera's virtual
camera (``encoder=jpeg``, 30 fps), read as the hub reads it, for each size
and case: no option; ``hflip`` and ``rotate=180`` (libcamera's Transform);
``rotate=90`` (the camera's flips and a lossless quarter turn of each JPEG);
an overlay (a clock, drawn into the camera's NV12 buffer in picamera2's
``pre_callback``); and the overlay with ``rotate=90``.

Two kinds of figure, CPU time per delivered frame:

* each piece of work by itself, timed with ``time.thread_time`` around it on
  the thread that does it: the overlay's drawing (the pre-callback), the
  quarter turn (the backend's read), and the sensor-flips adaptation's own
  flipping of the buffers, which on a Pi the sensor does in its read-out and
  costs the host nothing (so it is subtracted from the totals);
* the whole process's CPU per frame, and its difference from the case with no
  option: a cross-check that nothing else got dearer.

Runs alternate between cases and medians are reported, because other work on
the machine shifts every figure alike. The raw figures go to
``results/sil/picture.json`` and ``results/sil/picture.md``; the README gives
them beside the software backends' (``tests/bench/test_picture_bench.py``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "results" / "sil"
sys.path.insert(0, str(ROOT / "tests"))

from support import sil_sensor  # noqa: E402 - needs tests/ on sys.path

SIZES = ("640x480", "1280x720", "1920x1080")
CASES = {
    "no option": "",
    "hflip (Transform)": "&hflip=1",
    "rotate=180 (Transform)": "&rotate=180",
    "rotate=90 (flips + lossless turn)": "&rotate=90",
    "overlay (pre_callback)": "&overlay=%Y-%m-%d+%H:%M:%S",
    "overlay and rotate=90": "&overlay=%Y-%m-%d+%H:%M:%S&rotate=90",
}


class Meter:
    """CPU seconds spent inside wrapped calls, on whichever thread makes them."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def wrap(self, work: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return work(*args, **kwargs)
            finally:
                self.seconds += time.thread_time() - started

        return timed


def measure(spec: str, seconds: float) -> dict[str, float]:
    """Per delivered frame, in ms: the process's CPU, the overlay's drawing, the
    quarter turn, and the adaptation's flipping (a sensor's work on a Pi)."""
    from mjpeg_server.cameras import create_camera  # noqa: PLC0415
    from mjpeg_server.cameras.picamera2 import Picamera2Camera  # noqa: PLC0415

    draw, turn, flips = Meter(), Meter(), Meter()
    flip_nv12 = sil_sensor.flip_nv12
    sil_sensor.flip_nv12 = flips.wrap(flip_nv12)  # the adaptation looks it up per frame
    camera = create_camera(spec, name="bench")
    assert isinstance(camera, Picamera2Camera)
    camera._draw = draw.wrap(camera._draw)  # type: ignore[method-assign]
    try:
        camera.open()
        if camera._pipeline is not None:
            camera._pipeline.process = turn.wrap(camera._pipeline.process)  # type: ignore[method-assign]
        deadline = time.monotonic() + 1.0  # warm-up: buffers mapped, threads running
        while time.monotonic() < deadline:
            camera.read(0.5)
        frames = 0
        draw.seconds = turn.seconds = flips.seconds = 0.0
        cpu = time.process_time()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if camera.read(0.5) is not None:
                frames += 1
        cpu = time.process_time() - cpu
        drawn, turned, flipped = draw.seconds, turn.seconds, flips.seconds
    finally:
        camera.close()
        sil_sensor.flip_nv12 = flip_nv12
    assert frames, f"no frame from {spec}"
    return {
        "process_ms": 1000 * (cpu - flipped) / frames,
        "draw_ms": 1000 * drawn / frames,
        "turn_ms": 1000 * turned / frames,
        "sensor_flips_ms": 1000 * flipped / frames,
        "fps": frames / seconds,
    }


def run(runs: int, seconds: float) -> dict[str, dict[str, dict[str, float]]]:
    samples: dict[str, dict[str, list[dict[str, float]]]] = {}
    for _ in range(runs):
        for size in SIZES:
            for case, options in CASES.items():  # alternate: each case sees the same load
                spec = f"picamera2?size={size}&encoder=jpeg&fps=30{options}"
                figures = measure(spec, seconds)
                samples.setdefault(size, {}).setdefault(case, []).append(figures)
                print(f"{size} {case}: {figures}", file=sys.stderr)
    return {
        size: {
            case: {key: statistics.median(f[key] for f in values) for key in values[0]}
            for case, values in cases.items()
        }
        for size, cases in samples.items()
    }


def report(medians: dict[str, dict[str, dict[str, float]]], runs: int, seconds: float) -> str:
    lines = [
        f"picamera2 backend on the SIL stack, encoder=jpeg, 30 fps, medians of {runs} runs of "
        f"{seconds:g} s (tox -e sil-bench -- picture). CPU ms per delivered frame.",
        "",
        "| size | case | the work itself | process, beyond no option | process | fps |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for size, cases in medians.items():
        base = cases["no option"]["process_ms"]
        for case, f in cases.items():
            work = f["draw_ms"] + f["turn_ms"]
            lines.append(
                f"| {size} | {case} | {work:.2f} | {f['process_ms'] - base:+.2f} | "
                f"{f['process_ms']:.2f} | {f['fps']:.1f} |"
            )
    lines += [
        "",
        "The work itself: the overlay's drawing plus the quarter turn, timed on their own "
        "threads. The virtual camera's flips (the sensor-flips adaptation: a sensor's "
        "read-out on a Pi) are left out of the process figures:",
        "",
        "| size | hflip: adaptation's flipping per frame |",
        "|---|---:|",
    ]
    for size, cases in medians.items():
        lines.append(f"| {size} | {cases['hflip (Transform)']['sensor_flips_ms']:.2f} ms |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    medians = run(args.runs, args.seconds)
    RESULTS.mkdir(parents=True, exist_ok=True)
    data = {"medians": medians, "runs": args.runs, "seconds": args.seconds}
    (RESULTS / "picture.json").write_text(json.dumps(data, indent=2) + "\n")
    text = report(medians, args.runs, args.seconds)
    (RESULTS / "picture.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
