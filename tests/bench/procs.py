"""What a server process tree costs, read from ``/proc``: CPU time, memory,
threads, and how many connections it holds. Linux only, like the servers measured."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path

from support.server import child_pids

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
# /proc/net/tcp's state column: 01 is ESTABLISHED.
_ESTABLISHED = "01"


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants (a gunicorn master and its worker, or one process)."""
    pids = [pid]
    for child in child_pids(pid):
        pids += tree(child)
    return pids


def _stat_fields(pid: int) -> list[str]:
    # The fields after the command name, which is in parentheses and may hold spaces.
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()


#: A snapshot of CPU time so far, in ns, per thread: ``(pid, tid) -> ns``.
CpuTimes = dict[tuple[int, int], int]


def cpu_times(pids: Sequence[int]) -> CpuTimes:
    """Time on CPU so far of every thread of each process, in ns, from
    ``/proc/PID/task/TID/schedstat``: in user space and in the kernel (its send
    copies). Not ``/proc/PID/stat``'s utime + stime: they count 10 ms ticks, and
    one viewer's whole window (150 frames of about 0.2-0.6 ms) is 3 to 9 ticks,
    so the fixed cost of a frame came out in steps of a third."""
    times: CpuTimes = {}
    for pid in pids:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):  # it ended
                schedstat = Path(f"/proc/{pid}/task/{tid}/schedstat").read_text()
                times[pid, int(tid)] = int(schedstat.split()[0])
    return times


def cpu_seconds_between(before: CpuTimes, after: CpuTimes) -> float:
    """CPU seconds the threads spent from ``before`` to ``after``. A thread that
    started meanwhile counts whole; one that ended meanwhile loses its time in
    the window (the servers measured keep their threads for a stream's life)."""
    return sum(ns - before.get(thread, 0) for thread, ns in after.items()) / 1e9


def rss_bytes(pids: Sequence[int]) -> int:
    return sum(int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE for pid in pids)


def threads(pids: Sequence[int]) -> int:
    return sum(int(_stat_fields(pid)[17]) for pid in pids)  # num_threads (stat field 20)


def established(port: int) -> int:
    """TCP connections in ESTABLISHED state whose local port is ``port``: the
    clients a server on that port has accepted (or the kernel has, for it)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            local, state = fields[1], fields[3]
            if state == _ESTABLISHED and int(local.rpartition(":")[2], 16) == port:
                count += 1
    return count
