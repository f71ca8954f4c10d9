"""Time-bucketed aggregation of a metric (Knative ``pkg/autoscaler/aggregation``).

``TimedBuckets`` keeps a ring of ``ceil(window / granularity)`` buckets and averages them
linearly (``bucketing.go`` ``TimedFloat64Buckets``); ``WeightedBuckets`` weighs recent buckets
exponentially more (``WeightedFloat64Buckets``); ``MaxTimeWindow`` is the sliding maximum the
decider uses to delay scale-down (``aggregation/max``).

Pure: every method that depends on time takes ``now`` (float seconds). Bucket times are
stored as integer bucket numbers ``floor(t / granularity)`` so arithmetic on them is exact.
Knative's quirks are kept on purpose: a young window averages only over the seconds since
the first write, trailing silence shrinks the divisor, a full silent window resets
everything, records older than a window are dropped, and the linear average is rounded to
6 decimals with Go's ``math.Round`` (half away from zero).
"""

from __future__ import annotations

import math
from collections import deque

PRECISION = 6
"""Decimal digits the linear window average is rounded to (bucketing.go ``precision``)."""
MIN_EXPONENT = 0.2
"""Lower bound of the weighted-exponential smoothing coefficient (``minExponent``)."""
WEIGHT_PRECISION = 0.9999
"""Sum of weights the weighted-exponential average aims for (``weightPrecision``)."""

ZERO_TIME_BUCKETS = 2**63
"""Buckets since Go's zero time: more than any window holds (``time.Duration`` saturates)."""

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1


def go_round(x: float) -> float:
    """Go's ``math.Round``: nearest integer, halves away from zero (Python rounds halves to even)."""
    if math.isnan(x) or math.isinf(x):
        return x
    t = float(math.trunc(x))
    if abs(x - t) >= 0.5:
        t += math.copysign(1.0, x)
    return math.copysign(t, x)


def round_to_digits(digits: int, x: float) -> float:
    """bucketing.go ``roundToNDigits``: ``math.Round(x * 10^n) / 10^n``."""
    p = 10.0**digits
    return go_round(x * p) / p


def smoothing_coeff(num_buckets: float) -> float:
    """Decay multiplier of the weighted-exponential average for ``num_buckets`` buckets."""
    return max(1 - math.pow(1 - WEIGHT_PRECISION, 1 / num_buckets), MIN_EXPONENT)


def _bucket_count(window: float, granularity: float) -> int:
    if granularity <= 0:
        raise ValueError(f"granularity must be positive, was: {granularity}")
    n = math.ceil(window / granularity)
    if n <= 0:
        raise ValueError(f"window must be positive, was: {window}")
    return n


class TimedBuckets:
    """Linear window average over ``window`` seconds of ``granularity``-second buckets.

    The buckets are made at the first write (a revision never requested holds none: six windows
    of 60 floats each for every one of 1,000 idle revisions were ~3 KB apiece)."""

    __slots__ = (
        "_buckets",
        "_first_write",
        "_granularity",
        "_last_write",
        "_latest_seen",
        "_size",
        "_total",
        "_window",
    )

    def __init__(self, window: float, granularity: float = 1.0) -> None:
        self._granularity = granularity
        self._window = window
        self._size = _bucket_count(window, granularity)
        self._buckets: list[float] = []
        """``_size`` buckets once written to (empty before the first write)."""
        self._total = 0.0
        self._first_write: int | None = None  # bucket numbers; None = Go's zero time
        self._last_write: int | None = None
        self._latest_seen: int | None = None

    @property
    def window(self) -> float:
        return self._window

    @property
    def granularity(self) -> float:
        return self._granularity

    def __len__(self) -> int:
        return self._size

    def _bucket(self, now: float) -> int:
        k = math.floor(now / self._granularity)
        if self._latest_seen is None or k > self._latest_seen:
            self._latest_seen = k
        return k

    def _span(self, buckets: int) -> float:
        """Duration of ``buckets`` buckets, for comparisons against the window."""
        return buckets * self._granularity

    def record(self, now: float, value: float) -> None:
        """Add ``value`` to the bucket of ``now``; zero skipped buckets; drop records a window old."""
        k = self._bucket(now)
        lw = self._last_write
        if lw != k:
            if lw is not None and self._span(k - lw) + self._window <= 0:
                return  # older than a window before the last write: dropped
            if self._first_write is None or self._first_write > k:
                self._first_write = k
            if lw is None or k > lw:
                if lw is None or self._span(k - lw) >= self._window:
                    self._first_write = k  # a whole window of silence: start over
                    self._buckets = [0.0] * self._size
                    self._total = 0.0
                else:
                    n = self._size
                    for i in range(lw + 1, k + 1):
                        self._total -= self._buckets[i % n]
                        self._buckets[i % n] = 0.0
                self._last_write = k
        self._buckets[k % self._size] += value
        self._total += value

    def is_empty(self, now: float) -> bool:
        """True when nothing was recorded within the window before ``now``."""
        k = self._bucket(now)
        return self._last_write is None or self._span(k - self._last_write) > self._window

    def _valid_buckets(self) -> int:
        """Buckets from the first write to the last, inclusive. After a resize that found no recent
        data Knative sets firstWrite to Go's zero time, so ``lastWrite.Sub(firstWrite)`` saturates
        and this is "more than any window" (the callers take the min with the bucket count)."""
        assert self._last_write is not None
        if self._first_write is None:
            return ZERO_TIME_BUCKETS
        return self._last_write - self._first_write + 1

    def window_average(self, now: float) -> float:
        """Average per bucket over the valid part of the window (see module docstring)."""
        k = self._bucket(now)
        lw = self._last_write
        if lw is None:
            return 0.0
        d = k - lw
        n = self._size
        if d <= 0:
            nb = min(self._valid_buckets(), n)
            return round_to_digits(PRECISION, self._total / nb)
        if self._span(d) < self._window:
            ret = self._total
            for i in range(lw + 1, k + 1):
                ret -= self._buckets[i % n]
            nb = min(self._valid_buckets(), n - d)
            return round_to_digits(PRECISION, ret / nb)
        return 0.0

    def resize_window(self, window: float) -> None:
        """Change the window, keeping the newest ``min(old, new)`` buckets if data is recent.

        Recency is judged against the latest time these buckets have been given (by
        ``record``, ``window_average`` or ``is_empty``), never the wall clock.
        """
        if window == self._window:
            return
        n_new = _bucket_count(window, self._granularity)
        lw = self._last_write
        new = [0.0] * n_new if lw is not None else []
        total = 0.0
        latest = self._latest_seen
        if lw is not None and latest is not None and self._span(latest - lw) <= self._window:
            n_old = self._size
            idx = lw
            for _ in range(min(n_new, n_old)):
                new[idx % n_new] = self._buckets[idx % n_old]
                total += self._buckets[idx % n_old]
                idx -= 1
            self._first_write = lw - (n_old - 1)
        else:
            self._first_write = None
        self._window = window
        self._size = n_new
        self._buckets = new
        self._total = total

    def buckets(self, now: float) -> list[tuple[float, float]]:
        """``(bucket start time, value)`` newest first, for the part of the window before ``now``."""
        if self._last_write is None:
            return []
        k = math.floor(now / self._granularity)
        n = self._size
        count = min(n, n - (k - self._last_write))
        out: list[tuple[float, float]] = []
        for i in range(self._last_write, self._last_write - count, -1):
            out.append((i * self._granularity, self._buckets[i % n]))
        return out


class WeightedBuckets(TimedBuckets):
    """Weighted-exponential window average (``metric-aggregation-algorithm: weighted-exponential``)."""

    __slots__ = ("_coeff",)

    def __init__(self, window: float, granularity: float = 1.0) -> None:
        super().__init__(window, granularity)
        self._coeff = smoothing_coeff(len(self))

    @property
    def coeff(self) -> float:
        return self._coeff

    def window_average(self, now: float) -> float:
        """Sum of bucket values weighted ``c, c(1-c), c(1-c)^2...`` newest first; not rounded."""
        if self.is_empty(now):
            return 0.0
        assert self._last_write is not None
        k = self._bucket(now)
        n = self._size
        num = n
        multiplier = self._coeff
        if k > self._last_write:
            zeros = k - self._last_write
            multiplier *= math.pow(1 - self._coeff, zeros)
            num -= zeros
        start = self._last_write + n
        ret = 0.0
        for i in range(num):
            ret += self._buckets[(start - i) % n] * multiplier
            multiplier *= 1 - self._coeff
        return ret

    def resize_window(self, window: float) -> None:
        super().resize_window(window)
        self._coeff = smoothing_coeff(math.ceil(window / self._granularity))


def _go_div(a: int, b: int) -> int:
    """Go integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


class MaxTimeWindow:
    """Maximum of the values recorded over the last ``duration`` seconds (``max.TimeWindow``).

    The index of a time is ``floor(now) // int(granularity)`` (Go: ``int(now.Unix()) /
    int(granularity.Seconds())``); values at the same index keep the larger; entries whose
    index is ``size`` or more behind a new record are evicted, and only when one is recorded.
    """

    def __init__(self, duration: float, granularity: float) -> None:
        self._size = _bucket_count(duration, granularity)
        self._step = int(granularity)
        if self._step <= 0:
            raise ValueError(f"granularity must be at least one second, was: {granularity}")
        self._maxima: deque[tuple[int, int]] = deque()  # (index, value), values descending

    def record(self, now: float, value: int) -> None:
        index = _go_div(math.floor(now), self._step)
        q = self._maxima
        while q and value >= q[-1][1]:
            q.pop()
        while q and index - q[0][0] >= self._size:
            q.popleft()
        if q and q[-1][0] == index:
            value = max(value, q.pop()[1])
        q.append((index, value))

    def current(self) -> int:
        """The maximum in the window (0 before anything was recorded)."""
        return self._maxima[0][1] if self._maxima else 0
