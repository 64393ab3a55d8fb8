"""SIGTERM stops the server whichever of its threads the kernel hands it to.

A signal sent to a process is delivered to one of its threads, usually but not
always the main one; Python runs the handler only when the main thread runs
bytecode. A main thread asleep in a lock wait never noticed a SIGTERM that
landed on the event loop's thread: the server ran on (found with the front
door refusing connections, which starts a timer thread, about one time in
three). Here the signal is sent to each thread in turn with ``tgkill``, which
is what the kernel's choice amounts to.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess

import pytest

from support.server import ServerProcess
from support.waiting import LIVENESS

_libc = ctypes.CDLL(None, use_errno=True)


def tgkill(pid: int, tid: int, sig: int) -> None:
    if _libc.tgkill(pid, tid, sig) != 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_on_any_thread_stops_the_server(sig: int) -> None:
    with ServerProcess("--camera", "emulated?fps=10") as server:
        pid = server.pid
        others = sorted(int(tid) for tid in os.listdir(f"/proc/{pid}/task") if int(tid) != pid)
        assert others, "the server runs its event loop on a thread of its own"
        tgkill(pid, others[0], sig)
        try:
            returncode = server._require().wait(LIVENESS)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the server ignored signal {sig} that reached thread {others[0]}")
        assert returncode == 0
