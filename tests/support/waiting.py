"""Waiting on conditions with deadlines, never sleeping and hoping."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: Seconds any one wait in a test may take before it counts as a hang: a liveness
#: bound, never a performance claim, so generous that a loaded 2-core CI box
#: shared with other test runs never reaches it. The one definition every suite
#: uses. ``tox -e mutation`` lowers it (MJPEG_TEST_LIVENESS): there a hang is a
#: mutant the tests caught, and waiting the full bound for each would take hours.
LIVENESS = float(os.environ.get("MJPEG_TEST_LIVENESS", "30"))


class Timeout(AssertionError):
    """A condition did not become true before its deadline."""


def wait_until(
    condition: Callable[[], T], timeout: float, *, interval: float = 0.01, message: str = ""
) -> T:
    """Poll ``condition`` until it returns something truthy; return that value.

    ``timeout`` is a liveness bound, not a performance claim: make it generous.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise Timeout(message or f"condition not met within {timeout} s: {condition!r}")
        time.sleep(interval)


class ManualClock:
    """A clock that stands still until the test moves it (``clock.now += 1``): hubs
    and cameras given it count and number exactly, with nothing timed."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now
