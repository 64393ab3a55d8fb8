"""Scenario benchmark: the real server, 1 to 200 viewers, and what each one costs.

``tox -e bench`` runs it after the microbenchmarks; by hand, from the checkout::

    PYTHONPATH=src:tests python -m bench.scenarios                  # 3 runs, medians
    PYTHONPATH=src:tests python -m bench.scenarios --runs 1 --clients 100 --no-slow
    PYTHONPATH=src:tests python -m bench.scenarios --label wsgi --server-arg=--send-path=wsgi
    PYTHONPATH=src:tests python -m bench.scenarios --label before --server-path /tmp/old/src

Each run generates 1280x720 frames of about 90 KB (``fixtures/make_frames.py
--detail``), starts the real server (default gunicorn configuration, an
emulated camera at 30 fps, kept open between scenarios so that every client
joins a running stream), then for each client count runs ``mjpeg-server bench``
in its own processes (so the measuring side never shares this process's GIL)
and, during the steady part of the run (after all clients are connected and a
warm-up), samples the server's process tree from ``/proc``: CPU (utime + stime
of gunicorn's master and worker) and RSS (summed over the tree). From these:

* server CPU per delivered frame = server CPU seconds / frames received by all
  clients in the same time, in µs, and as % of one core;
* RSS per client = (RSS with N clients - RSS with 1) / (N - 1): the server is
  the same process through the growing counts, so this is the cost of the
  extra streams (threads, buffers) that stays;
* time to first frame of a client joining a running stream, measured by
  joining one at a time while 1 and 100 others watch;
* the slow-client scenario: 100 clients of which 5 read at 10 % of the stream's
  bandwidth, and what that does to the other 95.

Results go to ``results/bench/LABEL.md`` (the table, also printed) and
``LABEL.json`` (every run's raw figures and the medians). Nothing is asserted:
the box is shared and noisy, so the figures are medians of ``--runs`` runs,
read against issue 5's targets in the table's last section.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mjpeg_server.client.bench import join_times
from mjpeg_server.stats import percentile
from support.server import ServerProcess, child_pids
from support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
MAKE_FRAMES = ROOT / "fixtures" / "make_frames.py"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
FPS = 30
# Client processes per count: one asyncio process reads ~100 streams at 30 fps
# with room to spare; two keep 200 from measuring the client instead.
PROCESSES_FROM = 100
JOINS = 20
SLOW_CLIENTS, SLOW_OF = 5, 100


# ------------------------------------------------------------ the server tree


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants (gunicorn's master and its worker)."""
    pids = [pid]
    for child in child_pids(pid):
        pids += tree(child)
    return pids


def cpu_seconds(pids: Sequence[int]) -> float:
    """utime + stime of each process (every thread), summed."""
    total = 0
    for pid in pids:
        # The fields after the command name, which is in parentheses and may hold spaces.
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / CLOCK_TICKS


def rss_bytes(pids: Sequence[int]) -> int:
    return sum(int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE for pid in pids)


# ------------------------------------------------------------ one scenario


@dataclass(frozen=True)
class Scenario:
    clients: int
    slow: int = 0
    #: Join one client at a time during the steady window, for time to first frame.
    joins: int = 0

    @property
    def name(self) -> str:
        return f"{self.clients} clients ({self.slow} slow)" if self.slow else f"{self.clients}"


def run_scenario(
    server: ServerProcess, scenario: Scenario, seconds: float, warmup: float
) -> dict[str, Any]:
    """Drive the server with ``mjpeg-server bench`` and sample it meanwhile."""
    url = server.url("/stream.mjpg")
    processes = 2 if scenario.clients >= PROCESSES_FROM else 1
    command = [
        sys.executable,
        "-m",
        "mjpeg_server",
        "bench",
        url,
        "--clients",
        str(scenario.clients),
        "--seconds",
        str(seconds),
        "--warmup",
        str(warmup),
        "--processes",
        str(processes),
        "--slow",
        str(scenario.slow),
        "--json",
    ]
    # The load tool is this process's mjpeg_server, whatever server tree is measured.
    load = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        wait_until(
            lambda: server.status()["clients"] == scenario.clients,
            60,
            interval=0.1,
            message=f"{scenario.clients} clients never connected",
        )
        connected = time.monotonic()
        pids = tree(server.pid)
        # The steady part: after the warm-up, and a margin before the clients stop.
        start, end = connected + warmup + 0.5, connected + seconds - 1.0
        time.sleep(max(0.0, start - time.monotonic()))
        cpu_start, t_start = cpu_seconds(pids), time.monotonic()
        rss = [rss_bytes(pids)]
        joins = join_times(url, scenario.joins) if scenario.joins else []
        while time.monotonic() < end:
            time.sleep(min(0.5, max(0.0, end - time.monotonic())))
            rss.append(rss_bytes(pids))
        cpu_end, t_end = cpu_seconds(pids), time.monotonic()
        out, _ = load.communicate(timeout=seconds + 60)
    finally:
        if load.poll() is None:
            load.kill()
            load.wait()
    report: dict[str, Any] = json.loads(out)
    cpu_rate = (cpu_end - cpu_start) / (t_end - t_start)
    frames_per_s = report["frames_per_s"]
    return {
        "scenario": scenario.name,
        "clients": scenario.clients,
        "slow": scenario.slow,
        "load": report,
        "server_cpu_percent": 100 * cpu_rate,
        "server_us_per_frame": 1e6 * cpu_rate / frames_per_s if frames_per_s else None,
        "server_rss_mb": statistics.median(rss) / 1e6,
        "join_first_frame_ms": {
            "p50": percentile(joins, 50) * 1000 if joins else None,
            "max": max(joins) * 1000 if joins else None,
        },
    }


def make_frames(folder: Path) -> list[int]:
    """The benchmark frames, made by the one script that makes frames."""
    subprocess.run(
        [sys.executable, str(MAKE_FRAMES), str(folder), "--size", "1280x720", "--detail"],
        check=True,
        capture_output=True,
    )
    return sorted(path.stat().st_size for path in folder.glob("*.jpg"))


def one_run(
    frames: Path, scenarios: Sequence[Scenario], args: argparse.Namespace
) -> list[dict[str, Any]]:
    env = {"PYTHONPATH": args.server_path} if args.server_path else None
    camera = f"emulated:{frames}?fps={FPS}"
    max_clients = str(max(s.clients for s in scenarios) + JOINS)
    server_args = ["--camera", camera, "--max-clients", max_clients, "--idle-timeout", "never"]
    results = []
    with ServerProcess(*server_args, *args.server_arg, env=env) as server:
        idle_rss = rss_bytes(tree(server.pid))
        for scenario in scenarios:
            result = run_scenario(server, scenario, args.seconds, args.warmup)
            result["server_idle_rss_mb"] = idle_rss / 1e6
            results.append(result)
            print(f"  {scenario.name}: {summary_line(result)}", flush=True)
            # Let the last clients' connections close before the next count.
            wait_until(lambda: server.status()["clients"] == 0, 30, interval=0.1)
    one = next((r["server_rss_mb"] for r in results if r["clients"] == 1 and not r["slow"]), None)
    for result in results:
        clients = result["clients"]
        grows = one is not None and clients > 1 and not result["slow"]
        result["rss_per_client_kb"] = (
            (result["server_rss_mb"] - one) * 1000 / (clients - 1) if grows else None
        )
    return results


def summary_line(result: dict[str, Any]) -> str:
    load = result["load"]
    return (
        f"fps min {load['fps']['min']}, p99 {load['latency_ms']['p99']} ms, "
        f"{load['dropped']} dropped, server CPU {result['server_cpu_percent']:.1f} % "
        f"({fmt(result['server_us_per_frame'], 0)} µs/frame), errors {load['errors']}"
    )


# ------------------------------------------------------------ medians and table


def median_of(runs: Sequence[dict[str, Any]], path: str) -> float | None:
    """The median over runs of the figure at ``path`` ("load.latency_ms.p99")."""
    values = []
    for run in runs:
        value: Any = run
        for key in path.split("."):
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, int | float):
            values.append(float(value))
    return statistics.median(values) if values else None


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


# Columns of the main table: header, path in a scenario's result, digits.
COLUMNS: list[tuple[str, str, int]] = [
    ("fps min", "load.fps.min", 2),
    ("fps median", "load.fps.median", 2),
    ("latency p50 ms", "load.latency_ms.p50", 2),
    ("p99 ms", "load.latency_ms.p99", 1),
    ("max ms", "load.latency_ms.max", 1),
    ("dropped", "load.dropped", 0),
    ("1st frame p50 ms", "load.first_frame_ms.p50", 1),
    ("MB/s", "load.mb_per_s", 0),
    ("server CPU %", "server_cpu_percent", 1),
    ("µs/frame", "server_us_per_frame", 0),
    ("RSS MB", "server_rss_mb", 1),
    ("RSS/client KB", "rss_per_client_kb", 0),
    ("client CPU %", "load.client_cpu_percent", 0),
    ("errors", "load.errors", 0),
]
SLOW_COLUMNS: list[tuple[str, str, int]] = [
    ("fast fps min", "load.fps.min", 2),
    ("fast fps median", "load.fps.median", 2),
    ("fast p99 ms", "load.latency_ms.p99", 1),
    ("fast dropped", "load.dropped", 0),
    ("slow fps", "load.slow_clients.fps.median", 2),
    ("slow kB/s", "load.slow_clients.rate_kb_per_s", 0),
    ("slow age p50 (intervals)", "load.slow_clients.age_intervals.p50", 2),
    ("slow age max", "load.slow_clients.age_intervals.max", 2),
    ("errors", "load.errors", 0),
]


def medians(runs: Sequence[Sequence[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Per scenario, the median of every column over the runs."""
    rows = []
    for index, first in enumerate(runs[0]):
        same = [run[index] for run in runs]
        row = {"scenario": first["scenario"], "clients": first["clients"], "slow": first["slow"]}
        paths = {path for _, path, _ in COLUMNS + SLOW_COLUMNS}
        paths |= {"join_first_frame_ms.p50", "join_first_frame_ms.max"}
        row |= {path: median_of(same, path) for path in sorted(paths)}
        rows.append(row)
    return rows


def markdown_table(
    rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str, int]], first: str
) -> list[str]:
    lines = [
        "| " + " | ".join([first, *(header for header, _, _ in columns)]) + " |",
        "|" + "---:|" * (len(columns) + 1),
    ]
    for row in rows:
        cells = [fmt(row[path], digits) for _, path, digits in columns]
        lines.append("| " + " | ".join([row["scenario"], *cells]) + " |")
    return lines


# Issue 5 §3: (target, scenario row: a client count or "slow", figure, met if, digits).
TARGETS: list[tuple[str, int | str, str, Callable[[float], bool], int]] = [
    ("100 clients: every client ≥ 29.5 fps", 100, "load.fps.min", lambda v: v >= 29.5, 2),
    ("100 clients: 0 dropped frames", 100, "load.dropped", lambda v: v == 0, 0),
    ("100 clients: p99 latency ≤ 10 ms", 100, "load.latency_ms.p99", lambda v: v <= 10, 1),
    ("100 clients: server CPU ≤ 50 µs per frame", 100, "server_us_per_frame", lambda v: v <= 50, 0),
    ("200 clients: every client ≥ 29 fps", 200, "load.fps.min", lambda v: v >= 29, 2),
    ("200 clients: p99 latency ≤ 25 ms", 200, "load.latency_ms.p99", lambda v: v <= 25, 1),
    ("join, 1 watching: first frame ≤ 5 ms p50", 1, "join_first_frame_ms.p50", lambda v: v <= 5, 2),
    (
        "join, 100 watching: first frame ≤ 5 ms p50",
        100,
        "join_first_frame_ms.p50",
        lambda v: v <= 5,
        2,
    ),
    ("RSS growth ≤ 150 KB per client (200 vs 1)", 200, "rss_per_client_kb", lambda v: v <= 150, 0),
    ("slow clients at 10 %: the others ≥ 29.5 fps", "slow", "load.fps.min", lambda v: v >= 29.5, 2),
    ("slow clients at 10 %: the others drop 0", "slow", "load.dropped", lambda v: v == 0, 0),
    (
        "slow clients: frames ≤ 3 intervals old beyond transfer (max)",
        "slow",
        "load.slow_clients.age_intervals.max",
        lambda v: v <= 3,
        2,
    ),
]


def targets(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Issue 5's targets against the medians: met or not, never asserted."""
    by_key: dict[int | str, dict[str, Any]] = {
        "slow" if r["slow"] else r["clients"]: r for r in rows
    }
    lines = ["| target | median | |", "|---|---:|---|"]
    for label, key, path, good, digits in TARGETS:
        value = by_key.get(key, {}).get(path)
        verdict = "-" if value is None else "met" if good(value) else "**not met**"
        lines.append(f"| {label} | {fmt(value, digits)} | {verdict} |")
    return lines


def markdown(label: str, rows: Sequence[dict[str, Any]], info: dict[str, Any]) -> str:
    steady = [r for r in rows if not r["slow"]]
    slow = [r for r in rows if r["slow"]]
    joins = [r for r in steady if r["join_first_frame_ms.p50"] is not None]
    lines = [
        f"# Scenario benchmark: {label}",
        "",
        f"{info['when']}; medians of {info['runs']} runs of {info['seconds']:g} s "
        f"(warm-up {info['warmup']:g} s); frames {info['frame_sizes']} bytes at {FPS} fps; "
        f"server args {' '.join(info['server_args']) or '(defaults)'}; "
        f"load average before: {info['loadavg']}.",
        "",
        *markdown_table(steady, COLUMNS, "clients"),
    ]
    if joins:
        lines += ["", "| joining a running stream, watching | first frame p50 ms | max ms |"]
        lines += ["|---:|---:|---:|"]
        lines += [
            f"| {r['clients']} | {fmt(r['join_first_frame_ms.p50'], 2)} "
            f"| {fmt(r['join_first_frame_ms.max'], 2)} |"
            for r in joins
        ]
    if slow:
        lines += ["", *markdown_table(slow, SLOW_COLUMNS, "clients")]
    lines += ["", "Issue 5 targets:", "", *targets(rows)]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------ main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--runs", type=int, default=3, help="runs, each on a fresh server (default 3)")
    add("--clients", type=int, nargs="+", default=[1, 50, 100, 200], help="client counts")
    add("--seconds", type=float, default=18.0, help="length of each scenario (default 18)")
    add("--warmup", type=float, default=3.0, help="left out of each scenario (default 3)")
    add("--no-slow", action="store_true", help="skip the slow-client scenario")
    add("--label", default="scenarios", help="results/bench/LABEL.{md,json}")
    add("--out", type=Path, default=ROOT / "results" / "bench", help="results folder")
    add(
        "--server-arg",
        action="append",
        default=[],
        help="an extra flag for the server, repeatable (e.g. --server-arg=--send-path=wsgi)",
    )
    add("--server-path", help="PYTHONPATH for the server: measure another tree's server")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    scenarios = [Scenario(n, joins=JOINS if n in (1, 100) else 0) for n in args.clients]
    if not args.no_slow:
        scenarios.append(Scenario(SLOW_OF, slow=SLOW_CLIENTS))
    runs = []
    with tempfile.TemporaryDirectory(prefix="mjpeg-bench-") as folder:
        sizes = make_frames(Path(folder))
        info = {
            "when": time.strftime("%Y-%m-%d %H:%M"),
            "runs": args.runs,
            "seconds": args.seconds,
            "warmup": args.warmup,
            "frame_sizes": sizes,
            "server_args": args.server_arg,
            "server_path": args.server_path,
            "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
            "cpus": os.cpu_count(),
        }
        for run in range(args.runs):
            print(f"run {run + 1} of {args.runs}", flush=True)
            runs.append(one_run(Path(folder), scenarios, args))
    rows = medians(runs)
    table = markdown(args.label, rows, info)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.label}.md").write_text(table)
    (args.out / f"{args.label}.json").write_text(
        json.dumps({"info": info, "medians": rows, "runs": runs}, indent=1)
    )
    print()
    print(table)
    print(f"written: {args.out / args.label}.md and .json")


if __name__ == "__main__":
    main()
