"""A PodAutoscaler of the HPA class as a Kubernetes autoscaling/v2 HorizontalPodAutoscaler
(controller/resources/hpa.py, pure): Knative's MakeHPA facts, valid against Kubernetes' schemas."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.support.kubeschema import validate
from zeroserve.api.autoscaling import PodAutoscaler
from zeroserve.api.base import Obj
from zeroserve.config import AutoscalerConfig, Config
from zeroserve.controller.resources.hpa import defaulted_spec, make_hpa, spec_matches

CLASS = {"autoscaling.knative.dev/class": "hpa.autoscaling.knative.dev"}


def pa(annotations: dict[str, str], reachability: str = "Reachable") -> PodAutoscaler:
    return PodAutoscaler.model_validate(
        {
            "metadata": {
                "name": "hello-00001",
                "namespace": "ns",
                "uid": "pa-uid",
                "labels": {"serving.knative.dev/revision": "hello-00001"},
                "annotations": {**CLASS, **annotations},
            },
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "hello-00001-deployment"},
                "reachability": reachability,
            },
        }
    )


def test_a_plain_hpa() -> None:
    hpa = make_hpa(pa({}), Config())
    validate(hpa)
    assert (hpa["apiVersion"], hpa["kind"]) == ("autoscaling/v2", "HorizontalPodAutoscaler")
    assert hpa["metadata"] == {
        "name": "hello-00001",
        "namespace": "ns",
        "labels": {"serving.knative.dev/revision": "hello-00001"},
        "annotations": CLASS,
        "ownerReferences": [
            {
                "apiVersion": "autoscaling.internal.knative.dev/v1alpha1",
                "kind": "PodAutoscaler",
                "name": "hello-00001",
                "uid": "pa-uid",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    }
    assert hpa["spec"] == {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "hello-00001-deployment"},
        "maxReplicas": 2147483647,  # no max-scale: no limit
    }


@pytest.mark.parametrize(
    ("annotations", "metric"),
    [
        pytest.param(
            {"autoscaling.knative.dev/metric": "cpu", "autoscaling.knative.dev/target": "70.2"},
            {
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 71}},
            },
            id="cpu",
        ),
        pytest.param(
            {"autoscaling.knative.dev/target": "50"},
            {
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}},
            },
            id="cpu-by-default",
        ),
        pytest.param(
            {"autoscaling.knative.dev/metric": "memory", "autoscaling.knative.dev/target": "1024.9"},
            {
                "type": "Resource",
                "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "1Gi"}},
            },
            id="memory",
        ),
        pytest.param(
            {"autoscaling.knative.dev/metric": "memory", "autoscaling.knative.dev/target": "75"},
            {
                "type": "Resource",
                "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "75Mi"}},
            },
            id="memory-mi",
        ),
        pytest.param(
            {"autoscaling.knative.dev/metric": "http_requests", "autoscaling.knative.dev/target": "2000.5"},
            {
                "type": "Pods",
                "pods": {"metric": {"name": "http_requests"}, "target": {"type": "AverageValue", "averageValue": "2k"}},
            },
            id="pods",
        ),
    ],
)
def test_the_metric(annotations: dict[str, str], metric: Obj) -> None:
    hpa = make_hpa(pa(annotations), Config())
    validate(hpa)
    assert hpa["spec"]["metrics"] == [metric]


@pytest.mark.parametrize(
    ("annotations", "reachability", "config", "bounds"),
    [
        (
            {"autoscaling.knative.dev/min-scale": "2", "autoscaling.knative.dev/max-scale": "9"},
            "Reachable",
            AutoscalerConfig(),
            (2, 9),
        ),
        (
            {"autoscaling.knative.dev/minScale": "3"},
            "",
            AutoscalerConfig(),
            (3, 2147483647),
        ),  # the legacy key counts too
        ({"autoscaling.knative.dev/min-scale": "2"}, "Unreachable", AutoscalerConfig(), (None, 2147483647)),
        ({}, "Reachable", AutoscalerConfig(min_scale=4, max_scale=8), (4, 8)),
    ],
)
def test_the_bounds(
    annotations: dict[str, str], reachability: str, config: AutoscalerConfig, bounds: tuple[int | None, int]
) -> None:
    cfg = replace(Config(), autoscaler=config)
    hpa = make_hpa(pa(annotations, reachability), cfg)
    validate(hpa)
    assert (hpa["spec"].get("minReplicas"), hpa["spec"]["maxReplicas"]) == bounds


def test_the_window_stabilizes_both_ways() -> None:
    hpa = make_hpa(pa({"autoscaling.knative.dev/window": "2m30s"}), Config())
    validate(hpa)
    window = {"stabilizationWindowSeconds": 150}
    assert hpa["spec"]["behavior"] == {"scaleDown": window, "scaleUp": window}


def test_kube_apiservers_defaults_are_not_a_change() -> None:
    """pkg/apis/autoscaling/v2/defaults.go (Kubernetes 1.33): what the cluster stores of a plain HPA
    and of one with a window; a stored spec that differs otherwise is a change."""
    plain = make_hpa(pa({}), Config())["spec"]
    stored = defaulted_spec(plain)
    validate({**make_hpa(pa({}), Config()), "spec": stored})
    assert stored == {
        **plain,
        "minReplicas": 1,
        "metrics": [
            {
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
            }
        ],
    }
    assert spec_matches(plain, stored) and spec_matches(plain, plain)
    assert not spec_matches(plain, {**stored, "minReplicas": 2})
    windowed = make_hpa(
        pa({"autoscaling.knative.dev/window": "1m", "autoscaling.knative.dev/min-scale": "2"}), Config()
    )
    behavior = defaulted_spec(windowed["spec"])["behavior"]
    assert behavior == {
        "scaleUp": {
            "stabilizationWindowSeconds": 60,
            "selectPolicy": "Max",
            "policies": [
                {"type": "Pods", "value": 4, "periodSeconds": 15},
                {"type": "Percent", "value": 100, "periodSeconds": 15},
            ],
        },
        "scaleDown": {
            "stabilizationWindowSeconds": 60,
            "selectPolicy": "Max",
            "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
        },
    }
    assert defaulted_spec(windowed["spec"])["minReplicas"] == 2
    assert windowed["spec"]["behavior"]["scaleUp"] == {"stabilizationWindowSeconds": 60}, "the built one is kept"
