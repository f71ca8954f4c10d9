"""Pure KPA scaling: bounds, initial scale, scale-to-zero gating, SKS mode, Active (scaler_test.go, kpa_test.go)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from zeroserve.api.autoscaling import PA_CONDITIONS, PodAutoscaler
from zeroserve.api.meta import Condition, ObjectMeta
from zeroserve.api.networking import ServerlessService, ServerlessServiceSpec
from zeroserve.clock import rfc3339
from zeroserve.config import AutoscalerConfig, Config
from zeroserve.controller.reconcilers.kpa import (
    ScaleOutcome,
    compute_active_condition,
    compute_scale,
    compute_status,
    sks_mode,
)
from zeroserve.controller.resources.sks import num_activators

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
CFG = Config()


def pa(
    active: str | None = None,
    since: float = 0.0,
    annotations: dict[str, str] | None = None,
    *,
    initialized: bool = False,
    reachability: str = "Reachable",
) -> PodAutoscaler:
    p = PodAutoscaler.model_validate(
        {
            "metadata": {"name": "hello-00001", "namespace": "default", "annotations": annotations or {}},
            "spec": {
                "reachability": reachability,
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "D", "name": "x"},
            },
        }
    )
    when = rfc3339(NOW - timedelta(seconds=since))
    if active is not None:
        p.status.conditions.append(Condition(type="Active", status=active, last_transition_time=when))
    if initialized:
        p.status.conditions.append(Condition(type="ScaleTargetInitialized", status="True", last_transition_time=when))
    return p


def sks(mode: str = "Serve", proxy_for: float | None = None) -> ServerlessService:
    s = ServerlessService(metadata=ObjectMeta(name="hello-00001"), spec=ServerlessServiceSpec(mode=mode))
    if proxy_for is not None:
        when = rfc3339(NOW - timedelta(seconds=proxy_for))
        s.status.conditions.append(
            Condition(type="ActivatorEndpointsPopulated", status="True", last_transition_time=when)
        )
    return s


def cfg(**autoscaler: object) -> Config:
    return dataclasses.replace(CFG, autoscaler=dataclasses.replace(AutoscalerConfig(), **autoscaler))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("p", "s", "desired", "config", "want"),
    [
        pytest.param(pa("True", 10), sks(), 5, CFG, ScaleOutcome(5, True), id="scale-up-applied"),
        pytest.param(pa("True", 10), sks(), -1, CFG, ScaleOutcome(-1, False), id="no-metrics-yet"),
        pytest.param(pa("Unknown", 10), sks(), -1, CFG, ScaleOutcome(-1, False, 630.0), id="activating-waits"),
        pytest.param(
            pa("Unknown", 36, {"serving.knative.dev/progress-deadline": "5s"}),
            sks(),
            -1,
            CFG,
            ScaleOutcome(0, True),
            id="activation-timed-out-with-progress-deadline",
        ),
        pytest.param(pa("Unknown", 631), sks(), 0, CFG, ScaleOutcome(0, True), id="activation-timeout-default"),
        pytest.param(pa("True", 10), sks(), 0, CFG, ScaleOutcome(1, True, 50.0), id="hold-one-for-stable-window"),
        pytest.param(
            pa("True", 10, {"autoscaling.knative.dev/window": "6s"}),
            sks(),
            0,
            CFG,
            ScaleOutcome(0, False),
            id="window-annotation-passed",
        ),
        pytest.param(pa("True", 60), sks(), 0, CFG, ScaleOutcome(0, False), id="active-long-enough-goes-inactive"),
        pytest.param(pa("True", 60), sks("Proxy"), 0, CFG, ScaleOutcome(0, False, 3.0), id="already-proxy-requeue"),
        pytest.param(pa("False", 0), sks("Proxy"), 0, CFG, ScaleOutcome(0, False, 1.0), id="activator-not-in-path"),
        pytest.param(pa("False", 0), sks("Proxy", 0), 0, CFG, ScaleOutcome(0, False, 30.0), id="grace-from-proxy"),
        pytest.param(pa("False", 5), sks("Proxy", 12), 0, CFG, ScaleOutcome(0, False, 18.0), id="grace-partly"),
        pytest.param(pa("False", 5), sks("Proxy", 31), 0, CFG, ScaleOutcome(0, True), id="proxy-past-grace"),
        pytest.param(pa("False", 30), sks("Proxy", 1), 0, CFG, ScaleOutcome(0, True), id="inactive-past-grace"),
        pytest.param(
            pa("False", 10, {"autoscaling.knative.dev/target-burst-capacity": "-1"}),
            sks("Proxy"),
            0,
            cfg(scale_to_zero_grace_period=5.0),
            ScaleOutcome(0, True),
            id="tbc-minus-one-skips-probe",
        ),
        pytest.param(
            pa("False", 40, {"autoscaling.knative.dev/scale-to-zero-pod-retention-period": "90s"}),
            sks("Proxy", 40),
            0,
            CFG,
            ScaleOutcome(0, False, 50.0),
            id="retention-period",
        ),
        pytest.param(
            pa(
                "False",
                40,
                {"autoscaling.knative.dev/scale-to-zero-pod-retention-period": "90s"},
                reachability="Unreachable",
            ),
            sks("Proxy", 40),
            0,
            CFG,
            ScaleOutcome(0, True),
            id="retention-ignored-when-unreachable",
        ),
        pytest.param(pa("True", 100), sks(), 0, cfg(enable_scale_to_zero=False), ScaleOutcome(1, True), id="no-s2z"),
        pytest.param(
            pa("True", 100, {"autoscaling.knative.dev/min-scale": "2"}), sks(), 0, CFG, ScaleOutcome(2, True), id="min"
        ),
        pytest.param(
            pa("True", 100, {"autoscaling.knative.dev/max-scale": "3"}), sks(), 10, CFG, ScaleOutcome(3, True), id="max"
        ),
        pytest.param(pa("True", 100), sks(), 10, cfg(max_scale=4), ScaleOutcome(4, True), id="max-from-config"),
        pytest.param(
            pa("False", 100, {"autoscaling.knative.dev/minScale": "2"}, reachability="Unreachable"),
            sks("Proxy", 100),
            0,
            CFG,
            ScaleOutcome(0, True),
            id="min-ignored-when-unreachable",
        ),
        pytest.param(
            pa("Unknown", 1, {"autoscaling.knative.dev/initial-scale": "3"}),
            sks(),
            -1,
            CFG,
            ScaleOutcome(3, True),
            id="initial-scale-until-initialized",
        ),
        pytest.param(
            pa("True", 1, {"autoscaling.knative.dev/initial-scale": "3"}, initialized=True),
            sks(),
            1,
            CFG,
            ScaleOutcome(1, True),
            id="initial-scale-not-after-initialized",
        ),
    ],
)
def test_compute_scale(
    p: PodAutoscaler, s: ServerlessService, desired: int, config: Config, want: ScaleOutcome
) -> None:
    assert compute_scale(p, s, desired, config, NOW) == want


@pytest.mark.parametrize(
    ("want", "ebc", "inactive", "mode"),
    [
        pytest.param(1, 0, False, "Serve", id="capacity"),
        pytest.param(3, 89, False, "Serve", id="spare"),
        pytest.param(2, -11, False, "Proxy", id="no-burst-capacity"),
        pytest.param(0, 5, False, "Proxy", id="zero"),
        pytest.param(-1, 5, True, "Proxy", id="unknown-inactive"),
        pytest.param(-1, 5, False, "Proxy", id="unknown-active"),
    ],
)
def test_sks_mode(want: int, ebc: int, inactive: bool, mode: str) -> None:
    assert sks_mode(want, ebc, inactive) == mode


@pytest.mark.parametrize(
    ("ready", "total", "tbc", "capacity", "n"),
    [
        pytest.param(5, 100.0, 0.0, 100.0, 2, id="tbc-zero"),
        pytest.param(0, 100.0, 211.0, 100.0, 3, id="default-at-zero"),
        pytest.param(3, 100.0, 211.0, 100.0, 6, id="three-ready"),
        pytest.param(1, 10.0, -1.0, 100.0, 2, id="tbc-minus-one"),
        pytest.param(50, 100.0, -1.0, 100.0, 50, id="tbc-minus-one-many"),
    ],
)
def test_num_activators(ready: int, total: float, tbc: float, capacity: float, n: int) -> None:
    assert num_activators(ready, total, tbc, capacity) == n


@pytest.mark.parametrize(
    ("active", "want", "ready", "annotations", "expected"),
    [
        pytest.param("True", 0, 1, {}, ("False", "NoTraffic"), id="want-zero"),
        pytest.param("Unknown", 0, 0, {}, ("False", "TimedOut"), id="activation-timed-out"),
        pytest.param("Unknown", 1, 0, {}, ("Unknown", "Queued"), id="activating"),
        pytest.param("True", -1, 0, {}, ("Unknown", "Queued"), id="active-lost-instances"),
        pytest.param("False", -1, 0, {}, ("False", "NoTraffic"), id="inactive-no-data"),
        pytest.param("False", 2, 0, {}, ("Unknown", "Queued"), id="scale-from-zero"),
        pytest.param("Unknown", 1, 1, {}, ("True", None), id="activated"),
        pytest.param("False", -1, 1, {}, ("False", None), id="inactive-unchanged"),
        pytest.param("Unknown", 2, 2, {"autoscaling.knative.dev/initial-scale": "3"}, ("Unknown", "Queued"), id="init"),
        pytest.param(
            "Unknown",
            -1,
            0,
            {"autoscaling.knative.dev/initial-scale": "0"},
            ("False", "NoTraffic"),
            id="initial-zero",
        ),
    ],
)
def test_active_condition(
    active: str, want: int, ready: int, annotations: dict[str, str], expected: tuple[str, str | None]
) -> None:
    p = pa(active, 5, annotations)
    config = cfg(allow_zero_initial_scale=True)
    cm = PA_CONDITIONS.manage(p.status, NOW)
    compute_active_condition(p, cm, want, ready, config)
    c = p.status.get_condition("Active")
    assert c is not None and (c.status, c.reason) == expected


def test_status_keeps_a_known_desired_scale_over_a_restart() -> None:
    p = pa("True", 5)
    p.status.desired_scale = 3
    compute_status(p, PA_CONDITIONS.manage(p.status, NOW), -1, 3, CFG)
    assert (p.status.desired_scale, p.status.actual_scale) == (3, 3)
    compute_status(p, PA_CONDITIONS.manage(p.status, NOW), 0, 3, CFG)
    assert p.status.desired_scale == 0


def test_scale_target_initialized_needs_a_service_name() -> None:
    p = pa("Unknown", 5)
    compute_active_condition(p, PA_CONDITIONS.manage(p.status, NOW), 1, 1, CFG)
    assert p.status.get_condition("ScaleTargetInitialized") is None
    p.status.service_name = "hello-00001"
    compute_active_condition(p, PA_CONDITIONS.manage(p.status, NOW), 1, 1, CFG)
    assert p.status.is_scale_target_initialized()


@pytest.mark.parametrize(
    ("p", "s", "desired", "reason"),
    [
        pytest.param(pa("True", 10), sks(), 5, "", id="the-decider-alone"),
        pytest.param(pa("True", 10, {"autoscaling.knative.dev/min-scale": "2"}), sks(), 1, "min-scale 2", id="min"),
        pytest.param(pa("True", 10, {"autoscaling.knative.dev/max-scale": "3"}), sks(), 8, "max-scale 3", id="max"),
        pytest.param(
            pa("True", 10, {"autoscaling.knative.dev/initial-scale": "3"}), sks(), 1, "initial-scale 3", id="initial"
        ),
        pytest.param(pa("True", 10), sks(), 0, "holding 1 until active for a stable window", id="hold-one"),
        pytest.param(pa("False", 5), sks("Proxy", proxy_for=5), 0, "grace period pending", id="grace"),
        pytest.param(pa("False", 40), sks("Proxy", proxy_for=40), 0, "scaled to zero", id="zero"),
    ],
)
def test_explain_names_why_the_applied_scale_differs(
    p: PodAutoscaler, s: ServerlessService, desired: int, reason: str
) -> None:
    assert compute_scale(p, s, desired, CFG, NOW).reason == reason
