"""Bucketed averages and the sliding maximum, with the scenarios of Knative's own tests
(pkg/autoscaler/aggregation/bucketing_test.go, aggregation/max/*_test.go)."""

from __future__ import annotations

import math

import pytest

from zeroserve.autoscaler.aggregation import (
    MIN_EXPONENT,
    MaxTimeWindow,
    TimedBuckets,
    WeightedBuckets,
    go_round,
    round_to_digits,
    smoothing_coeff,
)

T0 = 1_700_000_000.25  # a "time.Now()" with a fractional second


@pytest.mark.parametrize(
    ("x", "want"),
    [
        pytest.param(0.5, 1.0, id="half-up"),
        pytest.param(-0.5, -1.0, id="negative-half-away"),
        pytest.param(2.5, 3.0, id="even-half-away-not-banker"),
        pytest.param(0.49999999999999994, 0.0, id="just-below-half"),
        pytest.param(-2.4, -2.0, id="negative"),
        pytest.param(1e300, 1e300, id="huge"),
    ],
)
def test_go_round(x: float, want: float) -> None:
    assert go_round(x) == want


@pytest.mark.parametrize(
    ("digits", "x", "want"),
    [
        pytest.param(6, 3.6e-17, 0.0, id="tiny"),
        pytest.param(3, -3.6e-17, 0.0, id="tiny-negative"),
        pytest.param(3, 0.0004, 0.0, id="below-half"),
        pytest.param(3, 1.2345, 1.235, id="half-away"),
        pytest.param(4, 1.2345, 1.2345, id="exact"),
        pytest.param(6, 12345, 12345.0, id="integer"),
        pytest.param(6, 2.0000005, 2.000001, id="six-digits"),
    ],
)
def test_round_to_digits(digits: int, x: float, want: float) -> None:
    assert round_to_digits(digits, x) == want


@pytest.mark.parametrize(
    ("buckets", "want"),
    [
        pytest.param(100, MIN_EXPONENT, id="100"),
        pytest.param(60, MIN_EXPONENT, id="60"),
        pytest.param(40, 0.205672, id="40"),
        pytest.param(30, 0.264358, id="30"),
        pytest.param(10, 0.601893, id="10"),
        pytest.param(6, 0.784557, id="6"),
        pytest.param(5, 0.841511, id="5"),
    ],
)
def test_smoothing_coeff(buckets: int, want: float) -> None:
    assert round(smoothing_coeff(buckets), 6) == want


@pytest.mark.parametrize(
    ("granularity", "stats", "want"),
    [
        pytest.param(
            1.0,
            [(0.0, 1.0), (0.1, 10.0), (1.0, 1.0), (3.0, 1.0)],
            {0.0: 11.0, 1.0: 1.0, 3.0: 1.0},
            id="1s-same-second-adds-up",
        ),
        pytest.param(5.0, [(0.0, 1.0), (3.0, 11.0), (6.0, 1.0)], {0.0: 12.0, 5.0: 1.0}, id="5s"),
        pytest.param(1.0, [], {}, id="empty"),
    ],
)
def test_buckets_simple(granularity: float, stats: list[tuple[float, float]], want: dict[float, float]) -> None:
    base = 1_700_000_000.0  # a multiple of 5 s
    b = TimedBuckets(120.0, granularity)
    assert b.is_empty(base)
    for t, v in stats:
        b.record(base + t, v)
    got = {t - base: v for t, v in b.buckets(base + 60) if v > 0}
    assert got == want


def test_buckets_many_reps_same_bucket() -> None:
    b = TimedBuckets(60.0)
    t = T0
    for p in range(5):
        t += 1
        for r in range(5):
            b.record(t, float(p + r))
    assert sum(v for _, v in b.buckets(t)) == 100.0
    assert b.window_average(t) == 20.0


def test_buckets_many_reps_non_monotonic_order() -> None:
    b = TimedBuckets(60.0)
    end = T0
    for p, offset in enumerate([0, 3, 2, 1, 4]):
        end = T0 + offset
        for r in range(5):
            b.record(end, float(p + r))
    assert sum(v for _, v in b.buckets(end)) == 100.0
    assert b.window_average(end) == 20.0


def test_window_average_scenario() -> None:
    """Partial windows, lagging now, short and long holes, late records, reset after silence."""
    b = TimedBuckets(5.0)
    b.record(T0, 1)
    assert b.window_average(T0) == 1.0  # averages over the first write only, not 1/5
    for i in range(1, 5):
        b.record(T0 + i, i + 1)
    assert b.window_average(T0 + 4) == 15 / 5
    assert b.window_average(T0 + 3.6) == 15 / 5  # now behind the last write
    assert b.window_average(T0 + 6) == (15 - 1 - 2) / (5 - 2)  # short hole shrinks the divisor
    assert b.window_average(T0 + 10) == 0.0  # a whole window of silence
    b.record(T0 + 6, 91)
    assert b.window_average(T0 + 6) == (15 - 1 - 2 + 91) / 5

    now = T0 + 60
    b.record(now, 1984)
    assert b.window_average(now) == 1984.0
    b.record(now - 3, 4)  # earlier, within the window: extends the partial window
    assert b.window_average(now) == (4 + 1984) / 4
    now += 1
    b.record(now, 5)
    assert b.window_average(now) == (4 + 1984 + 5) / 5
    b.record(now - 3, 10)
    assert b.window_average(now) == (4 + 10 + 1984 + 5) / 5
    b.record(now - 6, 10)  # older than a window: dropped
    b.record(now - 5, 10)  # exactly a window old: dropped
    assert b.window_average(now) == (4 + 10 + 1984 + 5) / 5
    b.record(now + 5, 10)  # exactly a window of silence: everything before is forgotten
    assert b.window_average(now + 5) == 10.0


def test_window_average_rounds_to_six_digits() -> None:
    b = TimedBuckets(3.0)
    for i in range(3):
        b.record(T0 + i, 1.0 if i == 0 else 0.0)
    assert b.window_average(T0 + 2) == 0.333333
    b2 = TimedBuckets(3.0)
    b2.record(T0, 2.0)
    b2.record(T0 + 2, 0.0)
    assert b2.window_average(T0 + 2) == 0.666667


def test_descending_records() -> None:
    b = TimedBuckets(5.0, 1.0)
    for i in range(8, -1, -1):
        b.record(T0 + i, 5)
    assert b.window_average(T0 + 5) == 5.0


def test_holes_are_zeroed() -> None:
    b = TimedBuckets(5.0)
    for i in range(5):
        b.record(T0 + i, i + 1)
    assert sum(v for _, v in b.buckets(T0 + 4)) == 15.0
    assert b.window_average(T0 + 4) == 3.0
    b.record(T0 + 8, 2.0)  # seconds 5, 6, 7 become 0; 3 and 4 remain
    assert sum(v for _, v in b.buckets(T0 + 8)) == 7.0
    assert b.window_average(T0 + 8) == 7 / 5


@pytest.mark.parametrize(
    ("now", "want"),
    [
        pytest.param(T0 + 5, False, id="window-after"),
        pytest.param(T0 + 5.7, False, id="truncated-to-window"),
        pytest.param(T0 + 6, True, id="more-than-window"),
        pytest.param(T0 - 100, False, id="in-the-past"),
    ],
)
def test_is_empty(now: float, want: bool) -> None:
    b = TimedBuckets(5.0)
    b.record(T0, 1)
    assert b.is_empty(now) is want


def _filled(cls: type[TimedBuckets]) -> TimedBuckets:
    b = cls(5.0)
    for i in range(6):
        b.record(T0 + i, i + 1)  # 1 rolls out; 2..6 stay
    return b


def test_resize_window_grow_then_shrink() -> None:
    b = _filled(TimedBuckets)
    now = T0 + 5
    assert sum(v for _, v in b.buckets(now)) == 20.0
    assert b.window_average(now) == 20 / 5

    b.resize_window(10.0)
    assert len(b) == 10 and b.window == 10.0
    assert sum(v for _, v in b.buckets(now)) == 20.0
    assert b.window_average(now) == 20 / 5  # at most 5 buckets are known

    now += 1
    b.record(now, 7)
    assert sum(v for _, v in b.buckets(now)) == 27.0
    assert b.window_average(now) == round_to_digits(6, 27 / 6)

    b.resize_window(4.0)
    assert len(b) == 4
    assert sum(v for _, v in b.buckets(now)) == 27 - 2 - 3
    assert b.window_average(now) == (27 - 2 - 3) / 4

    before = b.buckets(now)
    b.resize_window(4.0)
    assert b.buckets(now) == before


def test_resize_window_3s_granularity() -> None:
    g = 3.0
    base = math.floor(T0 / g) * g
    b = TimedBuckets(5.0, g)
    assert len(b) == 2
    for i, v in enumerate([10, 2, 3, 4, 5, 6, 7]):
        b.record(base + i, v)  # the 7 overwrites the first bucket (10+2+3)
    assert sum(v for _, v in b.buckets(base + 6)) == 4 + 5 + 6 + 7

    b.resize_window(10.0)
    assert len(b) == 4
    assert sum(v for _, v in b.buckets(base + 6)) == 22.0
    b.record(base + 9.3, 42)
    assert sum(v for _, v in b.buckets(base + 9)) == 64.0

    b.resize_window(4.0)
    assert len(b) == 2
    assert sum(v for _, v in b.buckets(base + 9)) == 42 + 7


def test_resize_window_forgets_stale_data() -> None:
    """Data older than a window (judged by the latest time seen, not the wall clock) is dropped."""
    b = TimedBuckets(5.0)
    b.record(T0 - 60, 19.82)
    assert b.is_empty(T0)  # the buckets have now seen T0
    b.resize_window(10.0)
    b.record(T0 - 58, 1.0)  # first write is this one again, not 9 s before it
    assert b.window_average(T0 - 58) == 1.0


@pytest.mark.parametrize("at", [pytest.param(20.0, id="inside-the-new-window"), pytest.param(5.0, id="before-it")])
def test_resize_after_the_data_is_a_window_old_averages_zero(at: float) -> None:
    """Data older than the old window but within the new one: bucketing.go's ResizeWindow resets
    firstWrite to the zero time and WindowAverage returns 0 (ours raised AssertionError)."""
    b = TimedBuckets(10.0)
    b.record(0.0, 5.0)
    assert b.window_average(20.0) == 0.0  # the buckets have seen t=20: the data is a window old
    b.resize_window(60.0)
    assert b.window_average(at) == 0.0
    b.record(21.0, 3.0)
    assert b.window_average(21.0) == 3.0


def test_resize_window_keeps_recent_data_regardless_of_wall_clock() -> None:
    b = TimedBuckets(5.0)
    b.record(100.0, 4.0)  # far in the past of the wall clock
    b.resize_window(10.0)
    b.record(101.0, 6.0)
    # first write is set to last write - (old buckets - 1) = 96: six buckets are averaged
    assert b.window_average(101.0) == round_to_digits(6, 10 / 6)


def test_weighted_average() -> None:
    b = WeightedBuckets(5.0)
    m = b.coeff
    assert m == smoothing_coeff(5)
    b.record(T0, 2)
    want = 2 * m
    assert b.window_average(T0) == want
    want *= 1 - m  # one second later, no writes
    assert b.window_average(T0 + 1) == want
    b.record(T0 + 1, 2)
    want += 2 * m
    assert b.window_average(T0 + 1) == want
    for i in range(5):
        b.record(T0 + 2 + i, i + 2)
    want = 6 * m + 5 * m * (1 - m) + 4 * m * (1 - m) ** 2 + 3 * m * (1 - m) ** 3 + 2 * m * (1 - m) ** 4
    assert b.window_average(T0 + 6) == pytest.approx(want, rel=1e-15)
    assert b.window_average(T0 + 16) == 0.0


def test_weighted_average_example_from_docs() -> None:
    """[10, 10, 5, 5] newest last, coefficient 0.6 for 4 buckets... with Knative's real coefficient."""
    b = WeightedBuckets(4.0)
    for i, v in enumerate([10, 10, 5, 5]):
        b.record(T0 + i, v)
    m = b.coeff
    want = 5 * m + 5 * m * (1 - m) + 10 * m * (1 - m) ** 2 + 10 * m * (1 - m) ** 3
    assert b.window_average(T0 + 3) == pytest.approx(want, rel=1e-15)


def test_weighted_resize_recomputes_coefficient() -> None:
    b = _filled(WeightedBuckets)
    assert isinstance(b, WeightedBuckets)
    assert round(b.window_average(T0 + 5), 3) == 5.812
    b.resize_window(10.0)
    assert len(b) == 10 and b.window == 10.0
    assert b.coeff == smoothing_coeff(10)


@pytest.mark.parametrize(
    ("records", "want"),
    [
        pytest.param([(0.0, 5)], 5, id="single"),
        pytest.param([(0.0, 6), (0.5, 5)], 6, id="same-second-keeps-max"),
        pytest.param([(0.0, 5), (1.0, 8)], 8, id="two-values"),
        pytest.param([(0.0, 5), (6.0, 4)], 4, id="time-gap-evicts"),
        pytest.param([], 0, id="nothing"),
    ],
)
def test_max_time_window(records: list[tuple[float, int]], want: int) -> None:
    w = MaxTimeWindow(5.0, 1.0)
    for t, v in records:
        w.record(T0 + t, v)
    assert w.current() == want


def _step(i: int) -> int:
    return i


def _gap_after_three(i: int) -> int:
    return i + 3 if i >= 3 else i


def _same(_: int) -> int:
    return 1


@pytest.mark.parametrize(
    ("values", "index", "want"),
    [
        pytest.param([1], _step, [1], id="single"),
        pytest.param([1, 2], _step, [1, 2], id="ascending"),
        pytest.param([2, 1], _step, [2, 2], id="descending"),
        pytest.param([1, 2, 1], _step, [1, 2, 2], id="up-down-up"),
        pytest.param([5, 6, 5, 5, 5, 5, 5], _step, [5, 6, 6, 6, 6, 6, 5], id="windowing-out"),
        pytest.param([6, 5, 2, 1], _gap_after_three, [6, 6, 6, 2], id="windowing-out-with-gaps"),
        pytest.param([5, 6, 5, 7, 5, 5, 1], _step, [5, 6, 6, 7, 7, 7, 7], id="windowing-out-2"),
        pytest.param([5, 8, 5, 7, 5, 5, 1], _step, [5, 8, 8, 8, 8, 8, 7], id="windowing-out-4"),
        pytest.param(
            [5, 8, 5, 7, 5, 5, 1, 4, 4, 4, 4, 9, 3, 4, 2, 1, 0],
            _step,
            [5, 8, 8, 8, 8, 8, 7, 7, 5, 5, 4, 9, 9, 9, 9, 9, 4],
            id="windowing-out-long",
        ),
        pytest.param([1, 2, 3, 4, 5, 6, 7], _same, [1, 2, 3, 4, 5, 6, 7], id="same-index-ascending"),
        pytest.param([7, 6, 5, 4, 3, 2, 1], _same, [7] * 7, id="same-index-descending"),
    ],
)
def test_max_window_sequences(values: list[int], index: object, want: list[int]) -> None:
    assert callable(index)
    w = MaxTimeWindow(5.0, 1.0)
    got = []
    for i, v in enumerate(values):
        w.record(float(index(i)), v)
        got.append(w.current())
    assert got == want


def test_max_window_index_uses_whole_granularity() -> None:
    w = MaxTimeWindow(4.0, 2.0)  # 2 slots of 2 s
    w.record(10.9, 5)  # index 5
    w.record(13.0, 1)  # index 6: 5 still in
    assert w.current() == 5
    w.record(14.0, 1)  # index 7: 7 - 5 >= 2 evicts the 5
    assert w.current() == 1


@pytest.mark.parametrize(
    ("window", "granularity"),
    [pytest.param(0.0, 1.0, id="zero-window"), pytest.param(5.0, 0.0, id="zero-granularity")],
)
def test_invalid_sizes(window: float, granularity: float) -> None:
    with pytest.raises(ValueError):
        TimedBuckets(window, granularity)


def test_buckets_are_made_at_the_first_write_only() -> None:
    """An idle revision's windows hold no buckets; written, resized before or after, they average
    as ever."""
    for cls in (TimedBuckets, WeightedBuckets):
        idle = cls(60.0)
        assert idle._buckets == [] and len(idle) == 60
        assert idle.window_average(100.0) == 0.0 and idle.buckets(100.0) == []
        idle.resize_window(30.0)
        assert idle._buckets == [] and len(idle) == 30
        idle.record(100.0, 4.0)
        assert len(idle._buckets) == 30
        fresh = cls(30.0)
        fresh.record(100.0, 4.0)
        assert idle.window_average(101.0) == fresh.window_average(101.0)
        assert idle.buckets(101.0) == fresh.buckets(101.0)
