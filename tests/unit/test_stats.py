"""The one percentile: nearest rank, its edge cases, and the definition as a property."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mjpeg_server.stats import percentile

HUNDRED = [float(v) for v in range(1, 101)]


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([3.0], 0, 3.0),
        ([3.0], 50, 3.0),
        ([3.0], 100, 3.0),
        ([1.0, 2.0, 3.0, 4.0], 50, 2.0),  # nearest rank: an observed value, not 2.5
        ([1.0, 2.0, 3.0, 4.0], 25, 1.0),
        ([1.0, 2.0, 3.0, 4.0], 25.5, 2.0),
        ([1.0, 2.0, 3.0, 4.0], 75, 3.0),
        ([1.0, 2.0, 3.0, 4.0], 100, 4.0),
        ([1.0, 2.0, 3.0, 4.0], 0, 1.0),
        (HUNDRED, 99, 99.0),
        (HUNDRED, 50, 50.0),
        (HUNDRED, 1, 1.0),
        (HUNDRED, 0.5, 1.0),
        (HUNDRED, 7, 7.0),  # 0.07 * 100 is 7.000000000000001 in floats: still rank 7
        (HUNDRED, 57, 57.0),
        ([float(v) for v in range(1, 1001)], 99.9, 999.0),
        ([5.0, 1.0, 4.0, 2.0, 3.0], 60, 3.0),  # any order in
        (list(range(10)), 95, 9),  # ints too
        (HUNDRED[:50], 99, 50.0),  # fewer than 100 values: p99 is the largest
    ],
)
def test_nearest_rank(values: list[float], q: float, expected: float) -> None:
    assert percentile(values, q) == expected


def test_takes_any_iterable_and_leaves_it_alone() -> None:
    values = [3.0, 1.0, 2.0]
    assert percentile(iter(values), 50) == 2.0
    assert percentile(values, 50) == 2.0
    assert values == [3.0, 1.0, 2.0]


@pytest.mark.parametrize("q", [-0.1, 100.1, float("nan"), float("inf")])
def test_q_outside_0_100_is_an_error(q: float) -> None:
    with pytest.raises(ValueError, match="between 0 and 100"):
        percentile([1.0], q)


def test_no_values_is_an_error() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)


@given(
    values=st.lists(st.integers(-1000, 1000), min_size=1, max_size=200),
    q=st.integers(0, 1000).map(lambda tenths: tenths / 10),
)
def test_the_definition(values: list[int], q: float) -> None:
    """At least q % of the values are <= the result, and fewer than q % are below it."""
    result = percentile(values, q)
    share = Fraction(str(q)) / 100 * len(values)
    assert result in values
    assert sum(v <= result for v in values) >= share
    if q > 0:
        assert sum(v < result for v in values) < share
    else:
        assert result == min(values)
