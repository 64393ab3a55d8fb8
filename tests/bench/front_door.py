"""The front door's figures (issue 9 outcomes 1-5, issue 11's TLS cost), on the real server.

    PYTHONPATH=src:tests python -m bench.front_door              # everything, 3 runs
    PYTHONPATH=src:tests python -m bench.front_door --only fixed,tls --runs 1

``tox -e bench`` runs it after the other scenarios. Each scenario starts the
real ``mjpeg-server`` on 1280x720 frames of about 90 KB at 30 fps
(``fixtures/make_frames.py --detail``) and reads the server process from
``/proc``:

* ``idle``: the idle figure of issue 9's 35 MB budget, by one definition:
  ``mjpeg-server --camera emulated --port 0`` started with default flags, its
  ``/healthz`` answered once, the camera closed: VmRSS and threads of the
  process; then again idle after some traffic (pages, status, snapshots, short
  streams) once the camera has closed again;
* ``fixed``: the fixed cost of a frame with one viewer: the server's CPU time
  (every thread, from ``schedstat``, in ns) over a steady window, per frame;
  in the same run, a bare Python process that only wakes on the camera's
  schedule and sends the next part, framed in advance (what Python cannot go
  below on this machine), and mjpg-streamer's, with ``MJPG_STREAMER`` set;
* ``half-open``: 1,000 connections that sent half a request line; how long
  ``/healthz`` takes meanwhile (a new connection per request), against none;
* ``lingering``: 100 clients that got their ``/healthz`` answer and never close
  (half kept alive, half after ``Connection: close``); ``/healthz`` meanwhile;
* ``viewers``: 1,000 viewers (``mjpeg-server bench``, 2 processes): the
  server's threads and RSS, and RSS per viewer over the one-viewer figure;
* ``tls``: 50 viewers over HTTPS and over plain HTTP (the same small asyncio
  reader for both): server CPU per delivered frame;
* ``join``: 300 viewers connecting at once: time to first frame (p50, max),
  from ``mjpeg-server bench``; with ``MJPG_STREAMER`` set (the path of its
  ``mjpg_streamer``; see ``tests/bench/README`` of the side-by-side) mjpg-streamer's
  figure in the same run;
* ``join-cpu``: storms of 300 viewers that leave after their first frame, so
  no fan-out load follows: the server's CPU per joining viewer (every thread,
  less its rate just before) and first frame p50 of a raw-socket client in
  the bench's own process (3 storms, medians).

Nothing is asserted: figures go to ``results/bench/front-door.md`` (and
``.json``), medians of ``--runs``. Run under ``flock /work/team/bench.lock`` on
a shared machine so two benchmarks never overlap.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import selectors
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import requests

from bench.procs import cpu_seconds_between, cpu_times, rss_bytes, threads
from mjpeg_server.stats import percentile
from support.server import ServerProcess
from support.tls import make_certificate
from support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
MAKE_FRAMES = ROOT / "fixtures" / "make_frames.py"
RESULTS = ROOT / "results" / "bench"
FPS = 30
SCENARIOS = ("idle", "fixed", "half-open", "lingering", "viewers", "tls", "join", "join-cpu")


# -- reading the server process -------------------------------------------------------


def rss_kb(pid: int) -> int:
    return rss_bytes([pid]) // 1024


def frames_sent(server: ServerProcess) -> int:
    camera = server.camera_status()
    sent = camera["frames_sent"]
    assert isinstance(sent, int)
    return sent


def healthz_ms(server: ServerProcess, count: int = 50) -> dict[str, float]:
    """Milliseconds for ``count`` /healthz requests, each on a new connection."""
    times = []
    for _ in range(count):
        started = time.perf_counter()
        response = requests.get(server.url("/healthz"), timeout=30, verify=server.verify)
        response.raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    return {"p50": percentile(times, 50), "max": max(times)}


def server(frames: Path, *args: str, **kwargs: Any) -> ServerProcess:
    return ServerProcess(
        "--camera",
        f"emulated:{frames}?fps={FPS}",
        "--idle-timeout",
        "never",
        "--max-clients",
        "1100",
        *args,
        **kwargs,
    )


def steady_cost(server: ServerProcess, seconds: float) -> dict[str, float]:
    """Server CPU per delivered frame over ``seconds`` of whatever load is running."""
    sent, cpu, started = frames_sent(server), cpu_times([server.pid]), time.monotonic()
    time.sleep(seconds)
    sent = frames_sent(server) - sent
    seconds_on_cpu = cpu_seconds_between(cpu, cpu_times([server.pid]))
    elapsed = time.monotonic() - started
    return {
        "us_per_frame": seconds_on_cpu * 1e6 / sent if sent else float("nan"),
        "cpu_percent": 100 * seconds_on_cpu / elapsed,
        "frames_per_s": sent / elapsed,
    }


@contextlib.contextmanager
def load(url: str, clients: int, seconds: float, processes: int = 1) -> Iterator[list[str]]:
    """``mjpeg-server bench`` in the background; yields a list that gets its JSON."""
    command = [
        sys.executable, "-m", "mjpeg_server", "bench", url, "--clients", str(clients),
        "--seconds", str(seconds), "--processes", str(processes), "--json",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    output: list[str] = []
    try:
        yield output
        out, _ = process.communicate(timeout=seconds + 120)
        output.append(out)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


# -- the scenarios ---------------------------------------------------------------------


def idle(frames: Path, args: argparse.Namespace) -> dict[str, Any]:
    # ServerProcess returns once /healthz has answered; nothing has opened the camera.
    with ServerProcess("--camera", "emulated") as s:
        start = {"rss_kb": rss_kb(s.pid), "threads": threads([s.pid])}
        assert s.camera_status()["state"] == "idle"
    with server(frames, "--idle-timeout", "1") as s:
        for _ in range(20):
            for path in ("/", "/status", "/snapshot.jpg"):
                requests.get(s.url(path), timeout=30).raise_for_status()
        for _ in range(10):
            with requests.get(s.url("/stream.mjpg"), stream=True, timeout=30) as response:
                response.raw.read(200_000)
        wait_until(lambda: s.camera_status()["state"] == "idle", 30)
        time.sleep(2)
        after = {"rss_kb": rss_kb(s.pid), "threads": threads([s.pid])}
    return {"start": start, "after_traffic": after}


def fixed(frames: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The fixed cost of a frame with one viewer: ours, a bare Python floor, and
    mjpg-streamer's (with ``MJPG_STREAMER``), in the same run."""
    results: dict[str, Any] = {}
    with server(frames) as s, load(s.url("/stream.mjpg"), 1, args.seconds + 6):
        wait_until(lambda: s.status()["clients"] == 1, 30)
        time.sleep(3)
        results["ours"] = steady_cost(s, args.seconds)
    results["python_floor"] = _python_floor(frames, args.seconds)
    binary = os.environ.get("MJPG_STREAMER")
    if binary:
        with _mjpg_streamer(Path(binary), frames) as (url, pid), load(url, 1, args.seconds + 6):
            time.sleep(3)
            results["mjpg-streamer"] = _cost_at_camera_rate(pid, args.seconds)
        results["ours_over_mjpg_streamer"] = (
            results["ours"]["us_per_frame"] / results["mjpg-streamer"]["us_per_frame"]
        )
    return results


def _cost_at_camera_rate(pid: int, seconds: float) -> dict[str, float]:
    """CPU per frame of a process that sends one viewer every frame (FPS a second)."""
    before, started = cpu_times([pid]), time.monotonic()
    time.sleep(seconds)
    seconds_on_cpu = cpu_seconds_between(before, cpu_times([pid]))
    frames = FPS * (time.monotonic() - started)
    return {"us_per_frame": seconds_on_cpu * 1e6 / frames}


def _python_floor(frames: Path, seconds: float) -> dict[str, float]:
    """What Python cannot go below here: a process that only wakes on the
    camera's schedule and sends one viewer the next part, framed in advance
    (:data:`_FLOOR`). What the server spends above it is its own work."""
    process = subprocess.Popen(
        [sys.executable, "-c", _FLOOR, str(frames), str(int(FPS * (seconds + 8)))],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        with socket.create_connection(("127.0.0.1", port), timeout=30) as viewer:
            reader = threading.Thread(target=_drain, args=(viewer,), daemon=True)
            reader.start()
            time.sleep(3)
            return _cost_at_camera_rate(process.pid, seconds)
    finally:
        process.kill()
        process.wait(10)


def _drain(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while sock.recv(1 << 20):
            pass


# One wake-up on a deadline (as the emulated camera waits: a lock with a
# timeout, so that closing can wake it) and one send() per frame; nothing else.
_FLOOR = """
import pathlib, socket, sys, threading, time
frames = [p.read_bytes() for p in sorted(pathlib.Path(sys.argv[1]).glob("*.jpg"))]
parts = [b"--f\\r\\nContent-Type: image/jpeg\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(f)
         + f + b"\\r\\n" for f in frames]
listener = socket.create_server(("127.0.0.1", 0))
print(listener.getsockname()[1], flush=True)
viewer, _ = listener.accept()
gate = threading.Lock()
gate.acquire()
start = time.monotonic()
for n in range(int(sys.argv[2])):
    gate.acquire(timeout=max(0.0, start + n / 30 - time.monotonic()))
    viewer.sendall(parts[n % len(parts)])
"""


def _healthz_while(
    frames: Path, connect: Callable[[ServerProcess, int], socket.socket], count: int
) -> dict[str, Any]:
    """/healthz before and while ``count`` connections made by ``connect`` stay open."""
    with server(frames) as s:
        before = healthz_ms(s)
        sockets = []
        try:
            for index in range(count):
                sockets.append(connect(s, index))
            during = healthz_ms(s)
            held = s.status()["front_door"]
        finally:
            for sock in sockets:
                sock.close()
    return {"healthz_ms_before": before, "healthz_ms_during": during, "front_door": held}


def half_open(frames: Path, args: argparse.Namespace) -> dict[str, Any]:
    def connect(s: ServerProcess, index: int) -> socket.socket:
        sock = socket.create_connection(s.address, timeout=30)
        sock.sendall(b"GET / HTTP/1.1\r\n")
        return sock

    return _healthz_while(frames, connect, 1000)


def lingering(frames: Path, args: argparse.Namespace) -> dict[str, Any]:
    def connect(s: ServerProcess, index: int) -> socket.socket:
        sock = socket.create_connection(s.address, timeout=30)
        close = b"Connection: close\r\n" if index % 2 else b""
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: bench\r\n" + close + b"\r\n")
        sock.recv(4096)  # the answer; then the client just stays
        return sock

    return _healthz_while(frames, connect, 100)


def viewers(frames: Path, args: argparse.Namespace) -> dict[str, Any]:
    with server(frames) as s:
        with load(s.url("/stream.mjpg"), 1, args.seconds + 6):
            wait_until(lambda: s.status()["clients"] == 1, 30)
            time.sleep(3)
            one = rss_kb(s.pid)
        wait_until(lambda: s.status()["clients"] == 0, 30)
        with load(s.url("/stream.mjpg"), 1000, args.seconds + 20, processes=2) as out:
            wait_until(lambda: s.status()["clients"] == 1000, 60, interval=0.2)
            time.sleep(3)
            cost = steady_cost(s, args.seconds)
            many, count = rss_kb(s.pid), threads([s.pid])
        report = json.loads(out[0])
    return {
        "threads": count,
        "rss_kb_one_viewer": one,
        "rss_kb_1000_viewers": many,
        "rss_kb_per_viewer": (many - one) / 999,
        "fps_slowest": report.get("fps", {}).get("min"),
        "dropped": report.get("dropped"),
        **cost,
    }


async def _read_streams(url: str, clients: int, seconds: float, cafile: str | None) -> int:
    """``clients`` streams read as fast as they come for ``seconds``; parts received."""
    host, port = url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)
    context = ssl.create_default_context(cafile=cafile) if cafile else None
    delimiter = b"\r\n--mjpegframe\r\n"
    counts = [0] * clients

    async def one(index: int) -> None:
        reader, writer = await asyncio.open_connection(host, int(port), ssl=context)
        writer.write(b"GET /stream.mjpg HTTP/1.1\r\nHost: bench\r\n\r\n")
        tail = b""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            chunk = await reader.read(262144)
            if not chunk:
                break
            data = tail + chunk
            counts[index] += data.count(delimiter)
            tail = data[-len(delimiter) :]
        writer.close()

    await asyncio.gather(*(one(i) for i in range(clients)))
    return sum(counts)


def tls(frames: Path, args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        cert, key = make_certificate(Path(folder))
        for name, extra, cafile in (
            ("plain", (), None),
            ("tls", ("--tls-cert", str(cert), "--tls-key", str(key)), str(cert)),
        ):
            with server(frames, *extra, verify=cafile or True) as s:
                reader = subprocess.Popen(
                    [sys.executable, "-c", _READER, s.url("/stream.mjpg"), str(args.seconds + 8),
                     cafile or ""],
                )  # fmt: skip
                try:
                    wait_until(lambda s=s: s.status()["clients"] == 50, 60, interval=0.2)
                    time.sleep(3)
                    results[name] = steady_cost(s, args.seconds)
                finally:
                    reader.wait(args.seconds + 60)
    results["tls_over_plain"] = results["tls"]["us_per_frame"] / results["plain"]["us_per_frame"]
    return results


_READER = f"""
import asyncio, sys
sys.path[:0] = {[str(ROOT / "tests"), str(ROOT / "src")]!r}
from bench.front_door import _read_streams
asyncio.run(_read_streams(sys.argv[1], 50, float(sys.argv[2]), sys.argv[3] or None))
"""


def join(frames: Path, args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with server(frames) as s:
        results["ours"] = _join_storm(s.url("/stream.mjpg"))
    binary = os.environ.get("MJPG_STREAMER")
    if binary:
        results["mjpg-streamer"] = _join_mjpg_streamer(Path(binary), frames)
        results["ours_over_mjpg_streamer"] = (
            results["ours"]["p50"] / results["mjpg-streamer"]["p50"]
        )
    return results


def _join_storm(url: str) -> dict[str, float]:
    with load(url, 300, 6, processes=2) as out:
        pass
    first = json.loads(out[0])["first_frame_ms"]
    return {"p50": first["p50"], "max": first["max"]}


def _join_mjpg_streamer(binary: Path, frames: Path) -> dict[str, float]:
    with _mjpg_streamer(binary, frames) as (url, _):
        return _join_storm(url)


@contextlib.contextmanager
def _mjpg_streamer(binary: Path, frames: Path) -> Iterator[tuple[str, int]]:
    """mjpg-streamer looping ``frames`` at FPS, once it answers: its stream URL and pid."""
    plugins = binary.parent.parent / "lib" / "mjpg-streamer"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [str(binary), "-i", f"{plugins / 'input_file.so'} -f {frames}/ -e -d {1 / FPS:.4f}",
         "-o", f"{plugins / 'output_http.so'} -p {port}"],
        env={**os.environ, "LD_LIBRARY_PATH": str(plugins)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/?action=stream"

        def answers() -> bool:
            try:
                with requests.get(url, stream=True, timeout=5) as response:
                    return bool(response.raw.read(1000))
            except requests.RequestException:
                return False

        wait_until(answers, 30)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(10)


def join_cpu(frames: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Storms of 300 viewers that leave after their first frame, so no fan-out load
    follows: server CPU per joining viewer (every thread, less the rate before the
    storm) and first frame p50 of a plain client in this process."""
    storms = []
    with server(frames) as s:
        _first_frames(s.address, 300)  # the camera opens, imports are done
        for _ in range(3):
            cpu, started = cpu_times([s.pid]), time.monotonic()
            time.sleep(1.0)
            idle_rate = cpu_seconds_between(cpu, cpu_times([s.pid])) / (time.monotonic() - started)
            cpu, started = cpu_times([s.pid]), time.monotonic()
            firsts = _first_frames(s.address, 300)
            wait_until(lambda s=s: s.status()["clients"] == 0, 30)  # the closes are seen
            spent = cpu_seconds_between(cpu, cpu_times([s.pid]))
            spent -= idle_rate * (time.monotonic() - started)
            storms.append(
                {"us_per_join": spent * 1e6 / 300, "first_p50_ms": percentile(firsts, 50)}
            )
    return medians(storms)


def _first_frames(address: tuple[str, int], count: int) -> list[float]:
    """Milliseconds from the start of the storm to each viewer's first whole frame;
    ``count`` raw sockets connect at once, each closes after its first frame."""
    request = b"GET /stream.mjpg HTTP/1.1\r\nHost: bench\r\n\r\n"
    selector = selectors.DefaultSelector()
    received: dict[socket.socket, bytearray | None] = {}
    firsts: list[float] = []
    started = time.monotonic()
    for _ in range(count):
        sock = socket.socket()
        sock.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            sock.connect(address)
        selector.register(sock, selectors.EVENT_WRITE)
        received[sock] = None
    while len(firsts) < count:
        if time.monotonic() - started > 30:
            raise RuntimeError("join storm: not every viewer got a frame in 30 s")
        for key, _ in selector.select(1.0):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            data = received[sock]
            if data is None:
                sock.send(request)
                received[sock] = bytearray()
                selector.modify(sock, selectors.EVENT_READ)
                continue
            chunk = sock.recv(256 * 1024)
            if not chunk:
                raise RuntimeError("join storm: the server closed a stream")
            data += chunk
            if _has_whole_frame(data):
                firsts.append((time.monotonic() - started) * 1000)
                selector.unregister(sock)
                sock.close()
    selector.close()
    return firsts


def _has_whole_frame(data: bytearray) -> bool:
    """The response head, the first part's headers and Content-Length bytes are in."""
    head_end = data.find(b"\r\n\r\n")
    part_end = data.find(b"\r\n\r\n", head_end + 4) if head_end >= 0 else -1
    if part_end < 0:
        return False
    headers = bytes(data[head_end + 4 : part_end]).split(b"\r\n")
    length = next(
        int(h.split(b":")[1]) for h in headers if h.lower().startswith(b"content-length:")
    )
    return len(data) - (part_end + 4) >= length


# -- running and reporting -------------------------------------------------------------


def make_frames(folder: Path) -> None:
    subprocess.run(
        [sys.executable, str(MAKE_FRAMES), str(folder), "--size", "1280x720", "--detail"],
        check=True,
        capture_output=True,
    )


RUNNERS: dict[str, Callable[[Path, argparse.Namespace], dict[str, Any]]] = {
    "idle": idle,
    "fixed": fixed,
    "half-open": half_open,
    "lingering": lingering,
    "viewers": viewers,
    "tls": tls,
    "join": join,
    "join-cpu": join_cpu,
}


def medians(runs: list[Any]) -> Any:
    """The median of each number across runs, keeping the structure."""
    first = runs[0]
    if isinstance(first, dict):
        return {key: medians([run[key] for run in runs]) for key in first}
    if isinstance(first, int | float) and not isinstance(first, bool):
        return statistics.median(runs)
    return first


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.front_door", description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0, help="steady window per figure")
    parser.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated scenarios")
    args = parser.parse_args(argv)
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))  # 1,000 sockets
    chosen = [name for name in args.only.split(",") if name]
    raw: dict[str, list[Any]] = {name: [] for name in chosen}
    with tempfile.TemporaryDirectory() as folder:
        frames = Path(folder)
        make_frames(frames)
        for run in range(args.runs):
            for name in chosen:
                result = RUNNERS[name](frames, args)
                raw[name].append(result)
                print(f"run {run + 1} {name}: {json.dumps(result)}", flush=True)
    summary = {name: medians(results) for name, results in raw.items()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "front-door.json").write_text(
        json.dumps({"runs": args.runs, "seconds": args.seconds, "medians": summary, "raw": raw},
                   indent=2) + "\n"
    )  # fmt: skip
    lines = [f"# Front door figures (medians of {args.runs} runs)", ""]
    lines += [f"- **{name}**: `{json.dumps(result)}`" for name, result in summary.items()]
    (RESULTS / "front-door.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
