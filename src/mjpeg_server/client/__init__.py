"""The client side: read any MJPEG stream, and the tools built on that.

- ``stream``: :func:`iter_frames` and :func:`open_stream`, a thin I/O loop
  around the sans-I/O parser (``mjpeg_server.wire``);
- ``errors``: the error types, and the one wording every tool uses for a failure;
- ``probe``: ``mjpeg-server probe URL``, what a stream really sends;
- ``bench``: ``mjpeg-server bench URL``, many concurrent viewers and what they got
  (a package: config, results, recorder, runner, report, cli).
"""

from .errors import (
    HTTPStatusError,
    NotMultipartError,
    StreamConnectionError,
    StreamError,
    StreamTimeout,
)
from .stream import MJPEGStream, ReceivedFrame, iter_frames, open_stream

__all__ = [
    "HTTPStatusError",
    "MJPEGStream",
    "NotMultipartError",
    "ReceivedFrame",
    "StreamConnectionError",
    "StreamError",
    "StreamTimeout",
    "iter_frames",
    "open_stream",
]
