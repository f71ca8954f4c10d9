"""The decider, with the scenarios of Knative's pkg/autoscaler/scaling/autoscaler_test.go."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import pytest

from zeroserve.autoscaler import scaling
from zeroserve.autoscaler.scaling import (
    INVALID,
    Autoscaler,
    DeciderSpec,
    NoData,
    ScaleResult,
    excess_burst_capacity,
    go_int32,
    initial_excess_burst_capacity,
    same_sign,
)
from zeroserve.errors import NotFound

STABLE_WINDOW = 60.0
UTILIZATION = 0.75
T0 = 1_700_000_000.0


@dataclass
class FakeMetrics:
    stable_concurrency: float = 0.0
    panic_concurrency: float = 0.0
    stable_rps: float = 0.0
    panic_rps: float = 0.0
    error: Exception | None = None

    def set(self, stable: float, panic: float) -> None:
        self.stable_concurrency, self.panic_concurrency = stable, panic

    def stable_and_panic_concurrency(self, now: float) -> tuple[float, float]:
        if self.error is not None:
            raise self.error
        return self.stable_concurrency, self.panic_concurrency

    def stable_and_panic_rps(self, now: float) -> tuple[float, float]:
        if self.error is not None:
            raise self.error
        return self.stable_rps, self.panic_rps


@dataclass
class FakePods:
    ready: int = 1
    error: Exception | None = None

    def ready_count(self) -> int:
        if self.error is not None:
            raise self.error
        return self.ready


def spec(target: float, tbc: float, metric: str = "concurrency", **kw: Any) -> DeciderSpec:
    """Knative's test spec: total = target / 75 %, panic at 200 %, rates x10, reachable."""
    base = DeciderSpec(
        target_value=target,
        total_value=target / UTILIZATION,
        target_burst_capacity=tbc,
        panic_threshold=2.0,
        max_scale_up_rate=10.0,
        max_scale_down_rate=10.0,
        stable_window=STABLE_WINDOW,
        reachable=True,
        scaling_metric=metric,
        activator_capacity=150.0,
    )
    return replace(base, **kw)


def ebc(target: float, tbc: float, panic: float, pods: int) -> int:
    return math.floor(target / UTILIZATION * pods - tbc - panic)


def make(target: float, tbc: float, metrics: FakeMetrics, ready: int = 1, **kw: Any) -> tuple[Autoscaler, FakePods]:
    pods = FakePods(1)  # as Knative's tests: built with one ready pod, then the count is set
    a = Autoscaler(spec(target, tbc, **kw), metrics, pods, T0)
    pods.ready = ready
    return a, pods


def panic_state(a: Autoscaler) -> tuple[float | None, int]:
    return a.panic_time, a.max_panic_pods


def test_ebc_helper_matches_hand_computed_values() -> None:
    assert ebc(10, 100, 50, 1) == -137  # 13.33 - 100 - 50
    assert ebc(1, 98, 25, 10) == -110  # 13.33 - 98 - 25
    assert excess_burst_capacity(1, 10 / 0.75, 100, 50) == -137


@pytest.mark.parametrize(
    ("target", "tbc", "stable", "panic", "ready", "prep", "want"),
    [
        pytest.param(10, 100, 0, 0, 1, {}, ScaleResult(0, ebc(10, 100, 0, 1), True), id="no-data-at-zero"),
        pytest.param(181, -1, 21, 26, 1, {}, ScaleResult(1, -1, True), id="unlimited-tbc"),
        pytest.param(10, 0, 50, 49, 1, {}, ScaleResult(5, 0, True), id="zero-tbc"),
        pytest.param(10, 100, 50, 50, 1, {}, ScaleResult(5, ebc(10, 100, 50, 1), True), id="stable-no-change"),
        pytest.param(
            1,
            100,
            50,
            30,
            5,
            {"panic_time": T0 - 5, "max_panic_pods": 5},
            ScaleResult(50, ebc(1, 100, 30, 5), True),
            id="panic-stable-larger-than-panic",
        ),
        pytest.param(
            1,
            100,
            20,
            30,
            5,
            {"panic_time": T0 - 5, "max_panic_pods": 5},
            ScaleResult(30, ebc(1, 100, 30, 5), True),
            id="panic-stable-less-than-panic",
        ),
        pytest.param(10, 100, 50, 50, 5, {}, ScaleResult(5, ebc(10, 100, 50, 5), True), id="stable-already-scaled"),
        pytest.param(
            1,
            1982,
            3,
            3.1,
            2,
            {"max_scale_up_rate": 1.1},
            ScaleResult(3, ebc(1, 1982, 3.1, 2), True),
            id="small-scale-up-rate-still-grows-by-one",
        ),
        pytest.param(
            10,
            1982,
            1,
            1,
            100,
            {"max_scale_down_rate": 1.1},
            ScaleResult(90, ebc(10, 1982, 1, 100), True),
            id="small-scale-down-rate",
        ),
        pytest.param(
            10,
            1982,
            1,
            1,
            100,
            {"max_scale_down_rate": 1.1, "reachable": False},
            ScaleResult(1, ebc(10, 1982, 1, 100), True),
            id="unreachable-drops-at-once",
        ),
        pytest.param(10, 84, 50, 100, 1, {}, ScaleResult(10, ebc(10, 84, 100, 1), True), id="panic-doubles-pod-count"),
    ],
)
def test_single_step(
    target: float, tbc: float, stable: float, panic: float, ready: int, prep: dict[str, object], want: ScaleResult
) -> None:
    spec_fields = {k: v for k, v in prep.items() if k in DeciderSpec.__dataclass_fields__}
    a, _ = make(target, tbc, FakeMetrics(stable, panic), ready, **spec_fields)
    for k in ("panic_time", "max_panic_pods"):
        if k in prep:
            setattr(a, k, prep[k])
    got = a.scale(T0)
    assert got == want
    assert tuple(got) == (want.desired_pod_count, want.excess_burst_capacity, want.scale_valid)


def test_stable_mode_increase_and_rps() -> None:
    m = FakeMetrics(50, 10)
    a, _ = make(10, 101, m)
    assert a.scale(T0) == ScaleResult(5, ebc(10, 101, 10, 1), True)
    m.stable_concurrency = 100
    assert a.scale(T0) == ScaleResult(10, ebc(10, 101, 10, 1), True)

    r = FakeMetrics(stable_rps=50, panic_rps=50)
    a, _ = make(10, 101, r, metric="rps")
    assert a.scale(T0) == ScaleResult(5, ebc(10, 101, 50, 1), True)
    r.stable_rps, r.panic_rps = 100, 99
    assert a.scale(T0) == ScaleResult(10, ebc(10, 101, 99, 1), True)


def test_rps_metric_reads_rps_only() -> None:
    m = FakeMetrics(stable_concurrency=1000, panic_concurrency=1000, stable_rps=100, panic_rps=99)
    a, _ = make(10, 100, m, metric="rps")
    got = a.scale(T0 + 61)
    assert got == ScaleResult(10, ebc(10, 100, 99, 1), True)
    assert got.observed_stable == 100 and got.observed_panic == 99


def test_stable_mode_decrease() -> None:
    m = FakeMetrics(100, 100)
    a, _ = make(10, 98, m, ready=8)
    assert a.scale(T0) == ScaleResult(10, ebc(10, 98, 100, 8), True)
    m.set(50, 50)
    assert a.scale(T0) == ScaleResult(5, ebc(10, 98, 50, 8), True)


def test_no_traffic_scales_to_zero() -> None:
    m = FakeMetrics(1, 0)
    a, _ = make(10, 75, m)
    assert a.scale(T0) == ScaleResult(1, ebc(10, 75, 0, 1), True)
    m.stable_concurrency = 0
    assert a.scale(T0) == ScaleResult(0, ebc(10, 75, 0, 1), True)


def test_activation_scale() -> None:
    m = FakeMetrics(0, 0)
    a, _ = make(10, 75, m, activation_scale=2)
    assert a.scale(T0) == ScaleResult(0, ebc(10, 75, 0, 1), True)  # zero stays zero
    m.stable_concurrency = 1
    got = a.scale(T0)
    assert got == ScaleResult(2, ebc(10, 75, 0, 1), True)
    assert scaling.ACTIVATION_SCALE in got.reasons


def test_unpanic_after_slow_increase() -> None:
    m = FakeMetrics(11, 25)
    a, pods = make(1, 98, m)
    pods.ready = 10
    t = T0
    assert a.scale(t) == ScaleResult(25, ebc(1, 98, 25, 10), True)
    assert a.panic_time == t
    pods.ready = 25 + 15
    m.set(30, 41)
    t += STABLE_WINDOW / 2
    got = a.scale(t)
    assert got == ScaleResult(41, ebc(1, 98, 41, 40), True)
    assert a.panic_time == T0  # 41/40 is under the threshold: panic not extended
    pods.ready = 25 + 30
    m.set(50, 56)
    t += STABLE_WINDOW / 2 + scaling.TICK_INTERVAL
    got = a.scale(t)
    assert got == ScaleResult(50, ebc(1, 98, 56, 55), True)  # no longer in panic
    assert panic_state(a) == (None, 0)
    assert scaling.PANIC_ENDED in got.reasons and not got.in_panic


def test_extend_panic_window() -> None:
    m = FakeMetrics(11, 25)
    a, pods = make(1, 98, m)
    pods.ready = 10
    assert a.scale(T0) == ScaleResult(25, ebc(1, 98, 25, 10), True)
    pods.ready = 40
    m.set(30, 80)
    t = T0 + STABLE_WINDOW / 2
    got = a.scale(t)
    assert got == ScaleResult(80, ebc(1, 98, 80, 40), True)
    assert a.panic_time == t
    assert scaling.PANIC_EXTENDED in got.reasons


def test_panic_ends_strictly_after_stable_window() -> None:
    m = FakeMetrics(100, 1000)
    a, _ = make(10, 93, m, ready=10)
    assert a.scale(T0) == ScaleResult(100, ebc(10, 93, 1000, 10), True)
    m.set(1, 1)
    held = a.scale(T0 + STABLE_WINDOW)  # exactly a window later: still panicking
    assert held.desired_pod_count == 100 and scaling.PANIC_HOLD in held.reasons
    assert a.scale(T0 + STABLE_WINDOW + 0.001).desired_pod_count == 1


def test_panic_exponential_track_and_stabilize() -> None:
    m = FakeMetrics(6, 6)
    a, pods = make(1, 101, m)
    assert a.scale(T0) == ScaleResult(6, ebc(1, 101, 6, 1), True)
    t = T0
    for ready, load in [(6, 36), (36, 216), (216, 1296)]:
        pods.ready = ready
        m.set(load, load)
        assert a.scale(t) == ScaleResult(load, ebc(1, 101, load, ready), True)
        assert a.panic_time == t
        t += 1
    pods.ready = 1296
    assert a.scale(t) == ScaleResult(1296, ebc(1, 101, 1296, 1296), True)


def test_panic_then_unpanic_scale_down() -> None:
    m = FakeMetrics(100, 100)
    a, pods = make(10, 93, m)
    assert a.scale(T0) == ScaleResult(10, ebc(10, 93, 100, 1), True)
    pods.ready = 10
    panic_at = T0 + 1
    m.panic_concurrency = 1000
    assert a.scale(panic_at) == ScaleResult(100, ebc(10, 93, 1000, 10), True)
    m.set(1, 1)
    assert a.scale(panic_at + 30) == ScaleResult(100, ebc(10, 93, 1, 10), True)
    assert a.scale(panic_at + 61) == ScaleResult(1, ebc(10, 93, 1, 10), True)


def test_rate_limits() -> None:
    m = FakeMetrics(1000, 1001)
    a, pods = make(10, 61, m)
    got = a.scale(T0)
    assert got == ScaleResult(10, ebc(10, 61, 1001, 1), True)  # needs 100, grows x10
    assert scaling.RATE_LIMITED_UP in got.reasons
    pods.ready = 10
    assert a.scale(T0) == ScaleResult(100, ebc(10, 61, 1001, 10), True)

    m2 = FakeMetrics(1, 1)
    b, pods2 = make(10, 61, m2, ready=100)
    got = b.scale(T0)
    assert got == ScaleResult(10, ebc(10, 61, 1, 100), True)  # needs 1, shrinks /10
    assert scaling.RATE_LIMITED_DOWN in got.reasons
    pods2.ready = 10
    assert b.scale(T0) == ScaleResult(1, ebc(10, 61, 1, 10), True)


@pytest.mark.parametrize(
    ("metrics_error", "pods_error", "reason"),
    [
        pytest.param(NoData("no data"), None, scaling.NO_DATA, id="no-data"),
        pytest.param(RuntimeError("no metrics"), None, scaling.METRICS_ERROR, id="metrics-error"),
        pytest.param(None, RuntimeError("peaches-in-regalia"), scaling.READY_COUNT_ERROR, id="cant-count-pods"),
    ],
)
def test_invalid(metrics_error: Exception | None, pods_error: Exception | None, reason: str) -> None:
    a, pods = make(10, 81, FakeMetrics(1000, 888, error=metrics_error))
    pods.error = pods_error
    got = a.scale(T0)
    assert got == INVALID == ScaleResult(0, 0, False)
    assert got.reasons == (reason,)


def test_endpoints_not_found_counts_as_zero_ready() -> None:
    a, pods = make(10, 81, FakeMetrics(1000, 888))
    pods.error = NotFound("endpoints")
    assert a.scale(T0) == ScaleResult(10, ebc(10, 81, 888, 0), True)
    pods.error, pods.ready = None, 0
    assert a.scale(T0) == ScaleResult(10, ebc(10, 81, 888, 0), True)


def test_update_target() -> None:
    m = FakeMetrics(100, 101)
    a, pods = make(10, 77, m)
    assert a.scale(T0) == ScaleResult(10, ebc(10, 77, 101, 1), True)
    pods.ready = 10
    a.update(spec(1, 71))
    assert a.spec.target_value == 1
    assert a.scale(T0) == ScaleResult(100, ebc(1, 71, 101, 10), True)


@pytest.mark.parametrize(
    ("ready", "error", "panicking", "max_pods"),
    [
        pytest.param(0, None, False, 0, id="zero"),
        pytest.param(1, None, False, 1, id="one"),
        pytest.param(2, None, True, 2, id="two-starts-in-panic"),
        pytest.param(5, RuntimeError("starlight"), False, 0, id="count-fails"),
    ],
)
def test_start_in_panic(ready: int, error: Exception | None, panicking: bool, max_pods: int) -> None:
    pods = FakePods(ready, error)
    s = DeciderSpec(100, 120, 11, 220, 10, 10, STABLE_WINDOW)
    a = Autoscaler(s, FakeMetrics(10, 10), pods, T0)
    assert (a.panic_time == T0) is panicking
    assert (a.panic_time is None) is not panicking
    assert a.max_panic_pods == max_pods


def test_started_in_panic_holds_scale() -> None:
    a = Autoscaler(spec(10, 100), FakeMetrics(0, 0), FakePods(5), T0)
    got = a.scale(T0 + 10)
    assert got.desired_pod_count == 5
    assert got.in_panic and scaling.PANIC_HOLD in got.reasons


def delay_spec(reachable: bool = True, delay: float = 300.0) -> DeciderSpec:
    return DeciderSpec(
        target_value=10,
        max_scale_down_rate=10,
        max_scale_up_rate=10,
        panic_threshold=100,
        scale_down_delay=delay,
        reachable=reachable,
    )


def test_scale_down_delay_simple_then_gradual() -> None:
    m = FakeMetrics()
    a = Autoscaler(delay_spec(), m, FakePods(0), 0.0)
    steps = [
        (2, (40, 40), 4, "scale up"),
        (300, (0, 0), 4, "less than the delay"),
        (302, (0, 0), 0, "the 4 scrolled out"),
        (540, (40, 40), 4, "gradual: up again"),
        (600, (30, 30), 4, "4 still dominates"),
        (660, (0, 0), 4, "still 4"),
        (840, (0, 0), 3, "4 scrolls out"),
        (900, (0, 0), 0, "everything scrolled out"),
    ]
    for now, load, want, why in steps:
        m.set(*load)
        got = a.scale(float(now))
        assert got.desired_pod_count == want, why
        assert got.excess_burst_capacity == 0


def test_scale_down_delay_reason() -> None:
    m = FakeMetrics(40, 40)
    a = Autoscaler(delay_spec(), m, FakePods(0), 0.0)
    assert a.scale(2.0).reasons == ()
    m.set(0, 0)
    assert scaling.SCALE_DOWN_DELAY in a.scale(4.0).reasons


def test_scale_down_delay_ignored_when_unreachable() -> None:
    m = FakeMetrics(40, 40)
    a = Autoscaler(delay_spec(), m, FakePods(0), 0.0)
    assert a.scale(2.0).desired_pod_count == 4
    m.set(0, 0)
    assert a.scale(60.0).desired_pod_count == 4
    a.update(delay_spec(reachable=False))
    assert a.scale(62.0).desired_pod_count == 0


def test_zero_delay_scales_down_at_once() -> None:
    m = FakeMetrics(40, 40)
    a = Autoscaler(delay_spec(reachable=False, delay=0), m, FakePods(0), 0.0)
    assert a.scale(0.0).desired_pod_count == 4
    m.set(20, 20)
    assert a.scale(0.5).desired_pod_count == 2


def test_delay_window_is_chosen_at_construction() -> None:
    m = FakeMetrics(40, 40)
    a = Autoscaler(delay_spec(delay=0), m, FakePods(0), 0.0)
    a.update(delay_spec(delay=300))
    assert a.scale(2.0).desired_pod_count == 4
    m.set(0, 0)
    assert a.scale(4.0).desired_pod_count == 0


@pytest.mark.parametrize(
    ("x", "want"),
    [
        pytest.param(3.9, 3, id="truncates"),
        pytest.param(-3.9, -3, id="toward-zero"),
        pytest.param(2.0**31, -(2**31), id="overflow"),
        pytest.param(math.nan, -(2**31), id="nan"),
        pytest.param(-math.inf, -(2**31), id="inf"),
    ],
)
def test_go_int32(x: float, want: int) -> None:
    assert go_int32(x) == want


def test_zero_target_does_not_raise() -> None:
    a = Autoscaler(DeciderSpec(), FakeMetrics(5, 5), FakePods(0), T0)
    got = a.scale(T0)
    assert got.scale_valid
    assert got.desired_pod_count == 0  # ceil(5/0)=+Inf clamped by max_up = ceil(0*1)=0


@pytest.mark.parametrize(
    ("tbc", "initial", "total", "want"),
    [
        pytest.param(-1, 1, 100, -1, id="unlimited"),
        pytest.param(0, 1, 100, 0, id="zero"),
        pytest.param(211, 1, 100, -111, id="default-tbc"),
        pytest.param(211, 3, 100, 89, id="initial-3"),
        pytest.param(10.5, 1, 10, 0, id="truncates-toward-zero"),
    ],
)
def test_initial_excess_burst_capacity(tbc: float, initial: int, total: float, want: int) -> None:
    s = DeciderSpec(total_value=total, target_burst_capacity=tbc, initial_scale=initial)
    assert initial_excess_burst_capacity(s) == want


@pytest.mark.parametrize(
    ("a", "b", "want"),
    [
        pytest.param(0, 5, True, id="zero-is-non-negative"),
        pytest.param(-1, 0, False, id="flip"),
        pytest.param(-3, -7, True, id="both-negative"),
    ],
)
def test_same_sign(a: int, b: int, want: bool) -> None:
    assert same_sign(a, b) is want
