"""Target resolution, windows and the decider spec (Knative resources/{target,metric}_test.go)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from zeroserve.autoscaler.scaling import DeciderSpec
from zeroserve.autoscaler.targets import (
    TARGET_MIN,
    aggregation_algorithm,
    initial_scale,
    make_decider_spec,
    panic_window,
    resolve_metric_target,
    scaling_metric,
    stable_window,
    windows,
)
from zeroserve.config import AutoscalerConfig

G = "autoscaling.knative.dev"
TEST_CFG = AutoscalerConfig(container_concurrency_target_fraction=1.0)  # Knative's test config
RPS = {f"{G}/metric": "rps"}


def tu(pct: str) -> dict[str, str]:
    return {f"{G}/target-utilization-percentage": pct}


def target(v: str) -> dict[str, str]:
    return {f"{G}/target": v}


@pytest.mark.parametrize(
    ("annotations", "cc", "fraction", "want"),
    [
        pytest.param({}, 0, None, (100, 100), id="defaults"),
        pytest.param({}, 0, 0.8, (80, 100), id="default-cc-80pct"),
        pytest.param(tu("75"), 12, 0.8, (9, 12), id="cc12-tu-annotation-75"),
        pytest.param({}, 10, 0.8, (8, 10), id="cc10-80pct"),
        pytest.param({}, 1, 0.8, (0.8, 1), id="cc1-80pct"),
        pytest.param({}, 1, None, (1, 1), id="cc1"),
        pytest.param({}, 10, None, (10, 10), id="cc10"),
        pytest.param(target("1"), 0, None, (1, 1), id="target-1"),
        pytest.param(target("1"), 0, 0.001, (TARGET_MIN, 1), id="target-floor"),
        pytest.param(target("1"), 0, 0.75, (0.75, 1), id="target-1-75pct"),
        pytest.param(target("10"), 0, 0.75, (7.5, 10), id="target-10-75pct"),
        pytest.param(target("1"), 10, None, (1, 1), id="target-below-cc"),
        pytest.param(target("500"), 0, None, (500, 500), id="target-above-default"),
        pytest.param(target("10"), 1, None, (1, 1), id="target-above-cc-capped"),
        pytest.param(target("not-a-number"), 0, None, (100, 100), id="bad-target-ignored"),
        pytest.param(RPS, 1, None, (140, 200), id="rps-defaults"),
        pytest.param({**RPS, **target("1")}, 0, None, (0.7, 1), id="rps-target-1"),
        pytest.param({**RPS, **tu("75")}, 0, None, (150, 200), id="rps-tu-75"),
        pytest.param({**RPS, **target("300")}, 0, None, (210, 300), id="rps-target-above-default"),
        pytest.param({**RPS, **target("300")}, 10, None, (210, 300), id="rps-target-not-capped-by-cc"),
        pytest.param({f"{G}/targetUtilizationPercentage": "50"}, 0, None, (50, 100), id="tu-legacy-alias"),
    ],
)
def test_resolve_metric_target(
    annotations: dict[str, str], cc: int, fraction: float | None, want: tuple[float, float]
) -> None:
    cfg = TEST_CFG if fraction is None else replace(TEST_CFG, container_concurrency_target_fraction=fraction)
    assert resolve_metric_target(annotations, cc, cfg) == pytest.approx(want, rel=1e-12)


def test_resolve_metric_target_with_knative_defaults() -> None:
    cfg = AutoscalerConfig()
    assert resolve_metric_target({}, 0, cfg) == (70, 100)
    assert resolve_metric_target(RPS, 0, cfg) == (140, 200)
    assert resolve_metric_target({**target("10"), **tu("100")}, 0, cfg) == (10, 10)


@pytest.mark.parametrize(
    ("annotations", "cfg", "want"),
    [
        pytest.param({}, AutoscalerConfig(), (60.0, 6.0), id="defaults"),
        pytest.param({f"{G}/window": "10s", f"{G}/panic-window-percentage": "10"}, TEST_CFG, (10.0, 1.0), id="10s"),
        pytest.param({f"{G}/window": "7s"}, TEST_CFG, (7.0, 1.0), id="clamped-to-bucket"),
        pytest.param({f"{G}/window": "10m"}, TEST_CFG, (600.0, 60.0), id="10m"),
        pytest.param({f"{G}/panic-window-percentage": "50"}, TEST_CFG, (60.0, 30.0), id="50pct"),
        pytest.param({f"{G}/panic-window-percentage": "51"}, TEST_CFG, (60.0, 31.0), id="51pct-rounds-up"),
        pytest.param({f"{G}/panicWindowPercentage": "25"}, TEST_CFG, (60.0, 15.0), id="legacy-alias"),
        pytest.param({f"{G}/window": "251s"}, TEST_CFG, (251.0, 25.0), id="251s"),
        pytest.param({f"{G}/window": "25s"}, TEST_CFG, (25.0, 3.0), id="2.5s-half-away"),
        pytest.param({f"{G}/window": "bogus"}, AutoscalerConfig(stable_window=30.0), (30.0, 3.0), id="bad-ignored"),
    ],
)
def test_windows(annotations: dict[str, str], cfg: AutoscalerConfig, want: tuple[float, float]) -> None:
    assert windows(annotations, cfg) == want
    assert (stable_window(annotations, cfg), panic_window(annotations, cfg)) == want


@pytest.mark.parametrize(
    ("annotations", "want"),
    [
        pytest.param({}, "concurrency", id="kpa-default"),
        pytest.param({f"{G}/class": "hpa.autoscaling.knative.dev"}, "cpu", id="hpa-default"),
        pytest.param({f"{G}/metric": "rps"}, "rps", id="explicit"),
        pytest.param({f"{G}/class": "other.example.com"}, "", id="unknown-class"),
    ],
)
def test_scaling_metric(annotations: dict[str, str], want: str) -> None:
    assert scaling_metric(annotations, AutoscalerConfig()) == want


@pytest.mark.parametrize(
    ("annotations", "allow_zero", "want"),
    [
        pytest.param({}, False, 1, id="cm-default"),
        pytest.param({f"{G}/initial-scale": "3"}, False, 3, id="annotation"),
        pytest.param({f"{G}/initialScale": "4"}, False, 4, id="legacy-alias"),
        pytest.param({f"{G}/initial-scale": "0"}, False, 1, id="zero-not-allowed"),
        pytest.param({f"{G}/initial-scale": "0"}, True, 0, id="zero-allowed"),
        pytest.param({f"{G}/initial-scale": "9999999999"}, False, 1, id="not-int32"),
    ],
)
def test_initial_scale(annotations: dict[str, str], allow_zero: bool, want: int) -> None:
    assert initial_scale(annotations, AutoscalerConfig(allow_zero_initial_scale=allow_zero)) == want


@pytest.mark.parametrize(
    ("annotations", "want"),
    [
        pytest.param({}, "linear", id="default"),
        pytest.param({f"{G}/metric-aggregation-algorithm": "weighted-exponential"}, "weighted-exponential", id="we"),
        pytest.param({f"{G}/metricAggregationAlgorithm": "weightedExponential"}, "weighted-exponential", id="alt"),
    ],
)
def test_aggregation_algorithm(annotations: dict[str, str], want: str) -> None:
    assert aggregation_algorithm(annotations, AutoscalerConfig()) == want


def test_make_decider_spec_defaults() -> None:
    got = make_decider_spec({}, 0, AutoscalerConfig())
    assert got == DeciderSpec(
        target_value=70.0,
        total_value=100.0,
        target_burst_capacity=211.0,
        panic_threshold=2.0,
        max_scale_up_rate=1000.0,
        max_scale_down_rate=2.0,
        stable_window=60.0,
        scale_down_delay=0.0,
        activation_scale=0,
        reachable=True,
        scaling_metric="concurrency",
        activator_capacity=100.0,
        initial_scale=1,
    )


def test_make_decider_spec_from_annotations() -> None:
    annotations = {
        f"{G}/target": "10",
        f"{G}/target-utilization-percentage": "100",
        f"{G}/targetBurstCapacity": "-1",
        f"{G}/panic-threshold-percentage": "150",
        f"{G}/scale-down-delay": "2m",
        f"{G}/activation-scale": "3",
        f"{G}/window": "6s",
    }
    got = make_decider_spec(annotations, 4, AutoscalerConfig(), reachable=False)
    assert (got.target_value, got.total_value) == (4.0, 4.0)
    assert got.target_burst_capacity == -1
    assert got.panic_threshold == 1.5
    assert got.scale_down_delay == 120.0
    assert got.activation_scale == 3
    assert got.stable_window == 6.0
    assert got.reachable is False
