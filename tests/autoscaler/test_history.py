"""The dashboard's ring buffers (zeroserve.autoscaler.history), with injected times, and the
Multiscaler feeding them on a fake clock."""

from __future__ import annotations

import pytest

from zeroserve.autoscaler.collector import Collector, DeciderKey, MetricSpec
from zeroserve.autoscaler.explain import TickLog, TickRecord
from zeroserve.autoscaler.history import COLUMNS, RECENT_WINDOW, SMALL_SERIES, History, Point
from zeroserve.autoscaler.metrics import Stat, StatMessage
from zeroserve.autoscaler.multiscaler import Multiscaler
from zeroserve.autoscaler.scaling import DeciderSpec
from zeroserve.clock import FakeClock

KEY = DeciderKey("default", "hello-00001")
T0 = 1_800_000_000.0


def point(t: float, desired: int = 1, ready: int | None = 1, **kw: object) -> Point:
    return Point(t, desired, ready, 10.0, **kw)  # type: ignore[arg-type]


def test_points_are_bounded_by_count_and_by_age() -> None:
    history = History(retention=60.0, max_points=10)
    for i in range(25):
        history.record(KEY, point(T0 + i))
    assert [p.time for p in history.points(KEY)] == [T0 + i for i in range(15, 25)]  # the newest 10
    history.record(KEY, point(T0 + 100))  # 60 s retention: everything older goes
    assert [p.time for p in history.points(KEY)] == [T0 + 100]
    assert history.points(KEY, since=T0 + 100) == []
    assert history.points(DeciderKey("default", "other")) == []


@pytest.mark.parametrize("max_points", [3, SMALL_SERIES, SMALL_SERIES + 1, 40])
def test_the_newest_points_are_kept_in_order_whatever_the_bound(max_points: int) -> None:
    """Few points are kept in a list, more in a deque (a revision at zero holds one run)."""
    history = History(retention=600.0, max_points=max_points)
    for i in range(50):
        history.record(KEY, point(T0 + i))
        kept = [p.time for p in history.points(KEY)]
        assert kept == [T0 + j for j in range(max(0, i + 1 - max_points), i + 1)]


def test_a_cold_start_runs_from_the_first_tick_wanting_an_instance_to_the_first_ready_one() -> None:
    history = History()
    history.set_ready(KEY, 0, T0)
    history.record(KEY, point(T0 + 1, desired=0, ready=0))
    assert history.cold_starts(KEY) == []
    history.record(KEY, point(T0 + 2, desired=1, ready=0))  # the poke on the first request
    history.record(KEY, point(T0 + 4, desired=1, ready=0))
    [under_way] = history.cold_starts(KEY)
    assert (under_way.start, under_way.ready, under_way.seconds) == (T0 + 2, None, None)
    history.set_ready(KEY, 1, T0 + 4.5)  # the runtime saw the instance ready, between two ticks
    [done] = history.cold_starts(KEY)
    assert (done.start, done.ready, done.seconds) == (T0 + 2, T0 + 4.5, 2.5)
    history.record(KEY, point(T0 + 6, desired=1, ready=1))
    assert len(history.cold_starts(KEY)) == 1  # scaling up from one is no cold start
    history.set_ready(KEY, 0, T0 + 8)
    history.record(KEY, point(T0 + 9, desired=2, ready=0))
    history.set_ready(KEY, 2, T0 + 10)
    assert [c.seconds for c in history.cold_starts(KEY)] == [2.5, 1.0]


def test_without_the_runtime_the_ticks_ready_count_ends_a_cold_start() -> None:
    history = History()
    history.record(KEY, point(T0, desired=3, ready=0))
    history.record(KEY, point(T0 + 2, desired=3, ready=2))
    assert [c.seconds for c in history.cold_starts(KEY)] == [2.0]


def test_cold_starts_are_bounded_too() -> None:
    history = History(retention=1000.0, max_cold_starts=3)
    for i in range(5):
        history.set_ready(KEY, 0, T0 + 10 * i)
        history.record(KEY, point(T0 + 10 * i + 1, desired=1, ready=0))
        history.set_ready(KEY, 1, T0 + 10 * i + 2)
    assert [c.start for c in history.cold_starts(KEY)] == [T0 + 21, T0 + 31, T0 + 41]


def test_recent_rate_and_concurrency_over_six_seconds() -> None:
    history = History()
    assert history.recent(KEY, 100.0) is None
    for second in range(10):
        history.observe(KEY, 100.0 + second, concurrency=2.0, rps=8.0)
    assert history.recent(KEY, 109.0) == (2.0, 8.0)
    assert history.recent(KEY, 109.0 + RECENT_WINDOW + 1) == (0.0, 0.0)  # idle: a rate of 0


def test_latency_is_concurrency_over_rate() -> None:
    assert point(T0, recent_concurrency=2.0, request_rate=8.0).latency == 0.25
    assert point(T0, recent_concurrency=2.0, request_rate=0.0).latency is None
    assert point(T0).latency is None


def test_document_has_equal_columns_and_keeps_what_is_after_since() -> None:
    history = History()
    assert history.document(KEY, T0) is None
    history.record(KEY, point(T0, desired=-1, ready=None, reasons=("no data",)), "concurrency")
    history.record(
        KEY,
        point(
            T0 + 2,
            desired=2,
            ready=1,
            stable_concurrency=12.0,
            panic_concurrency=15.5,
            request_rate=40.0,
            recent_concurrency=10.0,
            panic_mode=True,
            reasons=("panic mode", "max scale up rate"),
        ),
        "concurrency",
    )
    doc = history.document(KEY, T0 + 3)
    assert doc is not None
    assert {k: v for k, v in doc.items() if k != "columns"} == {
        "namespace": "default",
        "revision": "hello-00001",
        "now": T0 + 3,
        "retentionSeconds": 900.0,
        "metric": "concurrency",
        "ready": None,
        "coldStarts": [],
    }
    columns = doc["columns"]
    assert isinstance(columns, dict)
    assert set(columns) == set(COLUMNS)
    assert {len(v) for v in columns.values()} == {2}
    assert columns["time"] == [T0, T0 + 2]
    assert columns["desired"] == [-1, 2]
    assert columns["ready"] == [None, 1]
    assert columns["panicConcurrency"] == [None, 15.5]
    assert columns["requestRate"] == [None, 40.0]
    assert columns["latencyMs"] == [None, 250.0]
    assert columns["panicMode"] == [0, 1]
    assert columns["reasons"] == ["no data", "panic mode, max scale up rate"]
    later = history.document(KEY, T0 + 3, since=T0)
    assert later is not None and later["columns"]["time"] == [T0 + 2]  # type: ignore[index]


def test_forget_drops_the_revision() -> None:
    history = History()
    history.record(KEY, point(T0))
    history.forget(KEY)
    assert history.document(KEY, T0) is None


class NoEndpoints:
    def endpoints(self, namespace: str, revision: str) -> list[object]:
        return []


SPEC = DeciderSpec(
    target_value=10.0,
    total_value=100.0,
    target_burst_capacity=211.0,
    panic_threshold=2.0,
    max_scale_up_rate=1000.0,
    max_scale_down_rate=2.0,
    stable_window=60.0,
    activation_scale=1,
    reachable=True,
    initial_scale=1,
)


def test_the_multiscaler_records_every_tick_with_the_stats_it_took() -> None:
    clock = FakeClock()
    history = History()
    ms = Multiscaler(Collector(), NoEndpoints(), clock, lambda key: None, history=history)  # type: ignore[arg-type]
    ms.watch(KEY, SPEC, MetricSpec(60.0, 6.0, scraped=False))
    ms.tick(KEY)
    for _ in range(3):
        clock.step(1)
        ms.record(StatMessage(KEY.namespace, KEY.revision, Stat("activator", 4.0, 0.0, 20.0, 0.0)))
    clock.step(1)
    ms.tick(KEY)
    points = history.points(KEY)
    assert len(points) >= 3  # two ticks and the poke of the first loaded stat at zero
    first, last = points[0], points[-1]
    assert first.request_rate is None and first.desired == 0
    assert last.time == clock.wall().timestamp()
    assert (last.request_rate, last.recent_concurrency, last.latency) == (20.0, 4.0, 0.2)
    assert last.stable_concurrency == 4.0 and last.target == 10.0 and last.desired == 1
    assert history.cold_starts(KEY)[0].ready is None  # no instance ever became ready
    ms.forget(KEY)
    assert history.points(KEY) == []


def test_a_resting_revision_is_held_as_one_run_given_back_point_by_point() -> None:
    history = History(retention=60, max_points=10)
    rest = point(T0, desired=0, ready=0)
    history.record(KEY, rest)
    for i in range(1, 31):  # 30 ticks at rest, 2 s apart: more than max_points, one element
        history.hold(KEY, rest, T0 + 2 * i)
    assert len(history._series[KEY].points) == 2
    points = history.points(KEY)
    assert [p.time for p in points] == [T0 + 2 * i for i in range(31)]
    assert {(p.desired, p.ready) for p in points} == {(0, 0)}
    assert [p.time for p in history.points(KEY, since=T0 + 55)] == [T0 + 56, T0 + 58, T0 + 60]
    for i in range(31, 61):  # the first minute leaves the 60 s retention, tick by tick
        history.hold(KEY, rest, T0 + 2 * i)
    assert [p.time for p in history.points(KEY)] == [T0 + 2 * i for i in range(30, 61)]
    busy = point(T0 + 123, desired=1, ready=0)
    history.record(KEY, busy)  # a change ends the run; a later rest starts another
    history.hold(KEY, busy, T0 + 125)
    assert [p.time for p in history.points(KEY)][-3:] == [T0 + 120, T0 + 123, T0 + 125]
    assert history.cold_starts(KEY)[-1].start == T0 + 123


def test_the_tick_log_keeps_the_last_ticks_of_each_revision() -> None:
    log = TickLog(size=4)
    records = [TickRecord(float(i), "", True, 1, 0, 1.0, "concurrency") for i in range(10)]
    for record in records:
        log.append(KEY, record)
    assert log.get(KEY) == records[-4:]
    assert log.get(DeciderKey("default", "other")) == []
