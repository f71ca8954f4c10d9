"""MakePA (Knative ``pkg/reconciler/revision/resources/pa.go``): a Revision's PodAutoscaler.

Named after the revision, owned by it, with its labels and annotations (``autoscaling.knative.dev/*``
included, routing bookkeeping left out) so the KPA reads the same knobs the user wrote. Pure.
"""

from __future__ import annotations

from zeroserve.api import annotations as ann
from zeroserve.api import labels
from zeroserve.api.autoscaling import REACHABLE, UNREACHABLE, ObjectReference, PodAutoscaler, PodAutoscalerSpec
from zeroserve.api.autoscaling import Reachability as ReachabilityType
from zeroserve.api.meta import ObjectMeta
from zeroserve.api.revision import Revision
from zeroserve.config import Config
from zeroserve.controller.resources import names, owners
from zeroserve.controller.resources.revision import ACTIVE, RESERVE

APP = "app"
EXCLUDED_LABELS = frozenset({labels.ROUTE, labels.ROUTING_STATE})
EXCLUDED_ANNOTATIONS = frozenset(
    {
        f"{labels.GROUP}/lastPinned",
        f"{labels.GROUP}/preserved",
        labels.ROUTING_STATE_MODIFIED,
        labels.ROUTES,
    }
)
_FAILURE_CONDITIONS = ("ResourcesAvailable", "ContainerHealthy")


def pa_name(rev: Revision) -> str:
    return rev.metadata.name or ""


def deployment_name(rev: Revision) -> str:
    return names.child_name(rev.metadata.name or "", "-deployment")


def make_labels(rev: Revision) -> dict[str, str]:
    """The revision's labels minus routing ones, plus revision name/uid and ``app`` (Knative ``makeLabels``)."""
    out = {k: v for k, v in rev.metadata.labels.items() if k not in EXCLUDED_LABELS}
    out[labels.REVISION] = rev.metadata.name or ""
    out[labels.REVISION_UID] = rev.metadata.uid or ""
    out.setdefault(APP, rev.metadata.name or "")
    return out


def make_annotations(rev: Revision, cfg: Config | None = None) -> dict[str, str]:
    """The revision's annotations; the class from config-autoscaler when it names none (cruds.go)."""
    annotations = {k: v for k, v in rev.metadata.annotations.items() if k not in EXCLUDED_ANNOTATIONS}
    if cfg is not None and ann.CLASS not in annotations and cfg.autoscaler.pod_autoscaler_class:
        annotations[ann.CLASS] = cfg.autoscaler.pod_autoscaler_class
    return annotations


def reachability(rev: Revision, *, replicas: int | None = None, ready: int = 0) -> ReachabilityType:
    """Unreachable when it fails with no ready instance or no route points at it; Reachable when routed."""
    failed = any((c := rev.status.get_condition(t)) is not None and c.status == "False" for t in _FAILURE_CONDITIONS)
    if failed and replicas is not None and replicas > 0 and ready == 0:
        return UNREACHABLE
    state = rev.metadata.labels.get(labels.ROUTING_STATE)
    if state == ACTIVE:
        return REACHABLE
    if state == RESERVE:
        return UNREACHABLE
    return ""


def protocol_type(rev: Revision) -> str:
    """``h2c`` when the container port is named so, else ``http1`` (Knative ``GetProtocol``)."""
    for c in rev.spec.containers:
        for p in c.ports:
            if p.name == "h2c":
                return "h2c"
    return "http1"


def make_pa(rev: Revision, cfg: Config, *, replicas: int | None = None, ready: int = 0) -> PodAutoscaler:
    """The PodAutoscaler for ``rev``; ``replicas``/``ready`` are what runs now (for reachability)."""
    cc = rev.spec.container_concurrency
    return PodAutoscaler(
        metadata=ObjectMeta(
            name=pa_name(rev),
            namespace=rev.metadata.namespace,
            labels=make_labels(rev),
            annotations=make_annotations(rev, cfg),
            owner_references=[owners.controller_ref("Revision", rev.metadata)],
        ),
        spec=PodAutoscalerSpec(
            scale_target_ref=ObjectReference(api_version="apps/v1", kind="Deployment", name=deployment_name(rev)),
            container_concurrency=cc if cc is not None else cfg.defaults.container_concurrency,
            reachability=reachability(rev, replicas=replicas, ready=ready),
            protocol_type=protocol_type(rev),
        ),
    )
