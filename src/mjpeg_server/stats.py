"""Summary statistics the tools report: one percentile for the probe, the bench and the tests.

Goal: the same data gives the same p50 and p99 wherever it is summarised
(``mjpeg-server probe``, ``mjpeg-server bench``, the HIL suite). No I/O; cost
is one sort of the values.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from fractions import Fraction

__all__ = ["percentile"]


def percentile(values: Iterable[float], q: float) -> float:
    """The ``q``-th percentile (``0 <= q <= 100``) of ``values``, by the nearest-rank method.

    The smallest value that at least ``q`` % of the values are less than or
    equal to: sorted ascending, the value at 1-based rank ``ceil(q / 100 * n)``;
    ``q = 0`` gives the smallest value, ``q = 100`` the largest.

    Why nearest rank, not linear interpolation between ranks:

    * it is always a value that was observed: a p99 latency is the latency of
      some frame, not a blend of two that no frame had;
    * it is conservative where samples are few: with fewer than 100 values, p99
      is the largest, so a "p99 below X" check cannot pass by interpolating
      between the worst sample and the next;
    * it needs no convention for ranks that fall between samples (there are
      nine in common use), so any tool, or a reader with a sorted list, gets
      the same figure.

    ``q`` is taken as the decimal it prints as (``99.9`` is 999/10, not the
    nearest binary fraction), so ranks never shift by floating-point noise
    (``0.07 * 100`` is ``7.000000000000001`` in floats).

    Raises ``ValueError`` when there are no values or ``q`` is outside
    [0, 100] (or NaN). NaN among the values leaves their order, and so the
    result, undefined: leave them out first. Cost: a sort, O(n log n), O(n)
    for values already in order.
    """
    if not 0 <= q <= 100:
        raise ValueError(f"percentile: q must be between 0 and 100, got {q!r}")
    ordered = sorted(values)
    if not ordered:
        raise ValueError("percentile of no values")
    rank = math.ceil(Fraction(str(q)) * len(ordered) / 100)
    return ordered[max(rank, 1) - 1]
