"""Load any MJPEG stream with many concurrent viewers and report what they got.

Work in progress (issue 5): the interface is fixed, the measurement follows.
"""

from __future__ import annotations

import argparse

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", help="the stream URL, e.g. http://127.0.0.1:8000/stream.mjpg")
    parser.add_argument("--clients", type=int, default=1, help="concurrent streams")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long each stream reads")


def run(args: argparse.Namespace) -> int:
    print("mjpeg-server bench: not implemented yet")
    return 2
