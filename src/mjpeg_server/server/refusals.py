"""Refusals in the log: the first one at once, then one line per interval with a count.

A server at its limit refuses every new viewer, and a page that retries, or a
crowd arriving at once, makes hundreds of refusals a minute. One WARNING each
buries everything else in the log (and wears an SD card); none at all hides
that viewers are being turned away. So each kind of refusal is logged when it
first happens, and the ones that follow within ``interval`` seconds are counted
and logged as one line when the interval is over::

    refused a stream: 32 streams already open (more within 10 s are counted)
    refused 57 more streams in the last 10 s: 32 streams already open

The summary is written by a timer (a thread that exists only while refusals
are being counted) or by :meth:`RefusalLog.flush`, which the server calls when
it stops, so no count is lost.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..wording import counted

__all__ = ["RefusalLog"]

#: Seconds over which repeated refusals of one kind are counted into one line.
SUMMARY_INTERVAL = 10.0


def _timer(delay: float, action: Callable[[], None]) -> None:
    timer = threading.Timer(delay, action)
    timer.name = "refusal-summary"
    timer.daemon = True  # a pending summary never delays exit; close() flushes it
    timer.start()


@dataclass
class _Kind:
    #: When the current interval started (the last line written for this kind).
    since: float
    #: Refusals counted and not yet written.
    count: int = 0


class RefusalLog:
    """Logs refusals of each kind (``what`` + ``why``) at most once per ``interval``."""

    def __init__(
        self,
        logger: logging.Logger,
        *,
        interval: float = SUMMARY_INTERVAL,
        level: int = logging.WARNING,
        clock: Callable[[], float] = time.monotonic,
        schedule: Callable[[float, Callable[[], None]], None] = _timer,
    ) -> None:
        self.logger = logger
        self.interval = interval
        self.level = level
        self.clock = clock
        self._schedule = schedule
        self._lock = threading.Lock()
        self._kinds: dict[tuple[str, str], _Kind] = {}
        self._scheduled = False

    def refused(self, what: str, why: str) -> None:
        """One refusal: ``what`` was refused (``"stream"``) because ``why``."""
        now = self.clock()
        lines: list[tuple[object, ...]] = []
        schedule_in: float | None = None
        with self._lock:
            kind = self._kinds.get((what, why))
            if kind is None or (now - kind.since >= self.interval and not kind.count):
                # The first of its kind for an interval: said at once.
                self._kinds[(what, why)] = _Kind(since=now)
                first = "refused a %s: %s (more within %g s are counted)"
                lines.append((first, what, why, self.interval))
            else:
                if now - kind.since >= self.interval:  # the timer is late: write its line
                    lines.append(self._summary_locked(what, why, kind, now))
                kind.count += 1
                if not self._scheduled:
                    self._scheduled = True
                    schedule_in = max(0.0, kind.since + self.interval - now)
        self._write(lines)
        if schedule_in is not None:
            self._schedule(schedule_in, self._on_timer)

    def _on_timer(self) -> None:
        with self._lock:
            self._scheduled = False
        self.flush(only_due=True)
        with self._lock:
            pending = [kind.since for kind in self._kinds.values() if kind.count]
            if not pending or self._scheduled:
                return
            self._scheduled = True
            due = min(pending) + self.interval
        self._schedule(max(0.0, due - self.clock()), self._on_timer)

    def flush(self, *, only_due: bool = False) -> None:
        """Write the counted refusals now (all of them, or those whose interval is over)."""
        now = self.clock()
        with self._lock:
            lines = [
                self._summary_locked(what, why, kind, now)
                for (what, why), kind in self._kinds.items()
                if kind.count and (not only_due or now - kind.since >= self.interval)
            ]
        self._write(lines)

    def _summary_locked(self, what: str, why: str, kind: _Kind, now: float) -> tuple[object, ...]:
        line = (
            "refused %s in the last %.0f s: %s",
            counted(kind.count, f"more {what}"),
            now - kind.since,
            why,
        )
        kind.count = 0
        kind.since = now
        return line

    def _write(self, lines: list[tuple[object, ...]]) -> None:
        # Outside the lock: a slow log handler must not hold up other refusals.
        for message, *args in lines:
            self.logger.log(self.level, str(message), *args)
