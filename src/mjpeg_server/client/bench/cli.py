"""``mjpeg-server bench URL``: its flags, and the run they ask for.

Goal: the flags are named after :class:`~.config.LoadConfig`'s fields, so the
one check of their values lives there; a bad one ends in one line and exit
status 2. Exit status 0, or 1 if any client reported an error (the report
still comes).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path

from .config import LoadConfig
from .runner import run_load

__all__ = ["HELP", "add_arguments", "run"]

#: ``mjpeg-server bench --help``: plain text for a terminal (the design is in
#: the package docstring).
HELP = """\
Load any MJPEG stream with many concurrent viewers and report what they got.

  mjpeg-server bench URL --clients N --seconds S

opens N streams at once, reads them for S seconds, and reports per client:
  fps          counted from its first frame to the end of the run
  first frame  from the start of its connect to the last byte of its first frame
  latency      arrival of each frame's last byte minus its X-Timestamp (the
               server's clock: meaningful when both run on one machine)
  dropped      gaps in X-Frame-Seq, if the server sends it; else, with
               --loop DIR (the server loops the .jpg files of DIR in name
               order, as mjpg-streamer's input_file.so -e does), gaps in each
               frame's place in that loop, known from its size
  errors       refused or broken connections, HTTP errors, malformed streams

Works against any MJPEG server (mjpg-streamer's /?action=stream too).
--processes P spreads the clients over P processes, so hundreds of streams fit
on two cores. --slow K --slow-rate 0.1 makes K clients read at 10 % of the
stream's bandwidth, as over a slow link; their frames' age beyond transfer
time shows whether the server queues old frames for them."""


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value


_count.__name__ = "whole number"


def _loop_sizes(text: str) -> tuple[int, ...]:
    """The sizes of the ``.jpg`` files of folder ``text``, in name order: the order
    in which mjpg-streamer's ``input_file.so -e`` loops them (name them 001.jpg …
    and ``--camera emulated:DIR`` loops them alike)."""
    folder = Path(text)
    try:
        paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))
        sizes = tuple(p.stat().st_size for p in paths)
    except OSError as error:
        raise argparse.ArgumentTypeError(f"cannot read {text!r}: {error.strerror}") from None
    if not sizes:
        raise argparse.ArgumentTypeError(f"no .jpg files in {text!r}")
    return sizes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add(
        "url",
        help="the stream, e.g. http://127.0.0.1:8000/stream.mjpg or http://cam/?action=stream",
    )
    add("--clients", type=_count, default=1, help="concurrent streams (default %(default)s)")
    add("--seconds", type=float, default=10.0, help="length of the run (default %(default)s)")
    add(
        "--processes",
        type=_count,
        default=1,
        help="spread the clients over this many processes (default %(default)s)",
    )
    add("--slow", type=_count, default=0, metavar="K", help="K of the clients read slowly")
    add(
        "--slow-rate",
        type=float,
        default=0.1,
        metavar="FRACTION",
        help="slow clients read at this fraction of the stream's bandwidth (default %(default)s)",
    )
    add(
        "--warmup",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="leave the first SECONDS out of fps, latency, drops and MB/s (default %(default)s)",
    )
    add(
        "--loop",
        type=_loop_sizes,
        default=(),
        metavar="DIR",
        help="the server loops the .jpg files of DIR in name order: count dropped frames "
        "from each frame's place in that loop (by its size) where the stream has no X-Frame-Seq",
    )
    add("--json", action="store_true", help="print one JSON object instead of the table")


def run(args: argparse.Namespace) -> int:
    try:
        # The flags are named after the fields.
        config = LoadConfig(**{f.name: getattr(args, f.name) for f in fields(LoadConfig)})
    except ValueError as error:
        print(f"mjpeg-server bench: error: {error}", file=sys.stderr)
        return 2
    report = run_load(config)
    print(json.dumps(report.to_json()) if args.json else report.table())
    return 1 if report.errors else 0
