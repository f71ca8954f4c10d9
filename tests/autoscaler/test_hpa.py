"""The HPA class as Kubernetes runs it: Knative's MakeHPA (pkg/reconciler/autoscaling/hpa/resources/
hpa.go), the replica calculator, autoscaling/v2's default behavior (stabilization, Pods/Percent
policies, selectPolicy Max), tolerance and the 15 s sync (kubernetes pkg/controller/podautoscaler)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from zeroserve.api import annotations as ann
from zeroserve.autoscaler import hpa
from zeroserve.autoscaler.hpa import (
    DEFAULT_SCALE_DOWN,
    DEFAULT_SCALE_UP,
    HpaAutoscaler,
    HpaSpec,
    ScalingPolicy,
    ScalingRules,
    make_hpa_spec,
    replica_count,
)
from zeroserve.config import AutoscalerConfig

MIB = 1024 * 1024
EVERY_CALL = 0.0
"""A sync period of 0: every call decides (the algorithm alone)."""


@dataclass(frozen=True)
class U:
    memory_bytes: int | None = None
    cpu_seconds: float | None = None


def mem(*mib: int) -> list[U]:
    return [U(memory_bytes=m * MIB) for m in mib]


def memory_spec(**changes: object) -> HpaSpec:
    return replace(HpaSpec(metric="memory", target=100.0, sync_period=EVERY_CALL), **changes)  # type: ignore[arg-type]


def windows(up: float, down: float) -> dict[str, ScalingRules]:
    return {
        "scale_up": replace(DEFAULT_SCALE_UP, stabilization_window=up),
        "scale_down": replace(DEFAULT_SCALE_DOWN, stabilization_window=down),
    }


@pytest.mark.parametrize(
    ("current", "ready", "unready", "average", "target", "want"),
    [
        pytest.param(1, 1, 0, 160.0, 80.0, 2, id="double"),
        pytest.param(3, 3, 0, 40.0, 80.0, 2, id="halve-ceil"),
        pytest.param(2, 2, 0, 87.0, 80.0, 2, id="within-tolerance-up"),
        pytest.param(2, 2, 0, 73.0, 80.0, 2, id="within-tolerance-down"),
        pytest.param(2, 2, 0, 89.0, 80.0, 3, id="just-above-tolerance"),
        pytest.param(4, 4, 0, 0.0, 80.0, 0, id="idle"),
        pytest.param(5, 5, 0, 10.0, 0.0, 5, id="no-target"),
        pytest.param(4, 2, 0, 160.0, 80.0, 4, id="ceil-of-ready-pods-times-ratio"),
        pytest.param(3, 2, 1, 160.0, 80.0, 4, id="scale-up-counts-unready-at-zero"),
        pytest.param(4, 2, 2, 120.0, 80.0, 4, id="unready-turn-it-into-a-scale-down-keeps"),
        pytest.param(3, 2, 1, 40.0, 80.0, 1, id="scale-down-ignores-unready"),
    ],
)
def test_replica_count(current: int, ready: int, unready: int, average: float, target: float, want: int) -> None:
    """replica_calculator.go GetResourceReplicas: ceil(ratio x ready pods), unready pods at 0 on a scale-up."""
    assert replica_count(current, ready, unready, average, target) == want


def test_scale_up_is_limited_by_the_default_policies_per_15_s() -> None:
    """Pods 4 / 15 s or Percent 100 / 15 s, whichever allows more (selectPolicy Max)."""
    a = HpaAutoscaler(memory_spec())
    first = a.scale(0.0, mem(1000))
    assert first.desired_pod_count == 5 and hpa.SCALE_UP_LIMIT in first.reasons  # max(1 + 4, 1 x 2)
    again = a.scale(10.0, mem(*[1000] * 5))
    assert again.desired_pod_count == 5, "the 4 added at t=0 still count within the period"
    later = a.scale(15.0, mem(*[1000] * 5))
    assert later.desired_pod_count == 10 and hpa.SCALE_UP_LIMIT in later.reasons  # max(5 + 4, 5 x 2)


def test_scale_down_waits_300_s_then_goes_as_far_as_it_needs() -> None:
    a = HpaAutoscaler(memory_spec())
    assert a.scale(0.0, mem(100, 100, 100, 100)).desired_pod_count == 4
    r = a.scale(10.0, mem(10, 10, 10, 10))
    assert r.desired_pod_count == 4 and hpa.STABILIZED_DOWN in r.reasons
    assert a.scale(299.0, mem(10, 10, 10, 10)).desired_pod_count == 4  # t=0 is within (-1, 299]
    assert a.scale(300.0, mem(10, 10, 10, 10)).desired_pod_count == 1  # after the cutoff; Percent 100: to min


def test_the_window_annotation_sets_both_stabilization_windows() -> None:
    a = HpaAutoscaler(memory_spec(**windows(6.0, 6.0)))
    assert a.scale(0.0, mem(100)).desired_pod_count == 1
    r = a.scale(2.0, mem(300))
    assert r.desired_pod_count == 1 and hpa.STABILIZED_UP in r.reasons
    assert a.scale(7.0, mem(300)).desired_pod_count == 3


def test_bounds_apply_after_the_policies_and_before_any_metric() -> None:
    a = HpaAutoscaler(memory_spec(max_scale=4))
    r = a.scale(0.0, mem(300, 300))
    assert (r.desired_pod_count, r.ready_pods) == (4, 2) and hpa.MAX_BOUND in r.reasons  # ceil(2 x 3) = 6
    shrunk = HpaAutoscaler(memory_spec(max_scale=2))
    shrunk.scale(0.0, mem(100, 100))
    a.update(memory_spec(max_scale=2))
    over = a.scale(1.0, mem(100, 100, 100, 100))
    assert over.desired_pod_count == 2 and over.reasons == (hpa.MAX_BOUND,), "current above max: max, no metric"
    idle = HpaAutoscaler(memory_spec(**windows(0.0, 0.0))).scale(0.0, mem(0, 0))
    assert idle.desired_pod_count == 1 and hpa.MIN_BOUND in idle.reasons


def test_a_policy_that_allows_fewer_limits_a_scale_down() -> None:
    slow = ScalingRules(0.0, (ScalingPolicy("Pods", 1, 60.0),))
    a = HpaAutoscaler(memory_spec(scale_down=slow))
    a.scale(0.0, mem(*[100] * 4))
    assert a.scale(1.0, mem(*[10] * 4)).desired_pod_count == 3
    r = a.scale(2.0, mem(*[10] * 3))
    assert r.desired_pod_count == 3 and hpa.SCALE_DOWN_LIMIT in r.reasons, "no room left in the period"
    assert a.scale(62.0, mem(*[10] * 3)).desired_pod_count == 2


def test_one_decision_per_sync_period() -> None:
    a = HpaAutoscaler(HpaSpec(metric="memory", target=100.0))
    assert a.scale(0.0, mem(300)).desired_pod_count == 3
    assert a.scale(2.0, mem(900, 900, 900)).desired_pod_count == 3, "the last decision until t=15"
    assert a.scale(15.0, mem(900, 900, 900)).desired_pod_count == 7  # ScaleUpLimit: 3 + 4


def test_cpu_needs_two_readings_of_the_same_instances() -> None:
    a = HpaAutoscaler(HpaSpec(metric="cpu", target=50.0, cpu_request=0.5, sync_period=EVERY_CALL))
    first = a.scale(0.0, [U(cpu_seconds=10.0), U(cpu_seconds=20.0)])
    assert not first.scale_valid and first.reasons == (hpa.MEASURING,)
    # 2 instances used 2 cores for 1 s together: 1 core each = 200 % of a 0.5 request; target 50 %: x4.
    r = a.scale(1.0, [U(cpu_seconds=11.0), U(cpu_seconds=21.0)])
    assert r.scale_valid and r.observed_stable == pytest.approx(200.0) and r.desired_pod_count == 6  # max(2+4, 4)
    changed = a.scale(2.0, [U(cpu_seconds=12.0), U(cpu_seconds=22.0), U(cpu_seconds=0.0)])
    assert not changed.scale_valid  # a third instance: new baseline


def test_a_pods_metric_is_averaged_per_instance_and_one_without_values_keeps_the_count() -> None:
    spec = HpaSpec(metric="concurrency", target=10.0, sync_period=EVERY_CALL)
    assert spec.pods_metric and spec.measurable
    r = HpaAutoscaler(spec).scale(0.0, [U(), U()], pods_total=60.0)  # 30 per instance against 10
    assert (r.observed_stable, r.desired_pod_count) == (30.0, 6)
    custom = HpaSpec(metric="http_requests", target=10.0, sync_period=EVERY_CALL)
    assert custom.pods_metric and not custom.measurable
    none = HpaAutoscaler(custom).scale(0.0, [U()], pods_total=None)
    assert not none.scale_valid and none.reasons[0].startswith(hpa.FAILED_GET_PODS_METRIC)


def test_unaccounted_usage_and_no_instances_are_invalid() -> None:
    a = HpaAutoscaler(memory_spec())
    assert a.scale(0.0, [U()]).reasons == (hpa.NO_USAGE,)
    assert a.scale(0.0, []).reasons == (hpa.NO_INSTANCES,)


@pytest.mark.parametrize(
    ("annotations", "want"),
    [
        pytest.param({}, HpaSpec(metric="cpu", target=80.0), id="no-target-no-metric-cpu-80"),
        pytest.param({ann.METRIC: "memory"}, HpaSpec(metric="cpu", target=80.0), id="memory-without-target-cpu-80"),
        pytest.param({ann.TARGET: "50.5"}, HpaSpec(metric="cpu", target=51.0), id="cpu-ceil"),
        pytest.param(
            {ann.METRIC: "memory", ann.TARGET: "75.9", ann.WINDOW: "6s"},
            HpaSpec(metric="memory", target=75.0, stable_window=6.0, **windows(6.0, 6.0)),  # type: ignore[arg-type]
            id="memory-int64-and-window",
        ),
        pytest.param(
            {ann.METRIC: "concurrency", ann.TARGET: "10.7"},
            HpaSpec(metric="concurrency", target=10.0),
            id="pods-metric-int64",
        ),
    ],
)
def test_make_hpa_spec(annotations: dict[str, str], want: HpaSpec) -> None:
    """MakeHPA: a metric only with a target (Kubernetes then defaults to CPU 80 %); windows only when set."""
    assert make_hpa_spec(annotations, AutoscalerConfig()) == want


def test_make_hpa_spec_bounds_request_and_defaults() -> None:
    spec = make_hpa_spec({}, AutoscalerConfig(), cpu_request=0.25, min_scale=0, max_scale=3)
    assert (spec.cpu_request, spec.min_scale, spec.max_scale) == (0.25, 1, 3)
    assert spec.scale_up == ScalingRules(0.0, (ScalingPolicy("Pods", 4, 15.0), ScalingPolicy("Percent", 100, 15.0)))
    assert spec.scale_down == ScalingRules(300.0, (ScalingPolicy("Percent", 100, 15.0),))
    assert (spec.tolerance, spec.sync_period) == (0.1, 15.0)
