"""Scenario benchmark: this server side by side with mjpg-streamer, 1 to 1,000 viewers.

``tox -e bench`` runs it after the microbenchmarks (give it mjpg-streamer with
``MJPG_STREAMER=/path/to/mjpg_streamer``; without it, the comparison is skipped,
saying so, and our own figures still come). By hand, from the checkout::

    PYTHONPATH=src:tests python -m bench.scenarios            # 3 runs, medians (~10 min)
    PYTHONPATH=src:tests python -m bench.scenarios --quick    # 1 run, 1/100/300 viewers
    PYTHONPATH=src:tests python -m bench.scenarios --viewers 1 300 --runs 1 --no-slow
    PYTHONPATH=src:tests python -m bench.scenarios --label dev --server-arg=--server=dev --no-peer
    PYTHONPATH=src:tests python -m bench.scenarios --label before --server-path /tmp/old/src

What one run does. It makes 30 frames of 1280x720, about 90 KB each
(``fixtures/make_frames.py --detail``, named 001.jpg … so that both servers
loop them in the same order). Then, one server at a time (the order alternates
between runs), it starts the server on that folder at 30 fps, and for each
viewer count runs ``mjpeg-server bench`` in processes of its own (so the
measuring side never shares this process's GIL): all the viewers connect at
once (a join storm: their time to first frame is the storm's), read for a
warm-up, then for the measured window, while this process samples the
server's processes from ``/proc``. From these, per server and viewer count:

* dropped frames: gaps in ``X-Frame-Seq``, or, where the server sends none
  (mjpg-streamer), in each frame's place in the folder's loop, known from its
  size (``mjpeg-server bench --loop DIR``);
* latency (last byte received minus ``X-Timestamp``, the capture time) p50/p99;
* first frame of the join storm, p50 and max;
* server CPU per delivered frame: the server's time on CPU over the window
  (every thread's, from ``schedstat``, in ns) divided by the frames all
  viewers received in it, in µs (with 1 viewer: the fixed cost of a frame);
  and as % of one core;
* RSS (median over the window), threads (most seen), and RSS per viewer:
  (RSS with N - RSS with 1) / (N - 1);
* at 1 and 100 viewers, a viewer joining the running stream: time to first
  frame of 20 joins one after another;
* for this server only, the slow-viewer scenario: 100 viewers of which 5 read
  at 10 % of the stream's bandwidth, and what that does to the other 95.

Results: ``results/bench/LABEL.md`` (the tables with ratios and the targets,
also printed) and ``LABEL.json`` (every run's raw figures and the medians), and
the curve as a picture, ``docs/performance.png`` (``--plot``). Nothing is
asserted: the box is shared and noisy, so the figures are medians of
``--runs`` runs, and both servers are measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from bench import report
from bench.procs import cpu_seconds_between, cpu_times, established, rss_bytes, threads
from bench.servers import FPS, MjpgStreamer, Ours, Server, find_mjpg_streamer
from mjpeg_server.client.bench import join_times
from mjpeg_server.stats import percentile
from support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
MAKE_FRAMES = ROOT / "fixtures" / "make_frames.py"
#: Frames in the loop: one second's worth, so that a viewer would have to miss
#: 30 frames in a row before a drop counted from loop positions goes unseen.
LOOP_FRAMES = 30
#: One asyncio client process reads about 100 streams of 90 KB frames at 30 fps.
VIEWERS_PER_PROCESS = 100
MAX_PROCESSES = 8
JOINS = 20
JOINS_AT = (1, 100)
#: Seconds the load runs on after the window for the joins (20 take about one).
JOIN_ALLOWANCE = 4.0
SLOW_VIEWERS, SLOW_OF = 5, 100
FULL_VIEWERS = [1, 10, 50, 100, 200, 300, 500, 1000]
QUICK_VIEWERS = [1, 100, 300]


# ------------------------------------------------------------ frames


def make_frames(folder: Path, count: int = 3) -> list[int]:
    """Benchmark frames (1280x720, ~90 KB), made by the one script that makes
    frames, named ``001.jpg`` …: natural and alphabetical order agree, so every
    server loops them alike. Returns their sizes in that order."""
    subprocess.run(
        [
            sys.executable,
            str(MAKE_FRAMES),
            str(folder),
            "--size",
            "1280x720",
            "--detail",
            "--count",
            str(count),
        ],
        check=True,
        capture_output=True,
    )
    for path in list(folder.glob("*.jpg")):
        path.rename(folder / f"{int(path.stem):03d}.jpg")
    return [path.stat().st_size for path in sorted(folder.glob("*.jpg"))]


# ------------------------------------------------------------ one measurement


def processes_for(viewers: int) -> int:
    return max(1, min(MAX_PROCESSES, math.ceil(viewers / VIEWERS_PER_PROCESS)))


def warmup_for(viewers: int) -> float:
    """Seconds left out at the start: the join storm, then a settled second."""
    return 2.0 + viewers / 250


def measure(
    server: Server,
    viewers: int,
    *,
    window: float,
    loop: Path,
    slow: int = 0,
    joins: int = 0,
) -> dict[str, Any]:
    """Drive ``server`` with ``mjpeg-server bench`` and sample it meanwhile."""
    warmup = warmup_for(viewers)
    # The joins come after the measured window, while the viewers still watch:
    # inside it, their requests and first frames would count as the cost of
    # the frames (20 joins in 5 s added about a third to one viewer's figure).
    seconds = warmup + window + 1.0 + (JOIN_ALLOWANCE if joins else 0.0)
    command = [
        sys.executable,
        "-m",
        "mjpeg_server",
        "bench",
        server.stream_url,
        "--clients",
        str(viewers),
        "--seconds",
        f"{seconds:g}",
        "--warmup",
        f"{warmup:g}",
        "--processes",
        str(processes_for(viewers)),
        "--slow",
        str(slow),
        "--loop",
        str(loop),
        "--json",
    ]
    started = time.monotonic()
    # The load tool is this checkout's mjpeg_server, whatever server is measured.
    load = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        # The steady part: after the load tool's warm-up, and a margin before it stops.
        start = started + warmup + 0.5
        end = start + window
        # A server that cannot take them all in time (mjpg-streamer's listen
        # backlog is 10) is measured with those it took; the table says how many.
        while established(server.port) < viewers and time.monotonic() < start:
            time.sleep(0.05)
        pids = server.pids()
        time.sleep(max(0.0, start - time.monotonic()))
        connected = established(server.port)
        cpu_start, t_start = cpu_times(pids), time.monotonic()
        rss, most_threads = [rss_bytes(pids)], threads(pids)
        while time.monotonic() < end:
            time.sleep(min(0.25, max(0.0, end - time.monotonic())))
            rss.append(rss_bytes(pids))
            most_threads = max(most_threads, threads(pids))
        cpu_end, t_end = cpu_times(pids), time.monotonic()
        joined = join_times(server.stream_url, joins) if joins else []
        out, _ = load.communicate(timeout=seconds + 120)
    finally:
        if load.poll() is None:
            load.kill()
            load.wait()
    result: dict[str, Any] = json.loads(out)
    cpu_rate = cpu_seconds_between(cpu_start, cpu_end) / (t_end - t_start)
    frames_per_s = result["frames_per_s"]
    return {
        "server": server.name,
        "viewers": viewers,
        "connected": connected,
        "slow": slow,
        "load": result,
        "server_cpu_percent": 100 * cpu_rate,
        "server_us_per_frame": 1e6 * cpu_rate / frames_per_s if frames_per_s else None,
        "server_rss_mb": percentile(rss, 50) / 1e6,
        "server_threads": most_threads,
        "join_first_frame_ms": {
            "p50": percentile(joined, 50) * 1000 if joined else None,
            "max": max(joined) * 1000 if joined else None,
        },
    }


def measure_server(
    start: Callable[[], AbstractContextManager[Server]],
    viewers: Sequence[int],
    args: argparse.Namespace,
    loop: Path,
    *,
    slow_scenario: bool,
) -> list[dict[str, Any]]:
    """Every viewer count on one fresh server; its idle cost first."""
    results = []
    with start() as server:
        name = server.name
        pids = server.pids()
        idle = {"rss_mb": rss_bytes(pids) / 1e6, "threads": threads(pids)}
        for count in viewers:
            joins = JOINS if count in JOINS_AT else 0
            result = measure(server, count, window=args.window, loop=loop, joins=joins)
            result["server_idle"] = idle
            results.append(result)
            print(f"  {name} {count}: {report.summary_line(result)}", flush=True)
            # The last viewers' connections close before the next count starts.
            wait_until(lambda: established(server.port) == 0, 60, interval=0.1)
        if slow_scenario:
            result = measure(server, SLOW_OF, window=args.window, loop=loop, slow=SLOW_VIEWERS)
            result["server_idle"] = idle
            results.append(result)
            print(f"  {name} {SLOW_OF} ({SLOW_VIEWERS} slow): {report.summary_line(result)}")
    add_rss_per_viewer(results)
    return results


def add_rss_per_viewer(results: list[dict[str, Any]]) -> None:
    """RSS per viewer: the growth from 1 viewer, over the extra viewers (same process)."""
    one = next((r["server_rss_mb"] for r in results if r["viewers"] == 1 and not r["slow"]), None)
    for result in results:
        n = result["viewers"]
        grows = one is not None and n > 1 and not result["slow"]
        result["rss_per_viewer_kb"] = (
            (result["server_rss_mb"] - one) * 1000 / (n - 1) if grows else None
        )


# ------------------------------------------------------------ main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--quick", action="store_true", help="1 run at 1, 100 and 300 viewers, no slow scenario")
    add("--runs", type=int, help="runs, each on fresh servers (default 3; --quick: 1)")
    add("--viewers", type=int, nargs="+", help=f"viewer counts (default {FULL_VIEWERS})")
    add("--window", type=float, default=5.0, help="measured seconds per count (default 5)")
    add("--no-slow", action="store_true", help="skip the slow-viewer scenario")
    add("--no-peer", action="store_true", help="measure this server only")
    add("--label", default="scenarios", help="results/bench/LABEL.{md,json} (default scenarios)")
    add("--out", type=Path, default=ROOT / "results" / "bench", help="results folder")
    add("--plot", type=Path, default=ROOT / "docs" / "performance.png", help="the curve's PNG")
    add("--no-plot", action="store_true", help="write no PNG")
    add(
        "--server-arg",
        action="append",
        default=[],
        help="an extra flag for this server, repeatable (e.g. --server-arg=--server=dev)",
    )
    add("--server-path", help="PYTHONPATH for this server: measure another tree's server")
    args = parser.parse_args(argv)
    args.runs = args.runs or (1 if args.quick else 3)
    args.viewers = args.viewers or (QUICK_VIEWERS if args.quick else FULL_VIEWERS)
    args.no_slow = args.no_slow or args.quick
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    binary, absent = (None, "--no-peer") if args.no_peer else find_mjpg_streamer()
    if binary is None:
        print(f"mjpg-streamer: not compared: {absent}", flush=True)
    env = {"PYTHONPATH": args.server_path} if args.server_path else None
    max_clients = max([*args.viewers, SLOW_OF]) + JOINS
    began = time.monotonic()
    runs: list[dict[str, list[dict[str, Any]]]] = []
    with tempfile.TemporaryDirectory(prefix="mjpeg-bench-") as tmp:
        folder = Path(tmp)
        sizes = make_frames(folder, LOOP_FRAMES)
        info = {
            "when": time.strftime("%Y-%m-%d %H:%M"),
            "runs": args.runs,
            "window": args.window,
            "frame_sizes": sizes,
            "fps": FPS,
            "server_args": args.server_arg,
            "server_path": args.server_path,
            "peer": str(binary) if binary else None,
            "peer_absent": absent or None,
            "peer_command": " ".join(MjpgStreamer(binary, folder).command(0)) if binary else None,
            "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
            "cpus": os.cpu_count(),
        }
        starters: dict[str, Callable[[], AbstractContextManager[Server]]] = {
            "ours": lambda: Ours(
                folder, max_clients=max_clients, extra_args=args.server_arg, env=env
            ),
        }
        if binary is not None:
            starters["mjpg-streamer"] = lambda: MjpgStreamer(binary, folder)
        for run in range(args.runs):
            print(f"run {run + 1} of {args.runs}", flush=True)
            order = list(starters) if run % 2 == 0 else list(reversed(starters))
            runs.append(
                {
                    name: measure_server(
                        starters[name],
                        args.viewers,
                        args,
                        folder,
                        slow_scenario=name == "ours" and not args.no_slow,
                    )
                    for name in order
                }
            )
    info["minutes"] = round((time.monotonic() - began) / 60, 1)
    rows = report.medians(runs)
    text = report.markdown(args.label, rows, info)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.label}.md").write_text(text)
    (args.out / f"{args.label}.json").write_text(
        json.dumps({"info": info, "medians": rows, "runs": runs}, indent=1)
    )
    print()
    print(text)
    print(f"written: {args.out / args.label}.md and .json")
    if not args.no_plot:
        from bench.plot import plot  # noqa: PLC0415  # matplotlib: imported only to draw

        plot(rows, info, args.plot)
        print(f"written: {args.plot}")


if __name__ == "__main__":
    main()
