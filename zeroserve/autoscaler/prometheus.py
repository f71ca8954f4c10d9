"""Prometheus gauges of the deciders (Knative ``pkg/autoscaler/scaling/metrics.go``).

Per revision (labels ``namespace``, ``revision``): desired and ready instances, observed stable
and panic load and the per-instance target (label ``metric``: concurrency, rps, cpu, memory),
panic mode (0/1) and excess burst capacity. The gauges live on the ``CollectorRegistry`` passed
in (never the global one), so several servers (and tests) can run in one process.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Gauge

from zeroserve.autoscaler.collector import DeciderKey
from zeroserve.autoscaler.scaling import ScaleResult
from zeroserve.observability.metrics import Attrs, AutoscalerMetrics, revision_attrs


def _no_owners(_key: DeciderKey) -> tuple[str, str]:
    return ("", "")


@dataclass(frozen=True, slots=True)
class KnativeScaling:
    """Knative's ``kn.revision.*`` scaling gauges beside zeroserve's: the instruments, and each
    revision's (Service, Configuration) names for their attributes."""

    metrics: AutoscalerMetrics
    owners: Callable[[DeciderKey], tuple[str, str]] = _no_owners

    def attrs(self, key: DeciderKey) -> Attrs:
        return revision_attrs(key.namespace, key.revision, *self.owners(key))


_KEY = ("namespace", "revision")
_METRIC = (*_KEY, "metric")


class DeciderGauges:
    def __init__(self, registry: CollectorRegistry, knative: KnativeScaling | None = None) -> None:
        self._knative = knative

        def gauge(name: str, doc: str, labels: tuple[str, ...] = _KEY) -> Gauge:
            return Gauge(f"zeroserve_autoscaler_{name}", doc, labels, registry=registry)

        self.desired = gauge("desired_pods", "Instances the autoscaler wants (-1: no decision yet).")
        self.ready = gauge("ready_pods", "Ready instances the last decision saw.")
        self.stable = gauge("stable_observed", "Revision-wide load averaged over the stable window.", _METRIC)
        self.panic = gauge("panic_observed", "Revision-wide load averaged over the panic window.", _METRIC)
        self.target = gauge("target", "Per-instance target of the scaling metric.", _METRIC)
        self.panic_mode = gauge("panic_mode", "1 while the decider is in panic mode.")
        self.excess = gauge("excess_burst_capacity", "Spare capacity beyond the target burst capacity.")
        self._metrics: dict[DeciderKey, str] = {}

    def observe(
        self, key: DeciderKey, metric: str, target: float, desired: int, ebc: int, result: ScaleResult | None
    ) -> None:
        """Publish a decider's state after a tick (``result`` None or invalid: only desired/EBC)."""
        labels = (key.namespace, key.revision)
        old = self._metrics.get(key)
        if old is not None and old != metric:
            self._remove_metric(key, old)
        self._metrics[key] = metric
        self.desired.labels(*labels).set(desired)
        self.excess.labels(*labels).set(ebc)
        self.target.labels(*labels, metric).set(target)
        if self._knative is not None:
            self._observe_knative(key, metric, target, desired, ebc, result)
        if result is None or not result.scale_valid:
            return
        self.panic_mode.labels(*labels).set(1 if result.in_panic else 0)
        if result.ready_pods is not None:
            self.ready.labels(*labels).set(result.ready_pods)
        if result.observed_stable is not None:
            self.stable.labels(*labels, metric).set(result.observed_stable)
        if result.observed_panic is not None:
            self.panic.labels(*labels, metric).set(result.observed_panic)

    def _observe_knative(
        self, key: DeciderKey, metric: str, target: float, desired: int, ebc: int, result: ScaleResult | None
    ) -> None:
        """``scalingMetrics.Record``/``SetPanic`` after a tick (``kn.revision.pods.count`` is the KPA reconciler's)."""
        assert self._knative is not None
        valid = result is not None and result.scale_valid
        a = self._knative.attrs(key)
        self._knative.metrics.decider(
            a,
            metric,
            desired=desired,
            excess=ebc,
            panic=result.in_panic if valid and result is not None else None,
            stable=result.observed_stable if valid and result is not None else None,
            panicked=result.observed_panic if valid and result is not None else None,
            target=target,
        )

    def _remove_metric(self, key: DeciderKey, metric: str) -> None:
        for g in (self.stable, self.panic, self.target):
            with contextlib.suppress(KeyError):
                g.remove(key.namespace, key.revision, metric)

    def forget(self, key: DeciderKey) -> None:
        if self._knative is not None:
            self._knative.metrics.forget(revision_attrs(key.namespace, key.revision))
        metric = self._metrics.pop(key, None)
        if metric is not None:
            self._remove_metric(key, metric)
        for g in (self.desired, self.ready, self.panic_mode, self.excess):
            with contextlib.suppress(KeyError):
                g.remove(key.namespace, key.revision)
