"""What the Pi 5's JPEG path costs, measured on the SIL stack (issue 10 §5).

    tox -e sil-bench                      # under flock /work/team/bench.lock
    tox -e sil-bench -- --runs 1 --seconds 3

On a Pi 5 the stream is JPEG-encoded in software: picamera2's ``JpegEncoder``
(simplejpeg, libjpeg-turbo). This runs the real picamera2 on libcamera's
virtual camera (``tests/support/sil.py``) and measures the process's CPU time
per delivered frame, and that of the JPEG path's own threads (JpegEncoder's
pool and output thread, by their per-thread CPU clocks): that is the figure
that transfers to a Pi, where the ISP makes the frames in hardware that the
virtual camera makes in software. Each case also runs capturing only, to show
that share. Cases: the three usual sizes at quality 85; quality 50, 70 and
95 at 1280x720; a 640x480 ``lores`` stream encoded beside a 1920x1080 main
stream. Runs alternate between cases, and medians are reported, because other
work on the machine shifts every figure alike.

The virtual camera delivers NV12 only, so the SIL path hands simplejpeg YUV
planes; picamera2's default video format on a Pi is XBGR8888, which simplejpeg
converts to YCbCr itself. A last table measures that difference directly, on a
camera-like frame: simplejpeg fed RGBX versus YUV 4:2:0 planes.

Figures are ratios in the README (x86 milliseconds do not transfer to a Pi);
the raw medians go to ``results/sil/jpeg.json`` and ``results/sil/jpeg.md``.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "results" / "sil"
FPS = 30


@dataclass(frozen=True)
class Case:
    name: str
    main: tuple[int, int]
    quality: int | None  # None: capture only, no encoder
    lores: tuple[int, int] | None = None

    @property
    def baseline(self) -> Case:
        return Case(self.name + " (capture only)", self.main, None, self.lores)


def cases() -> list[Case]:
    return [
        Case("640x480 q85", (640, 480), 85),
        Case("1280x720 q85", (1280, 720), 85),
        Case("1920x1080 q85", (1920, 1080), 85),
        Case("1280x720 q50", (1280, 720), 50),
        Case("1280x720 q70", (1280, 720), 70),
        Case("1280x720 q95", (1280, 720), 95),
        Case("lores 640x480 q85 of 1920x1080", (1920, 1080), 85, lores=(640, 480)),
    ]


def _encoder_threads() -> dict[int, float]:
    """CPU seconds so far of each thread doing JpegEncoder's work: its pool's workers
    (MappedArray, simplejpeg) and its output thread, by their Python names."""
    import threading  # noqa: PLC0415

    found = {}
    for thread in threading.enumerate():
        if thread.ident is None or not (
            thread.name.startswith("ThreadPoolExecutor") or "output_thread" in thread.name
        ):
            continue
        try:
            found[thread.ident] = time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
        except OSError:  # it just ended
            continue
    return found


def measure(case: Case, seconds: float) -> tuple[float, float, int]:
    """(process CPU seconds, JPEG threads' CPU seconds, frames) over ``seconds`` of
    steady streaming."""
    from picamera2 import Picamera2  # noqa: PLC0415 - the SIL stack's
    from picamera2.encoders import JpegEncoder  # noqa: PLC0415
    from picamera2.outputs import Output  # noqa: PLC0415

    counted = [0]

    class Count(Output):  # type: ignore[misc]
        def outputframe(self, frame: bytes, *args: Any, **kwargs: Any) -> None:
            counted[0] += 1

    def count_request(request: Any) -> None:
        counted[0] += 1

    camera = Picamera2(0)
    try:
        config = camera.create_video_configuration(
            main={"size": case.main},
            lores={"size": case.lores} if case.lores else None,
            encode="lores" if case.lores else "main",
            controls={"FrameRate": FPS},
        )
        camera.configure(config)
        if case.quality is None:
            camera.pre_callback = count_request
            camera.start()
        else:
            camera.start_recording(JpegEncoder(q=case.quality), Count())
        time.sleep(1.0)  # warm-up: buffers mapped, encoder threads started
        frames, cpu, threads = counted[0], time.process_time(), _encoder_threads()
        time.sleep(seconds)
        frames, cpu = counted[0] - frames, time.process_time() - cpu
        jpeg = sum(now - threads.get(ident, 0.0) for ident, now in _encoder_threads().items())
        if case.quality is None:
            camera.stop()
        else:
            camera.stop_recording()
    finally:
        camera.close()
    return cpu, jpeg, frames


@dataclass(frozen=True)
class Figure:
    case: str
    #: The whole process per frame: the virtual camera's software frames, picamera2's
    #: request loop, the JPEG path.
    ms_per_frame_total: float
    #: The same configuration capturing only (no encoder).
    ms_per_frame_capture_only: float
    #: The JPEG path's own threads (JpegEncoder's pool and output thread).
    ms_per_frame_jpeg: float
    fps: float


def run_cases(runs: int, seconds: float) -> list[Figure]:
    samples: dict[str, list[tuple[float, float, float, float]]] = {}
    for _ in range(runs):
        for case in cases():  # alternate: every case sees the same machine load
            cpu, jpeg, frames = measure(case, seconds)
            base_cpu, _, base_frames = measure(case.baseline, seconds)
            ms = (1000 * cpu / frames, 1000 * base_cpu / base_frames, 1000 * jpeg / frames)
            samples.setdefault(case.name, []).append((*ms, frames / seconds))
            print(f"{case.name}: JPEG path {ms[2]:.2f} ms/frame", file=sys.stderr)
    return [
        Figure(name, *(statistics.median(v[i] for v in values) for i in range(4)))
        for name, values in samples.items()
    ]


def encode_costs(rounds: int) -> dict[str, dict[str, float]]:
    """simplejpeg on a camera-like frame: CPU ms per encode from RGBX and from YUV planes."""
    import numpy as np  # noqa: PLC0415
    import simplejpeg  # noqa: PLC0415
    from PIL import Image  # noqa: PLC0415

    sys.path.insert(0, str(ROOT / "fixtures"))
    from make_frames import render_frame  # noqa: PLC0415

    costs: dict[str, dict[str, float]] = {}
    for size in ((640, 480), (1280, 720), (1920, 1080)):
        image = Image.open(io.BytesIO(render_frame(1, size, detail=True))).convert("RGB")
        rgbx = np.asarray(image.convert("RGBA"))
        y, cb, cr = (np.asarray(plane) for plane in image.convert("YCbCr").split())
        u = np.ascontiguousarray(cb[::2, ::2])
        v = np.ascontiguousarray(cr[::2, ::2])

        def timed(encode: Callable[[], bytes]) -> float:
            encode()
            started = time.process_time()
            for _ in range(rounds):
                encode()
            return 1000 * (time.process_time() - started) / rounds

        costs[f"{size[0]}x{size[1]}"] = {
            "rgbx_ms": timed(lambda a=rgbx: simplejpeg.encode_jpeg(a, 85, "RGBX", "420")),
            "yuv420_ms": timed(
                lambda y=y, u=u, v=v: simplejpeg.encode_jpeg_yuv_planes(y, u, v, 85)
            ),
        }
    return costs


def report(figures: list[Figure], encodes: dict[str, dict[str, float]], args: Any) -> str:
    by_name = {figure.case: figure for figure in figures}
    reference = by_name["640x480 q85"].ms_per_frame_jpeg
    lines = [
        f"JpegEncoder path on the SIL stack, {FPS} fps asked, medians of {args.runs} runs "
        f"of {args.seconds:g} s (tox -e sil-bench)",
        "",
        "| case | process CPU/frame | capturing only | JPEG path | JPEG path vs 640x480 q85 |",
        "|---|---:|---:|---:|---:|",
    ]
    for figure in figures:
        lines.append(
            f"| {figure.case} | {figure.ms_per_frame_total:.2f} ms | "
            f"{figure.ms_per_frame_capture_only:.2f} ms | {figure.ms_per_frame_jpeg:.2f} ms | "
            f"{figure.ms_per_frame_jpeg / reference:.2f}x |"
        )
    lines += [
        "",
        "simplejpeg, quality 85, on a camera-like frame (fixtures/make_frames.py --detail):",
        "",
        "| size | from RGBX | from YUV 4:2:0 planes | RGBX / YUV |",
        "|---|---:|---:|---:|",
    ]
    for size, cost in encodes.items():
        lines.append(
            f"| {size} | {cost['rgbx_ms']:.2f} ms | {cost['yuv420_ms']:.2f} ms | "
            f"{cost['rgbx_ms'] / cost['yuv420_ms']:.2f}x |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--encode-rounds", type=int, default=50)
    args = parser.parse_args(argv)
    figures = run_cases(args.runs, args.seconds)
    encodes = encode_costs(args.encode_rounds)
    RESULTS.mkdir(parents=True, exist_ok=True)
    data = {
        "figures": [asdict(figure) for figure in figures],
        "simplejpeg": encodes,
        "runs": args.runs,
        "seconds": args.seconds,
    }
    (RESULTS / "jpeg.json").write_text(json.dumps(data, indent=2) + "\n")
    text = report(figures, encodes, args)
    (RESULTS / "jpeg.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
