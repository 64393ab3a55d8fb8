"""A bench run's report: the clients' results merged into figures, as JSON or a table.

Goal: one place that turns per-client results into what the README and the
scenario benchmarks quote (fps per client, latency and first-frame
percentiles, drops, MB/s, errors by kind, the slow clients apart). No I/O;
cost: a sort per percentile, O(frames log frames).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ...stats import percentile
from ...wording import counted
from .config import LoadConfig
from .results import ClientResult

__all__ = ["Report"]


def _summary_point(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th :func:`~mjpeg_server.stats.percentile`, rounded; None without values."""
    return _rounded(percentile(values, q)) if values else None


def _rounded(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


@dataclass(frozen=True)
class Report:
    """The merged results of one run."""

    config: LoadConfig
    clients: list[ClientResult]
    #: Wall time the run took (the longest process).
    seconds: float
    #: CPU time of the measuring processes themselves.
    client_cpu_seconds: float

    @property
    def fast(self) -> list[ClientResult]:
        return [c for c in self.clients if not c.slow]

    @property
    def slow(self) -> list[ClientResult]:
        return [c for c in self.clients if c.slow]

    @property
    def errors(self) -> Counter[str]:
        return Counter(c.error for c in self.clients if c.error is not None)

    def to_json(self) -> dict[str, Any]:
        """Figures for the fast (not slow) clients at the top level; MB/s, time to
        first frame and errors over every client; the slow ones apart."""
        fast, slow = self.fast, self.slow
        window = self.config.seconds - self.config.warmup
        latencies = [x for c in fast for x in c.latencies_ms]
        first = [c.first_frame_s * 1000 for c in self.clients if c.first_frame_s is not None]
        report: dict[str, Any] = {
            "params": self.config.to_json(),
            "duration_s": round(self.seconds, 3),
            "client_cpu_percent": round(100 * self.client_cpu_seconds / self.seconds, 1)
            if self.seconds
            else None,
            "fps": _fps_summary(fast),
            "frames": sum(c.window_frames for c in fast),
            "frames_per_s": round(sum(c.fps for c in fast), 1),
            "dropped": sum(c.dropped for c in fast),
            "mb_per_s": round(sum(c.window_bytes for c in self.clients) / window / 1e6, 2),
            "latency_ms": {
                "p50": _summary_point(latencies, 50),
                "p99": _summary_point(latencies, 99),
                "max": _rounded(max(latencies, default=None)),
                "samples": len(latencies),
            },
            "first_frame_ms": {
                "p50": _summary_point(first, 50),
                "max": _rounded(max(first, default=None)),
            },
            "errors": sum(self.errors.values()),
            "error_kinds": dict(self.errors.most_common()),
            "slow_clients": None,
        }
        if slow:
            ages = [x for c in slow for x in c.ages]
            rates = [c.rate for c in slow if c.rate is not None]
            # How long the client's own full receive buffer takes to drain, in intervals.
            buffered = [
                c.rcvbuf / c.rate / c.interval for c in slow if c.rcvbuf and c.rate and c.interval
            ]
            report["slow_clients"] = {
                "count": len(slow),
                "rate_kb_per_s": _rounded(statistics.median(rates) / 1e3, 1) if rates else None,
                "fps": _fps_summary(slow),
                "frames": sum(c.window_frames for c in slow),
                "age_intervals": {
                    "p50": _summary_point(ages, 50),
                    "max": _rounded(max(ages, default=None)),
                    "samples": len(ages),
                },
                "client_buffer_intervals": _rounded(max(buffered, default=None)),
            }
        return report

    def table(self) -> str:
        """The report for people: a few aligned lines."""
        data = self.to_json()
        config = self.config
        slow = f" ({config.slow} slow at {config.slow_rate:.0%})" if config.slow else ""
        warmup = f", warm-up {config.warmup:g} s" if config.warmup else ""
        processes = f" in {config.processes} processes" if config.processes > 1 else ""
        rows = [
            f"mjpeg-server bench {config.url}",
            f"  {counted(config.clients, 'client')}{slow} for {config.seconds:g} s"
            f"{warmup}{processes}",
            "",
            f"  {'':24}{'min':>9}{'median':>9}{'p99':>9}{'max':>9}",
            _row("fps per client", data["fps"], "min", "median"),
            _row("latency (ms)", data["latency_ms"], "", "p50", "p99", "max"),
            _row("first frame (ms)", data["first_frame_ms"], "", "p50", "", "max"),
        ]
        slow_data = data["slow_clients"]
        if slow_data:
            rows += [
                _row("slow: fps", slow_data["fps"], "min", "median"),
                _row("slow: age (intervals)", slow_data["age_intervals"], "", "p50", "", "max"),
            ]
            rows.append(
                f"  (of which the slow clients' own receive buffer: up to "
                f"{slow_data['client_buffer_intervals']} intervals)"
            )
        rows += [
            "",
            f"  {counted(data['frames'], 'frame')} ({data['frames_per_s']}/s), "
            f"{data['mb_per_s']} MB/s, {data['dropped']} dropped, "
            f"{counted(data['errors'], 'error')}; "
            f"client CPU {data['client_cpu_percent']} % of a core",
        ]
        rows += [f"  error x{count}: {kind}" for kind, count in data["error_kinds"].items()]
        if slow_data:
            rows.append(
                f"  slow clients read at {slow_data['rate_kb_per_s']} kB/s; "
                "fps and latency above are the other clients'"
            )
        return "\n".join(rows)


def _fps_summary(clients: Sequence[ClientResult]) -> dict[str, float | None]:
    rates = [c.fps for c in clients]
    return {
        "min": _rounded(min(rates, default=None)),
        "median": _rounded(statistics.median(rates) if rates else None),
    }


def _row(label: str, summary: dict[str, Any], *columns: str) -> str:
    """One table row: ``summary[column]`` under each column, blank for ""."""
    cells = [summary[c] if c else "" for c in columns]
    return f"  {label:24}" + "".join(f"{'-' if v is None else v:>9}" for v in cells)
