"""The curve from 1 to 1,000 viewers as a picture: cost per frame, p99 latency,
RSS and threads, this server beside mjpg-streamer. Needs matplotlib (the
``bench`` extra); the scenario benchmark imports this module only to draw."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt  # after choosing the backend
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from bench.report import OURS, PEER, row_of
from mjpeg_server.wording import counted

PANELS = [
    ("server CPU per delivered frame (µs)", "server_us_per_frame", True),
    ("latency p99 (ms)", "load.latency_ms.p99", True),
    ("server RSS (MB)", "server_rss_mb", False),
    ("server threads", "server_threads", True),
]
STYLE = {OURS: ("mjpeg-server", "tab:blue", "o"), PEER: ("mjpg-streamer", "tab:orange", "s")}


def plot(rows: Sequence[dict[str, Any]], info: dict[str, Any], path: Path) -> None:
    counts = sorted({r["viewers"] for r in rows if not r["slow"]})
    figure, axes = plt.subplots(2, 2, figsize=(10, 7), layout="constrained")
    for axis, (title, figure_path, log_y) in zip(axes.flat, PANELS, strict=True):
        for server, (name, colour, marker) in STYLE.items():
            points = [
                (count, value)
                for count in counts
                if (value := row_of(rows, server, count).get(figure_path)) is not None
            ]
            if points:
                xs, ys = zip(*points, strict=True)
                axis.plot(xs, ys, marker=marker, color=colour, label=name)
        axis.set_title(title)
        axis.set_xscale("log")
        if log_y:
            axis.set_yscale("log")
            # Plain numbers at 1, 2, 5, 10, 20 …, not powers of ten: a reader compares values.
            axis.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            axis.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
            axis.yaxis.set_minor_formatter(NullFormatter())
        axis.set_xlabel("viewers")
        axis.set_xticks(counts, [str(c) for c in counts], rotation=45)
        axis.xaxis.set_minor_formatter(NullFormatter())
        axis.grid(True, which="both", alpha=0.3)
        axis.legend()
    sizes = info["frame_sizes"]
    figure.suptitle(
        f"1280x720 JPEGs of ~{sum(sizes) / len(sizes) / 1000:.0f} KB at {info['fps']} fps, "
        f"loopback, {info['cpus']} CPUs\nmedians of {counted(info['runs'], 'run')} "
        f"({info['when']}, load average {info['loadavg'].split()[0]} before)"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
