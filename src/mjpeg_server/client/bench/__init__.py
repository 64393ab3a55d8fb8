"""Load any MJPEG stream with many concurrent viewers and report what they got.

``mjpeg-server bench URL --clients N --seconds S`` opens N streams at once and
reads them for S seconds. Each client measures, from the bytes it receives:

* **fps**, counted from its first frame to the end of the run;
* **time to first frame**: from the start of its connect to the last byte of
  its first frame;
* **latency** of each frame: when its last byte was received minus its
  ``X-Timestamp`` (capture time on the server's clock: meaningful when client
  and server share a clock, as on one machine), if the server sends one;
* **dropped** frames: gaps in ``X-Frame-Seq``, if the server sends it; else,
  with ``--loop DIR`` (the server loops the ``.jpg`` files of DIR, as
  mjpg-streamer's ``input_file.so -e`` does), gaps in each frame's place in
  that loop, known from its size;
* **errors**: refused or broken connections, HTTP errors, malformed streams, a
  stream the server ends before the run does, a client that got no frame.

It works against any server: chunked HTTP/1.1 and close-delimited HTTP/1.0
responses, mjpg-streamer's ``/?action=stream``, no sequence header (no drops
are counted then), no timestamp (no latency then).

**Cheap clients.** The measuring side must cost far less than the server it
measures (this runs on the same box). Each client is an asyncio
``BufferedProtocol`` on a raw socket: no stream reader, no per-read future, no
HTTP library; one bytes copy per read, then the kit's sans-I/O parsers.
``--processes P`` spreads the clients over P processes (each with its own event
loop) and merges their results, so hundreds of full-rate 720p streams fit on a
small machine. The report shows the clients' own CPU.

**Slow clients.** ``--slow K --slow-rate 0.1`` makes K of the clients read at
10 % of the stream's bandwidth, as over a slow link: each sets a tiny
``SO_RCVBUF`` before connecting, reads its first frames at full speed to measure
the stream, then reads through a token bucket at that fraction. For them the
report gives the frames' **age beyond transfer time**: (last byte received -
X-Timestamp) - (frame bytes / client rate), in frame intervals; the time a
frame needs to cross the slow link is the link's fault, anything beyond is
time it waited in the server or in buffers. The other clients' figures are
reported separately, so a slow client that slows everyone shows.

The client's own kernel buffer is part of that age (it is the emulated link's
queue, which a real viewer's app keeps empty), hence tiny (``SLOW_RCVBUF``): at
a tenth of a 720p stream's rate, a few tens of KiB of receive buffer already
hold several frame intervals on their own (README §Performance has the
figures). The report gives that share (``client_buffer_intervals``: the
effective buffer at the client's rate, an upper bound) so the server's part
can be read.

``--warmup W`` leaves the first W seconds out of fps, latency, drops and MB/s
(not out of time to first frame): a run that starts hundreds of clients at once
measures their arrival first, and a benchmark wants the steady state.

Exit status: 0, or 1 if any client reported an error (the report still comes).

The package, by job: ``config`` (what a run is asked to do), ``results`` (what
a client measured), ``recorder`` (one client's stream parsed and measured,
sans-I/O; the HTTP response through :mod:`mjpeg_server.wire.http1`),
``runner`` (the asyncio clients and processes), ``report`` (the figures),
``cli`` (the flags).
"""

from __future__ import annotations

from .cli import HELP, add_arguments, run
from .config import LoadConfig
from .recorder import SLOW_WARMUP_FRAMES, StreamRecorder
from .report import Report
from .results import ClientResult
from .runner import SLOW_RCVBUF, join_times, run_load

__all__ = [
    "HELP",
    "SLOW_RCVBUF",
    "SLOW_WARMUP_FRAMES",
    "ClientResult",
    "LoadConfig",
    "Report",
    "StreamRecorder",
    "add_arguments",
    "join_times",
    "run",
    "run_load",
]
