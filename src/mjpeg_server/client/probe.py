"""``mjpeg-server probe URL``: what an MJPEG stream really sends, for debugging a camera.

Reads the stream for ``--seconds`` (or until it ends) and reports the HTTP status
and Content-Type, the boundary, frame count and rate, frame sizes and
resolutions, latency from ``X-Timestamp`` (which assumes the camera's clock and
this machine's agree), gaps in ``X-Frame-Seq``, JPEGs that lack SOI or EOI, and
every RFC 2046 deviation the tolerant parser had to accept. ``--save DIR`` keeps
the frames as ``000000.jpg``, ``000001.jpg`` … ; ``--json`` prints one JSON object.

Exit status: 0 when the stream was read, 1 with a one-line error on stderr when
it could not be reached or read (the report of what arrived is still printed).
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..stats import percentile
from ..wire.jpeg import is_complete_jpeg, jpeg_size
from ..wire.multipart import DEVIATIONS, ProtocolError
from ..wording import counted
from .stream import HTTPStatusError, NotMultipartError, ReceivedFrame, StreamError, open_stream

__all__ = ["HELP", "Report", "add_arguments", "probe", "run"]

#: ``mjpeg-server probe --help``: plain text for a terminal.
HELP = """\
What an MJPEG stream really sends, for debugging a camera.

Reads the stream for --seconds (or until it ends) and reports the HTTP status
and Content-Type, the boundary, frame count and rate, frame sizes and
resolutions, latency from X-Timestamp (assumes the camera's clock and this
machine's agree), gaps in X-Frame-Seq, JPEGs that lack SOI or EOI, and every
deviation from RFC 2046 the tolerant parser had to accept.

--save DIR keeps the frames as 000000.jpg, 000001.jpg ...; --json prints one
JSON object. Exit status 0 when the stream was read; 1 when it could not be
reached or read: the report of what arrived is still printed, and the error
goes to stderr in one line."""

CLOCK_NOTE = "X-Timestamp against this machine's clock: assumes synchronized clocks"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The probe's command-line arguments (the CLI's ``probe`` subcommand uses them)."""
    parser.add_argument(
        "url", metavar="URL", help="the stream, e.g. http://cam:8080/?action=stream"
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="how long to read (default: 5)")
    parser.add_argument("--save", metavar="DIR", type=Path, help="write each frame as NNNNNN.jpg")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        help="give up after this many seconds without a byte (default: 10)",
    )


@dataclass
class Report:
    """What the probe saw; :meth:`add` takes frames as they come."""

    url: str
    status: str = ""
    content_type: str = ""
    boundary: str = ""
    frames: list[ReceivedFrame] = field(default_factory=list)
    deviations: frozenset[str] = frozenset()
    error: str | None = None

    def add(self, frame: ReceivedFrame) -> None:
        self.frames.append(frame)

    def summary(self) -> dict[str, Any]:
        """The report as plain data (what ``--json`` prints)."""
        frames = self.frames
        sizes = sorted(len(f.jpeg) for f in frames)
        span = frames[-1].received_at - frames[0].received_at if len(frames) > 1 else 0.0
        stamps = [f.timestamp for f in frames if f.timestamp is not None]
        capture_span = stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0
        latencies = sorted(
            (f.received_at - f.timestamp) * 1000 for f in frames if f.timestamp is not None
        )
        seqs = [f.seq for f in frames if f.seq is not None]
        steps = [b - a for a, b in itertools.pairwise(seqs)]
        resolutions = Counter(
            "unknown" if (size := jpeg_size(f.jpeg)) is None else f"{size[0]}x{size[1]}"
            for f in frames
        )
        return {
            "url": self.url,
            "status": self.status,
            "content_type": self.content_type,
            "boundary": self.boundary,
            "frames": len(frames),
            "seconds": round(span, 3),
            "fps": round((len(frames) - 1) / span, 2) if span > 0 else None,
            # From the camera's clock: the capture rate, even for a replayed stream.
            "capture_fps": round((len(stamps) - 1) / capture_span, 2) if capture_span > 0 else None,
            "size_bytes": {"min": sizes[0], "median": statistics.median(sizes), "max": sizes[-1]}
            if sizes
            else None,
            "resolutions": dict(resolutions.most_common()),
            "latency_ms": {
                "p50": round(percentile(latencies, 50), 2),
                "p99": round(percentile(latencies, 99), 2),
                "max": round(latencies[-1], 2),
                "note": CLOCK_NOTE,
            }
            if latencies
            else None,
            "sequence": {
                "gaps": sum(step != 1 for step in steps),
                "missing": sum(step - 1 for step in steps if step > 1),
            }
            if seqs
            else None,
            "incomplete_jpegs": sum(not is_complete_jpeg(f.jpeg) for f in frames),
            "deviations": {name: DEVIATIONS[name] for name in sorted(self.deviations)},
            "error": self.error,
        }

    def text(self) -> str:
        """The report for people: one aligned line per fact."""
        data = self.summary()
        size = data["size_bytes"]
        latency = data["latency_ms"]
        sequence = data["sequence"]
        fps = f"{data['fps']} fps" if data["fps"] is not None else "fps unknown"
        if data["capture_fps"] is not None:
            fps += f" (X-Timestamp: {data['capture_fps']} fps)"
        lines = [
            ("URL", data["url"]),
            ("HTTP", data["status"] or "-"),
            ("Content-Type", data["content_type"] or "-"),
            ("boundary", data["boundary"] or "-"),
            ("frames", f"{data['frames']} in {data['seconds']:.2f} s, {fps}"),
            (
                "frame size",
                f"min {size['min']}, median {size['median']:g}, max {size['max']} bytes"
                if size
                else "-",
            ),
            ("resolution", ", ".join(f"{k} ({v})" for k, v in data["resolutions"].items()) or "-"),
            (
                "latency",
                f"p50 {latency['p50']} ms, p99 {latency['p99']} ms, max {latency['max']} ms "
                f"({CLOCK_NOTE})"
                if latency
                else "no X-Timestamp",
            ),
            (
                "sequence",
                f"{counted(sequence['gaps'], 'gap')} in X-Frame-Seq, "
                f"{counted(sequence['missing'], 'frame')} missing"
                if sequence
                else "no X-Frame-Seq",
            ),
            (
                "incomplete",
                f"{data['incomplete_jpegs']} of {counted(data['frames'], 'JPEG')} lack SOI or EOI",
            ),
        ]
        deviations = [f"{name}: {text}" for name, text in data["deviations"].items()] or ["none"]
        lines += [("deviations" if i == 0 else "", d) for i, d in enumerate(deviations)]
        return "\n".join(f"{name:<13}{value}".rstrip() for name, value in lines)


def probe(url: str, *, seconds: float, timeout: float, save: Path | None = None) -> Report:
    """Read ``url`` for ``seconds`` (or to its end) and report; errors go in ``error``.

    An error before any frame (cannot connect, HTTP error, not multipart) leaves
    the report empty but for the error and what the server said (status, Content-Type).
    """
    report = Report(url)
    if save is not None:
        save.mkdir(parents=True, exist_ok=True)
    try:
        with open_stream(url, timeout=timeout) as stream:
            report.status = f"{stream.status_code} {stream.reason}"
            report.content_type = stream.content_type
            report.boundary = stream.boundary
            deadline = time.monotonic() + seconds
            try:
                for frame in stream.frames():
                    if save is not None:
                        (save / f"{len(report.frames):06d}.jpg").write_bytes(frame.jpeg)
                    report.add(frame)
                    if time.monotonic() >= deadline:
                        break
            finally:
                report.deviations = stream.deviations
    except (StreamError, ProtocolError) as exc:
        report.error = str(exc)
        # What the server said before the stream failed belongs in the report too.
        if isinstance(exc, HTTPStatusError):
            report.status = f"{exc.status_code} {exc.reason}".rstrip()
        elif isinstance(exc, NotMultipartError):
            report.content_type = exc.content_type
    return report


def run(args: argparse.Namespace) -> int:
    """Run the probe for parsed ``args``; print the report; return the exit status."""
    report = probe(args.url, seconds=args.seconds, timeout=args.timeout, save=args.save)
    if args.json:
        print(json.dumps(report.summary(), indent=2))
    else:
        print(report.text())
    if report.error is not None:
        print(f"mjpeg-server probe: error: {report.error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    _parser = argparse.ArgumentParser(
        prog="python -m mjpeg_server.client.probe",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(_parser)
    sys.exit(run(_parser.parse_args()))
