"""The ``CustomResourceDefinitions`` (``apiextensions.k8s.io/v1``) of the kinds zeroserve reconciles
on a cluster, generated from the models.

Group, version, names (plural, singular, kind, short names, categories), scope, the ``status``
subresource and ``additionalPrinterColumns`` are Knative's (knative/serving
``config/core/300-resources/*.yaml``; the networking kinds' from knative/networking ``config/``),
so Knative's own manifests apply unchanged and ``kubectl get ksvc`` prints the same columns. The
schemas are :func:`zeroserve.api.schema.crd_schema` (structural: one tree, every node typed,
``x-kubernetes-preserve-unknown-fields`` where the models keep what they do not declare, as
Knative's podspec parts do), with one fix kube-apiserver needs: a ``map`` list's keys are declared
and required in its items (``env`` by ``name``, ``volumeMounts`` by ``mountPath``, ``volumes`` and
``imagePullSecrets`` by ``name``), as Knative's CRDs declare them.

Metric (``autoscaling.internal.knative.dev``) has no model in zeroserve's API (the autoscaler keeps
its metrics in memory): :class:`Metric` here is Knative's schema for it. Knative's Ingress and
Certificate (``networking.internal.knative.dev``) are not generated: zeroserve's gateway is the
ingress (docs/kubernetes.md).

Our CRDs are labelled ``app.kubernetes.io/name: zeroserve`` (Knative's say ``knative-serving``):
how a Knative Serving install on the same cluster is told apart. PURE.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any, Final, Literal

from pydantic import Field

from zeroserve import __version__
from zeroserve.api import kinds, printercolumns
from zeroserve.api.base import Int64, Model, Obj
from zeroserve.api.kinds import Kind
from zeroserve.api.meta import ObjectMeta, Status
from zeroserve.api.schema import LIST_MAP_KEYS, LIST_TYPE, Schema, crd_schema

API_VERSION: Final = "apiextensions.k8s.io/v1"
NAME: Final = "zeroserve"
LABELS: Final = {
    "app.kubernetes.io/name": NAME,
    "app.kubernetes.io/version": __version__,
    "knative.dev/crd-install": "true",
}
"""On every CRD; Knative's CRDs carry the same ``knative.dev/crd-install`` and name themselves
``knative-serving``."""

DUCK_LABELS: Final = {
    "Service": {"duck.knative.dev/addressable": "true", "duck.knative.dev/podspecable": "true"},
    "Configuration": {"duck.knative.dev/podspecable": "true"},
    "Route": {"duck.knative.dev/addressable": "true"},
}
"""The duck-type labels Knative's CRDs carry (aggregated ClusterRoles select them)."""

COMPONENT_LABELS: Final = {"networking.internal.knative.dev": {"app.kubernetes.io/component": "networking"}}


class MetricSpec(Model):
    """Knative's autoscaling/v1alpha1 MetricSpec: windows in nanoseconds (Go durations)."""

    stable_window: Int64
    panic_window: Int64
    scrape_target: str


class Metric(Model):
    api_version: Literal["autoscaling.internal.knative.dev/v1alpha1"] = "autoscaling.internal.knative.dev/v1alpha1"
    kind: Literal["Metric"] = "Metric"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: MetricSpec
    status: Status = Field(default_factory=Status)


METRIC: Final = Kind(
    "autoscaling.internal.knative.dev",
    "v1alpha1",
    "Metric",
    "metrics",
    "metric",
    Metric,
    categories=("knative-internal", "autoscaling"),
)
"""config/core/300-resources/metric.yaml: no short names."""

CRD_KINDS: Final[tuple[Kind, ...]] = (
    kinds.SERVICE,
    kinds.CONFIGURATION,
    kinds.REVISION,
    kinds.ROUTE,
    kinds.DOMAINMAPPING,
    kinds.PODAUTOSCALER,
    METRIC,
    kinds.SERVERLESSSERVICE,
    kinds.CLUSTERDOMAINCLAIM,
)
"""The kinds a cluster needs a CRD for, in Knative's install order."""

METRIC_COLUMNS: Final = (
    printercolumns.PrinterColumn("Ready", "string", printercolumns.READY),
    printercolumns.PrinterColumn("Reason", "string", printercolumns.REASON),
)
"""metric.yaml's columns (zeroserve's API does not serve Metrics, so printercolumns lacks them)."""


def crd(kind: Kind) -> Obj:
    """The CustomResourceDefinition of ``kind``."""
    labels = {**LABELS, **COMPONENT_LABELS.get(kind.group, {}), **DUCK_LABELS.get(kind.kind, {})}
    version: Obj = {"name": kind.version, "served": True, "storage": True}
    if "status" in kind.subresources:
        version["subresources"] = {"status": {}}
    columns = METRIC_COLUMNS if kind is METRIC else printercolumns.columns(kind.api_version, kind.kind)
    if columns is not printercolumns.DEFAULT:
        version["additionalPrinterColumns"] = [c.crd() for c in columns]
    version["schema"] = {"openAPIV3Schema": schema(kind)}
    names: Obj = {"kind": kind.kind, "plural": kind.plural, "singular": kind.singular}
    if kind.categories:
        names["categories"] = list(kind.categories)
    if kind.short_names:
        names["shortNames"] = list(kind.short_names)
    return {
        "apiVersion": API_VERSION,
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{kind.plural}.{kind.group}", "labels": labels},
        "spec": {
            "group": kind.group,
            "names": names,
            "scope": "Namespaced" if kind.namespaced else "Cluster",
            "versions": [version],
        },
    }


def crds() -> list[Obj]:
    """Every CRD zeroserve installs, in :data:`CRD_KINDS` order."""
    return [crd(k) for k in CRD_KINDS]


def schema(kind: Kind) -> Schema:
    """``kind``'s ``openAPIV3Schema``: the model's CRD schema, map lists' keys required."""
    out = copy.deepcopy(crd_schema(kind))
    for node in _nodes(out):
        if node.get(LIST_TYPE) == "map" and isinstance(node.get("items"), dict):
            _declare_keys(node["items"], node.get(LIST_MAP_KEYS) or [])
    return out


def _declare_keys(items: Schema, keys: list[str]) -> None:
    props = items.setdefault("properties", {})
    needed: list[str] = items.setdefault("required", [])
    for k in keys:
        props.setdefault(k, {"type": "string"})
        if k not in needed and "default" not in props[k]:
            needed.append(k)


def _nodes(node: Any) -> Iterator[Schema]:
    """Every schema of the structural part of ``node`` (itself first)."""
    if not isinstance(node, dict):
        return
    yield node
    if isinstance(node.get("items"), dict):
        yield from _nodes(node["items"])
    for sub in (node.get("properties") or {}).values():
        yield from _nodes(sub)
    if isinstance(node.get("additionalProperties"), dict):
        yield from _nodes(node["additionalProperties"])
