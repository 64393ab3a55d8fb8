"""What a server process tree costs, read from ``/proc``: CPU time, memory,
threads, and how many connections it holds. Linux only, like the servers measured."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from support.server import child_pids

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
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


def cpu_seconds(pids: Sequence[int]) -> float:
    """utime + stime of each process (all its threads), summed: what the kernel
    charged the server, in user space and in the kernel (its send copies)."""
    total = 0
    for pid in pids:
        fields = _stat_fields(pid)
        total += int(fields[11]) + int(fields[12])  # utime, stime (stat fields 14, 15)
    return total / CLOCK_TICKS


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
