"""The HPA class: Kubernetes' replica calculation, tolerance, stabilization, bounds, CPU rates."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from zeroserve.api import annotations as ann
from zeroserve.autoscaler import hpa
from zeroserve.autoscaler.hpa import HpaAutoscaler, HpaSpec, make_hpa_spec, replica_count
from zeroserve.config import AutoscalerConfig

MIB = 1024 * 1024


@dataclass(frozen=True)
class U:
    memory_bytes: int | None = None
    cpu_seconds: float | None = None


def mem(*mib: int) -> list[U]:
    return [U(memory_bytes=m * MIB) for m in mib]


@pytest.mark.parametrize(
    ("current", "average", "target", "want"),
    [
        pytest.param(1, 160.0, 80.0, 2, id="double"),
        pytest.param(3, 40.0, 80.0, 2, id="halve-ceil"),
        pytest.param(2, 87.0, 80.0, 2, id="within-tolerance-up"),
        pytest.param(2, 73.0, 80.0, 2, id="within-tolerance-down"),
        pytest.param(2, 89.0, 80.0, 3, id="just-above-tolerance"),
        pytest.param(4, 0.0, 80.0, 0, id="idle"),
        pytest.param(5, 10.0, 0.0, 5, id="no-target"),
    ],
)
def test_replica_count(current: int, average: float, target: float, want: int) -> None:
    assert replica_count(current, average, target) == want


def test_memory_scale_up_at_once_and_bounds() -> None:
    a = HpaAutoscaler(HpaSpec(metric="memory", target=100.0, max_scale=4))
    r = a.scale(0.0, mem(300, 300))
    assert (r.desired_pod_count, r.scale_valid, r.ready_pods) == (4, True, 2)  # ceil(2 x 3) = 6, capped
    assert hpa.MAX_BOUND in r.reasons


def test_scale_down_waits_for_the_window() -> None:
    a = HpaAutoscaler(HpaSpec(metric="memory", target=100.0, scale_down_window=300.0))
    assert a.scale(0.0, mem(100, 100, 100, 100)).desired_pod_count == 4
    r = a.scale(10.0, mem(10, 10, 10, 10))
    assert r.desired_pod_count == 4 and hpa.STABILIZED_DOWN in r.reasons
    assert a.scale(299.0, mem(10, 10, 10, 10)).desired_pod_count == 4  # t=0 is within (-1, 299]
    assert a.scale(300.0, mem(10, 10, 10, 10)).desired_pod_count == 1  # strictly after the cutoff; min 1
    idle = HpaAutoscaler(HpaSpec(metric="memory", target=100.0, scale_down_window=0.0)).scale(0.0, mem(0, 0))
    assert idle.desired_pod_count == 1 and hpa.MIN_BOUND in idle.reasons


def test_scale_up_window_takes_the_lowest_recommendation() -> None:
    a = HpaAutoscaler(HpaSpec(metric="memory", target=100.0, scale_up_window=6.0, scale_down_window=6.0))
    assert a.scale(0.0, mem(100)).desired_pod_count == 1
    r = a.scale(2.0, mem(500))
    assert r.desired_pod_count == 1 and hpa.STABILIZED_UP in r.reasons
    assert a.scale(7.0, mem(500)).desired_pod_count == 5


def test_cpu_needs_two_readings_of_the_same_instances() -> None:
    a = HpaAutoscaler(HpaSpec(metric="cpu", target=50.0, cpu_request=0.5, scale_down_window=0.0))
    first = a.scale(0.0, [U(cpu_seconds=10.0), U(cpu_seconds=20.0)])
    assert not first.scale_valid and first.reasons == (hpa.MEASURING,)
    # 2 instances used 2 cores for 1 s together: 1 core each = 200 % of a 0.5 request; target 50 %.
    r = a.scale(1.0, [U(cpu_seconds=11.0), U(cpu_seconds=21.0)])
    assert r.scale_valid and r.observed_stable == pytest.approx(200.0) and r.desired_pod_count == 8
    changed = a.scale(2.0, [U(cpu_seconds=12.0), U(cpu_seconds=22.0), U(cpu_seconds=0.0)])
    assert not changed.scale_valid  # a third instance: new baseline


def test_unaccounted_usage_and_no_instances_are_invalid() -> None:
    a = HpaAutoscaler(HpaSpec(metric="memory", target=100.0))
    assert a.scale(0.0, [U()]).reasons == (hpa.NO_USAGE,)
    assert a.scale(0.0, []).reasons == (hpa.NO_INSTANCES,)


@pytest.mark.parametrize(
    ("annotations", "want"),
    [
        pytest.param({}, HpaSpec(metric="cpu", target=80.0), id="defaults"),
        pytest.param({ann.TARGET: "50.5"}, HpaSpec(metric="cpu", target=51.0), id="cpu-ceil"),
        pytest.param(
            {ann.METRIC: "memory", ann.TARGET: "75", ann.WINDOW: "6s"},
            HpaSpec(metric="memory", target=75.0, scale_up_window=6.0, scale_down_window=6.0),
            id="memory-window",
        ),
    ],
)
def test_make_hpa_spec(annotations: dict[str, str], want: HpaSpec) -> None:
    assert make_hpa_spec(annotations, AutoscalerConfig()) == want


def test_make_hpa_spec_bounds_and_request() -> None:
    spec = make_hpa_spec({}, AutoscalerConfig(), cpu_request=0.25, min_scale=0, max_scale=3)
    assert (spec.cpu_request, spec.min_scale, spec.max_scale) == (0.25, 1, 3)
