"""Each revision's autoscaling over the last minutes, for the dashboard's plots.

Every decider tick (2 s, and each scale-from-zero poke) the multiscaler appends a :class:`Point`
to the revision's ring buffer: instances desired and ready, the observed stable and panic
concurrency against the target, the request rate over the last :data:`RECENT_WINDOW` seconds, and
the mean latency over the same seconds by Little's law (concurrency / rate: requests in flight
divided by requests per second is the time each one spends, queued time included). The rate has
its own window, fed by :meth:`History.observe` with every stat the collector records, because a
short stable window makes the panic window a single second that is often still empty at a tick. The runtime tells
:meth:`History.set_ready` each change of a revision's ready instances, which dates cold starts to
the moment: a cold start begins at the first tick wanting instances while none is ready and ends
when one is. Memory is bounded: at most ``max_points`` points and ``max_cold_starts`` cold starts
per revision, none older than ``retention`` seconds, and a forgotten revision's series goes with it.

Pure: every time is an argument (Unix seconds, what the browser plots).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from zeroserve.autoscaler.aggregation import TimedBuckets
from zeroserve.autoscaler.collector import DeciderKey

RETENTION = 15 * 60.0
"""Seconds of history kept per revision."""

MAX_POINTS = 1024
"""Points kept per revision whatever their age: 15 minutes of 2 s ticks, with room for pokes."""

MAX_COLD_STARTS = 64

RECENT_WINDOW = 6.0
"""Seconds the request rate and latency are averaged over (Knative's default panic window)."""


@dataclass(frozen=True, slots=True)
class Point:
    """One tick of one revision's decider."""

    time: float
    """Unix seconds."""
    desired: int
    """Instances wanted (-1: no decision yet)."""
    ready: int | None
    target: float
    """The scaling metric's target per instance."""
    stable_concurrency: float | None = None
    panic_concurrency: float | None = None
    request_rate: float | None = None
    """Requests per second over the last :data:`RECENT_WINDOW` seconds."""
    recent_concurrency: float | None = None
    """Requests in flight over the same seconds (for the latency)."""
    panic_mode: bool = False
    reasons: tuple[str, ...] = ()
    """The decider's reasons for ``desired`` (the explain trail)."""

    @property
    def latency(self) -> float | None:
        """Mean seconds per request over the recent window (Little's law); None without requests."""
        if self.recent_concurrency is None or not self.request_rate:
            return None
        return self.recent_concurrency / self.request_rate


@dataclass(frozen=True, slots=True)
class ColdStart:
    start: float
    """When a tick first wanted an instance while none was ready (Unix seconds)."""
    ready: float | None = None
    """When the first instance became ready; None while still starting."""

    @property
    def seconds(self) -> float | None:
        return None if self.ready is None else self.ready - self.start


@dataclass(slots=True)
class _Run:
    """``count`` ticks that repeated ``point`` (a resting decider's), evenly spaced from ``start``
    to ``end``: one object for what would be hundreds of points (1,000 revisions at zero for 15
    minutes were 450,000 points, ~85 MB)."""

    point: Point
    start: float
    end: float
    count: int

    @property
    def step(self) -> float:
        return (self.end - self.start) / (self.count - 1) if self.count > 1 else 0.0

    def times(self) -> list[float]:
        step = self.step
        return [self.start + i * step for i in range(self.count)]

    def expand(self) -> list[Point]:
        return [replace(self.point, time=t) for t in self.times()]


SMALL_SERIES = 8
"""Points a series keeps in a list before a deque (an empty deque is ~760 bytes; a revision at zero
holds one run)."""


@dataclass(slots=True)
class _Series:
    points: list[Point | _Run] | deque[Point | _Run] = field(default_factory=list)
    cold_starts: deque[ColdStart] | None = None
    """Made at the first cold start that ends (most revisions never have one: an empty deque is ~760 bytes)."""
    ready: int | None = None
    """The runtime's last count of ready instances (None: never told)."""
    starting: ColdStart | None = None
    metric: str = ""
    concurrency: TimedBuckets = field(default_factory=lambda: TimedBuckets(RECENT_WINDOW))
    rps: TimedBuckets = field(default_factory=lambda: TimedBuckets(RECENT_WINDOW))


@dataclass(slots=True)
class History:
    """The ring buffers of every revision's :class:`Point`\\ s and :class:`ColdStart`\\ s."""

    retention: float = RETENTION
    max_points: int = MAX_POINTS
    max_cold_starts: int = MAX_COLD_STARTS
    _series: dict[DeciderKey, _Series] = field(default_factory=dict)

    def _get(self, key: DeciderKey) -> _Series:
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = _Series()
        return series

    def record(self, key: DeciderKey, point: Point, metric: str = "") -> None:
        """A tick: append ``point`` (dropping points and cold starts older than the retention)."""
        series = self._get(key)
        series.metric = metric or series.metric
        self._cold_start(series, point, point.time)
        self._append(series, point)
        self._expire(series, point.time)

    def hold(self, key: DeciderKey, point: Point, now: float) -> None:
        """A tick that repeated ``point`` at ``now`` (a resting decider: nothing changed): kept as
        a run, which :meth:`points` gives back as one point per tick."""
        series = self._get(key)
        self._cold_start(series, point, now)
        last = series.points[-1] if series.points else None
        if isinstance(last, _Run) and last.point is point:
            last.end, last.count = now, last.count + 1
        else:
            self._append(series, _Run(point, now, now, 1))
        self._expire(series, now)

    def _append(self, series: _Series, item: Point | _Run) -> None:
        points = series.points
        if isinstance(points, list) and len(points) >= SMALL_SERIES:
            points = series.points = deque(points, maxlen=self.max_points)
        points.append(item)
        if len(points) > self.max_points:  # a list, with a max_points below SMALL_SERIES
            del points[0]

    def _cold_start(self, series: _Series, point: Point, now: float) -> None:
        ready = point.ready if series.ready is None else series.ready
        if series.starting is None and point.desired > 0 and ready == 0:
            series.starting = ColdStart(now)
        elif series.starting is not None and ready:
            self._started(series, now)

    def observe(self, key: DeciderKey, now: float, concurrency: float, rps: float) -> None:
        """A stat recorded for ``key`` at monotonic ``now`` (the collector's clock)."""
        series = self._get(key)
        series.concurrency.record(now, concurrency)
        series.rps.record(now, rps)

    def recent(self, key: DeciderKey, now: float) -> tuple[float, float] | None:
        """Concurrency and requests per second over the last :data:`RECENT_WINDOW` seconds before
        monotonic ``now`` (0 when nothing was); None for a revision never observed."""
        series = self._series.get(key)
        if series is None or series.rps.is_empty(now):
            return None if series is None else (0.0, 0.0)
        return series.concurrency.window_average(now), series.rps.window_average(now)

    def set_ready(self, key: DeciderKey, ready: int, now: float) -> None:
        """The runtime's ready instances of ``key`` changed to ``ready`` at ``now``."""
        series = self._get(key)
        series.ready = ready
        if ready and series.starting is not None:
            self._started(series, now)

    def _started(self, series: _Series, now: float) -> None:
        assert series.starting is not None
        if series.cold_starts is None:
            series.cold_starts = deque(maxlen=self.max_cold_starts)
        series.cold_starts.append(ColdStart(series.starting.start, now))
        series.starting = None

    def _expire(self, series: _Series, now: float) -> None:
        horizon = now - self.retention
        while series.points:
            first = series.points[0]
            if isinstance(first, Point):
                if first.time >= horizon:
                    break
                del series.points[0]
            elif first.end < horizon:
                del series.points[0]
            else:
                if first.start < horizon:  # then end >= horizon > start: step > 0
                    step = first.step
                    gone = min(first.count - 1, math.ceil((horizon - first.start) / step))
                    first.start, first.count = first.start + gone * step, first.count - gone
                break
        while series.cold_starts and series.cold_starts[0].start < horizon:
            series.cold_starts.popleft()

    def forget(self, key: DeciderKey) -> None:
        self._series.pop(key, None)

    def points(self, key: DeciderKey, since: float | None = None) -> list[Point]:
        """``key``'s points, oldest first; only those after ``since`` when given."""
        series = self._series.get(key)
        if series is None:
            return []
        found: list[Point] = []
        for item in series.points:
            for p in item.expand() if isinstance(item, _Run) else (item,):
                if since is None or p.time > since:
                    found.append(p)
        return found

    def cold_starts(self, key: DeciderKey) -> list[ColdStart]:
        """``key``'s cold starts, oldest first, the one under way (``ready`` None) last."""
        series = self._series.get(key)
        if series is None:
            return []
        return list(series.cold_starts or ()) + ([series.starting] if series.starting is not None else [])

    def document(self, key: DeciderKey, now: float, since: float | None = None) -> dict[str, object] | None:
        """The ``revisions/{name}/timeseries`` document (columns of equal length), None if unknown."""
        series = self._series.get(key)
        if series is None:
            return None
        points = self.points(key, since)
        return {
            "namespace": key.namespace,
            "revision": key.revision,
            "now": round(now, 3),
            "retentionSeconds": self.retention,
            "metric": series.metric,
            "ready": series.ready,
            "columns": _columns(points),
            "coldStarts": [
                {"start": round(c.start, 3), "ready": _round(c.ready, 3), "seconds": _round(c.seconds, 3)}
                for c in self.cold_starts(key)
            ],
        }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


COLUMNS: Mapping[str, str] = {
    "time": "Unix seconds of each tick",
    "desired": "instances wanted (-1: no decision yet)",
    "ready": "instances ready",
    "target": "target of the scaling metric per instance",
    "stableConcurrency": "observed concurrency over the stable window",
    "panicConcurrency": "observed concurrency over the panic window",
    "requestRate": "requests per second over the last 6 s",
    "latencyMs": "mean milliseconds per request over the last 6 s (Little's law)",
    "panicMode": "1 while the decider is in panic mode",
    "reasons": "the decider's reasons, comma-separated",
}


def _columns(points: list[Point]) -> dict[str, list[float | int | str | None]]:
    latencies = [p.latency for p in points]
    return {
        "time": [round(p.time, 3) for p in points],
        "desired": [p.desired for p in points],
        "ready": [p.ready for p in points],
        "target": [round(p.target, 3) for p in points],
        "stableConcurrency": [_round(p.stable_concurrency, 3) for p in points],
        "panicConcurrency": [_round(p.panic_concurrency, 3) for p in points],
        "requestRate": [_round(p.request_rate, 3) for p in points],
        "latencyMs": [None if v is None else round(v * 1000, 2) for v in latencies],
        "panicMode": [int(p.panic_mode) for p in points],
        "reasons": [", ".join(p.reasons) for p in points],
    }
