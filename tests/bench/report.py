"""The scenario benchmark's figures as tables: medians over runs, this server
beside mjpg-streamer with ratios, and the targets of issues 5 and 9, met or not
(read, never asserted)."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import Any

from mjpeg_server.wording import counted

OURS, PEER = "ours", "mjpg-streamer"
#: The count the side-by-side table is about (issue 9: 300 viewers).
HEADLINE = 300

# Figures kept per row: a path into one measurement's result.
FIGURES = [
    "connected",
    "load.fps.min",
    "load.fps.median",
    "load.latency_ms.p50",
    "load.latency_ms.p99",
    "load.latency_ms.max",
    "load.dropped",
    "load.first_frame_ms.p50",
    "load.first_frame_ms.max",
    "load.mb_per_s",
    "load.client_cpu_percent",
    "load.errors",
    "server_cpu_percent",
    "server_us_per_frame",
    "server_rss_mb",
    "server_threads",
    "rss_per_viewer_kb",
    "server_idle.rss_mb",
    "server_idle.threads",
    "join_first_frame_ms.p50",
    "join_first_frame_ms.max",
    "load.slow_clients.fps.median",
    "load.slow_clients.rate_kb_per_s",
    "load.slow_clients.age_intervals.p50",
    "load.slow_clients.age_intervals.max",
]


def summary_line(result: dict[str, Any]) -> str:
    load = result["load"]
    return (
        f"fps min {load['fps']['min']}, p99 {load['latency_ms']['p99']} ms, "
        f"{load['dropped']} dropped, 1st frame p50 {load['first_frame_ms']['p50']} ms, "
        f"server CPU {result['server_cpu_percent']:.1f} % "
        f"({fmt(result['server_us_per_frame'], 1)} µs/frame), "
        f"RSS {result['server_rss_mb']:.1f} MB, {result['server_threads']} threads, "
        f"client CPU {load['client_cpu_percent']} %, errors {load['errors']}"
    )


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _figure(result: dict[str, Any], path: str) -> float | None:
    value: Any = result
    for key in path.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return float(value) if isinstance(value, int | float) else None


def medians(runs: Sequence[dict[str, list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    """One row per (server, viewers, slow): the median of every figure over the runs."""
    groups: dict[tuple[str, int, int], list[dict[str, Any]]] = {}
    for run in runs:
        for results in run.values():
            for result in results:
                key = (result["server"], result["viewers"], result["slow"])
                groups.setdefault(key, []).append(result)
    rows = []
    for (server, viewers, slow), same in groups.items():
        row: dict[str, Any] = {"server": server, "viewers": viewers, "slow": slow}
        for path in FIGURES:
            values = [v for r in same if (v := _figure(r, path)) is not None]
            row[path] = statistics.median(values) if values else None
        rows.append(row)
    return sorted(rows, key=lambda r: (r["server"] != OURS, r["slow"], r["viewers"]))


def row_of(rows: Sequence[dict[str, Any]], server: str, viewers: int) -> dict[str, Any]:
    for row in rows:
        if row["server"] == server and row["viewers"] == viewers and not row["slow"]:
            return row
    return {}


def ratio(ours: float | None, peer: float | None) -> float | None:
    return None if ours is None or peer is None or not peer else ours / peer


# ------------------------------------------------------------ side by side

# (label, figure, digits, target on (ours, peer) or None, target's words)
Target = Callable[[float, float], bool]
SIDE_BY_SIDE: list[tuple[str, str, int, Target | None, str]] = [
    ("dropped frames", "load.dropped", 0, lambda o, p: o == 0, "0"),
    ("latency p50, ms", "load.latency_ms.p50", 2, None, ""),
    ("latency p99, ms", "load.latency_ms.p99", 1, lambda o, p: o <= p, "≤ mjpg-streamer's"),
    (
        "join storm: first frame p50, ms",
        "load.first_frame_ms.p50",
        1,
        lambda o, p: o <= 1.5 * p,
        "≤ 1.5x mjpg-streamer's",
    ),
    ("join storm: first frame max, ms", "load.first_frame_ms.max", 1, None, ""),
    (
        "server CPU per delivered frame, µs",
        "server_us_per_frame",
        1,
        lambda o, p: o <= 0.5 * p,
        "≤ 0.5x mjpg-streamer's",
    ),
    ("server CPU, % of one core", "server_cpu_percent", 1, None, ""),
    ("fps, slowest viewer", "load.fps.min", 2, None, ""),
    ("RSS, MB", "server_rss_mb", 1, None, ""),
    ("threads", "server_threads", 0, None, ""),
    ("load tool's CPU, % of one core", "load.client_cpu_percent", 0, None, ""),
]


def side_by_side(rows: Sequence[dict[str, Any]], viewers: int) -> list[str]:
    ours, peer = row_of(rows, OURS, viewers), row_of(rows, PEER, viewers)
    lines = [
        f"| {counted(viewers, 'viewer')} | ours | mjpg-streamer | ours / theirs | target | |",
        "|---|---:|---:|---:|---|---|",
    ]
    for label, path, digits, good, words in SIDE_BY_SIDE:
        o, p = ours.get(path), peer.get(path)
        verdict = ""
        if good is not None and o is not None and (p is not None or words == "0"):
            verdict = "met" if good(o, p if p is not None else 0.0) else "**not met**"
        lines.append(
            f"| {label} | {fmt(o, digits)} | {fmt(p, digits)} | {fmt(ratio(o, p), 2)} "
            f"| {words} | {verdict} |"
        )
    return lines


def fixed_cost(rows: Sequence[dict[str, Any]]) -> list[str]:
    o = row_of(rows, OURS, 1).get("server_us_per_frame")
    p = row_of(rows, PEER, 1).get("server_us_per_frame")
    verdict = "" if o is None or p is None else "met" if o <= p else "**not met**"
    return [
        "| 1 viewer | ours | mjpg-streamer | ours / theirs | target | |",
        "|---|---:|---:|---:|---|---|",
        f"| fixed cost of a frame (server CPU per frame), µs | {fmt(o)} | {fmt(p)} "
        f"| {fmt(ratio(o, p), 2)} | ≤ mjpg-streamer's | {verdict} |",
    ]


# ------------------------------------------------------------ the curve

CURVE: list[tuple[str, str, int]] = [
    ("µs/frame", "server_us_per_frame", 1),
    ("p99 ms", "load.latency_ms.p99", 1),
    ("RSS MB", "server_rss_mb", 1),
    ("threads", "server_threads", 0),
    ("dropped", "load.dropped", 0),
    ("fps min", "load.fps.min", 1),
]


def curve(rows: Sequence[dict[str, Any]]) -> list[str]:
    servers = [s for s in (OURS, PEER) if any(r["server"] == s for r in rows)]
    counts = sorted({r["viewers"] for r in rows if not r["slow"]})
    header = ["viewers"] + [f"{label} ({s})" for label, _, _ in CURVE for s in servers]
    lines = ["| " + " | ".join(header) + " |", "|" + "---:|" * len(header)]
    for count in counts:
        cells = [str(count)]
        for _, path, digits in CURVE:
            cells += [fmt(row_of(rows, s, count).get(path), digits) for s in servers]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


# Every figure of one server, one row per viewer count.
COLUMNS: list[tuple[str, str, int]] = [
    ("connected", "connected", 0),
    ("fps min", "load.fps.min", 2),
    ("fps median", "load.fps.median", 2),
    ("latency p50 ms", "load.latency_ms.p50", 2),
    ("p99 ms", "load.latency_ms.p99", 1),
    ("max ms", "load.latency_ms.max", 1),
    ("dropped", "load.dropped", 0),
    ("storm 1st frame p50 ms", "load.first_frame_ms.p50", 1),
    ("MB/s", "load.mb_per_s", 0),
    ("server CPU %", "server_cpu_percent", 1),
    ("µs/frame", "server_us_per_frame", 1),
    ("RSS MB", "server_rss_mb", 1),
    ("RSS/viewer KB", "rss_per_viewer_kb", 0),
    ("threads", "server_threads", 0),
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


def table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str, int]]) -> list[str]:
    lines = [
        "| " + " | ".join(["viewers", *(header for header, _, _ in columns)]) + " |",
        "|" + "---:|" * (len(columns) + 1),
    ]
    for row in rows:
        viewers = f"{row['viewers']} ({row['slow']} slow)" if row["slow"] else str(row["viewers"])
        cells = [fmt(row[path], digits) for _, path, digits in columns]
        lines.append("| " + " | ".join([viewers, *cells]) + " |")
    return lines


# ------------------------------------------------------------ our own targets

# (target, viewer count or "slow", figure, met if, digits): issue 9 §4 and issue 5 §3.
OWN_TARGETS: list[tuple[str, int | str, str, Callable[[float], bool], int]] = [
    ("idle: RSS ≤ 35 MB (the whole server)", 1, "server_idle.rss_mb", lambda v: v <= 35, 1),
    ("1,000 viewers: ≤ 20 threads", 1000, "server_threads", lambda v: v <= 20, 0),
    ("1,000 viewers: ≤ 40 KB RSS per viewer", 1000, "rss_per_viewer_kb", lambda v: v <= 40, 0),
    ("100 viewers: every viewer ≥ 29.5 fps", 100, "load.fps.min", lambda v: v >= 29.5, 2),
    ("100 viewers: 0 dropped frames", 100, "load.dropped", lambda v: v == 0, 0),
    ("100 viewers: p99 latency ≤ 10 ms", 100, "load.latency_ms.p99", lambda v: v <= 10, 1),
    ("100 viewers: server CPU ≤ 50 µs per frame", 100, "server_us_per_frame", lambda v: v <= 50, 1),
    ("200 viewers: every viewer ≥ 29 fps", 200, "load.fps.min", lambda v: v >= 29, 2),
    ("200 viewers: p99 latency ≤ 25 ms", 200, "load.latency_ms.p99", lambda v: v <= 25, 1),
    ("join, 1 watching: first frame ≤ 5 ms p50", 1, "join_first_frame_ms.p50", lambda v: v <= 5, 2),
    (
        "join, 100 watching: first frame ≤ 5 ms p50",
        100,
        "join_first_frame_ms.p50",
        lambda v: v <= 5,
        2,
    ),
    (
        "slow viewers at 10 %: the others ≥ 29.5 fps",
        "slow",
        "load.fps.min",
        lambda v: v >= 29.5,
        2,
    ),
    ("slow viewers at 10 %: the others drop 0", "slow", "load.dropped", lambda v: v == 0, 0),
    (
        "slow viewers: frames ≤ 3 intervals old beyond transfer (max)",
        "slow",
        "load.slow_clients.age_intervals.max",
        lambda v: v <= 3,
        2,
    ),
]


def own_targets(rows: Sequence[dict[str, Any]]) -> list[str]:
    ours = [r for r in rows if r["server"] == OURS]
    by_key: dict[int | str, dict[str, Any]] = {
        "slow" if r["slow"] else r["viewers"]: r for r in ours
    }
    lines = ["| target | median | |", "|---|---:|---|"]
    for label, key, path, good, digits in OWN_TARGETS:
        value = by_key.get(key, {}).get(path)
        verdict = "-" if value is None else "met" if good(value) else "**not met**"
        lines.append(f"| {label} | {fmt(value, digits)} | {verdict} |")
    return lines


# ------------------------------------------------------------ the whole page


def markdown(label: str, rows: Sequence[dict[str, Any]], info: dict[str, Any]) -> str:
    sizes = info["frame_sizes"]
    counts = sorted({r["viewers"] for r in rows if not r["slow"]})
    headline = HEADLINE if HEADLINE in counts else counts[-1]
    peer = (
        f"mjpg-streamer: `{info['peer_command']}`"
        if info["peer"]
        else f"mjpg-streamer not compared: {info['peer_absent']}"
    )
    lines = [
        f"# Scenario benchmark: {label}",
        "",
        f"{info['when']}, {info['cpus']} CPUs, load average before {info['loadavg']}; "
        f"medians of {counted(info['runs'], 'run')}, {info['window']:g} s measured per count, "
        f"{info['minutes']} min in all. {len(sizes)} frames of 1280x720, "
        f"{min(sizes) // 1000}-{max(sizes) // 1000} KB (median "
        f"{statistics.median(sizes) / 1000:.0f} KB), at {info['fps']} fps. "
        f"Our server: {' '.join(info['server_args']) or 'default flags'}"
        f"{' from ' + info['server_path'] if info['server_path'] else ''}. {peer}.",
        "",
        f"## Side by side at {counted(headline, 'viewer')}, all connecting at once",
        "",
        *side_by_side(rows, headline),
        "",
        *fixed_cost(rows),
        "",
        "## From 1 to 1,000 viewers",
        "",
        *curve(rows),
    ]
    for server in (OURS, PEER):
        steady = [r for r in rows if r["server"] == server and not r["slow"]]
        if steady:
            idle = steady[0]
            lines += [
                "",
                f"### {server}: every figure (idle: {fmt(idle['server_idle.rss_mb'])} MB RSS, "
                f"{fmt(idle['server_idle.threads'], 0)} threads)",
                "",
                *table(steady, COLUMNS),
            ]
    joins = [r for r in rows if r["join_first_frame_ms.p50"] is not None]
    if joins:
        lines += ["", "## A viewer joining a running stream (20 joins, one after another)", ""]
        lines += ["| server | watching | first frame p50 ms | max ms |", "|---|---:|---:|---:|"]
        lines += [
            f"| {r['server']} | {r['viewers']} | {fmt(r['join_first_frame_ms.p50'], 2)} "
            f"| {fmt(r['join_first_frame_ms.max'], 2)} |"
            for r in joins
        ]
    slow = [r for r in rows if r["slow"]]
    if slow:
        lines += ["", "## Slow viewers (ours)", "", *table(slow, SLOW_COLUMNS)]
    lines += ["", "## Our own targets (issues 5 and 9)", "", *own_targets(rows)]
    return "\n".join(lines) + "\n"
