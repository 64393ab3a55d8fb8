"""Product promises ("back within 5 s") checked on a shared, loaded CI machine.

A promise is asserted with a slack factor on top, so that a busy 2-core runner
does not fail it by chance; the measured times are kept, so that a drift shows
in the artifacts long before it breaks the promise by the factor.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .waiting import wait_until

#: How much slower than promised a loaded CI box may be before it counts as broken.
CI_SLACK = 3.0


@dataclass
class Promises:
    slack: float = CI_SLACK
    #: "what (promise N s)" → measured seconds, one entry per check.
    measured: dict[str, list[float]] = field(default_factory=dict)

    def keep(self, what: str, seconds: float, condition: Callable[[], object]) -> float:
        """Wait until ``condition`` holds, which ``what`` promises within ``seconds``;
        fail after ``seconds * slack``. Returns the measured time."""
        started = time.monotonic()
        wait_until(
            condition,
            seconds * self.slack,
            message=f"{what}: promised within {seconds} s, "
            f"not done after {seconds * self.slack:g} s ({self.slack:g}x CI slack)",
        )
        elapsed = time.monotonic() - started
        self.measured.setdefault(f"{what} (promise {seconds:g} s)", []).append(round(elapsed, 3))
        return elapsed
