"""MakeDeployment (Knative ``pkg/reconciler/revision/resources/deploy.go``, ``meta.go``): a Revision
as an apps/v1 Deployment on a Kubernetes cluster (PURE).

The Deployment is ``REVISION-deployment``, controlled by the Revision, selecting its pods by
``serving.knative.dev/revisionUID``; labels are Knative's ``makeLabels`` (the revision's but the
routing ones, plus ``revision``, ``revisionUID`` and ``app``) and ``serving.knative.dev/deployment-hash``;
annotations the revision's but the routing, GC and ``autoscaling.knative.dev`` ones (the pods' add
``kubectl.kubernetes.io/default-container``). It starts at the revision's initial scale (the
autoscaler changes it later) and rolls out with no unavailable pod; its progress deadline is
config-deployment's ``progress-deadline`` or the revision's ``serving.knative.dev/progress-deadline``.

The pod spec is the Revision's PodSpec as written (volumes, ``envFrom``/``valueFrom``,
imagePullSecrets, serviceAccountName, initContainers, securityContext: the kubelet reads the
Secrets and ConfigMaps itself), its ``timeoutSeconds`` as the grace period, plus Knative's changes to
each container (``makeContainer``: the pinned image, ``K_REVISION``/``K_CONFIGURATION``/``K_SERVICE``,
a preStop hook that waits for the queue-proxy's drain, no HTTP/TCP/gRPC readiness probe: the
queue-proxy runs it; the serving one also gets the ``user-port`` and ``PORT``), the queue-proxy
(:mod:`.queuesidecar`), the pod-info volume when ``queueproxy.mount-podinfo`` asks for it, and
config-deployment's default affinity (spread a revision's pods over nodes) unless it sets one.

The deployment hash is not Knative's bit for bit (Knative hashes Go's ``dump.ForHash`` text): it is
the first 32 bits of a SHA-256 over the same three parts, base 36, and serves the same purpose:
:func:`deployment_update` rewrites a Deployment only when it changed.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from typing import Final

from zeroserve.api import labels
from zeroserve.api.base import Obj, to_wire
from zeroserve.api.fieldmask import MULTI_CONTAINER_PROBING
from zeroserve.api.revision import Revision
from zeroserve.autoscaler import targets
from zeroserve.config import Config
from zeroserve.config.duration import SECOND, parse_duration
from zeroserve.controller.resources import downward, owners
from zeroserve.controller.resources.pa import deployment_name
from zeroserve.controller.resources.queuesidecar import (
    DRAIN_PATH,
    QUEUE_ADMIN_PORT,
    SYSTEM_NAMESPACE,
    USER_PORT_NAME,
    make_queue_container,
    port_number,
    serving_container,
    user_port,
)
from zeroserve.controller.resources.workload import pinned_image

HASH_LABEL: Final = f"{labels.GROUP}/deployment-hash"
KNATIVE_SPEC_FIELDS: Final = frozenset(
    {"containerConcurrency", "timeoutSeconds", "responseStartTimeoutSeconds", "idleTimeoutSeconds"}
)
"""RevisionSpec's own fields: not a PodSpec's."""
PODINFO_FEATURE: Final = "queueproxy.mount-podinfo"
PODINFO_ANNOTATION: Final = "features.knative.dev/queueproxy-podinfo"
PODINFO_VOLUME: Final[Obj] = {
    "name": "pod-info",
    "downwardAPI": {"items": [{"path": "annotations", "fieldRef": {"fieldPath": "metadata.annotations"}}]},
}
PODINFO_MOUNT: Final[Obj] = {"name": "pod-info", "mountPath": "/etc/podinfo", "readOnly": True}
HOSTNAME_TOPOLOGY: Final = "kubernetes.io/hostname"
TERMINATION_MESSAGE_POLICY: Final = "FallbackToLogsOnError"


def knative_env(rev: Revision) -> list[Obj]:
    """``getKnativeEnvVar``."""
    meta = rev.metadata
    return [
        {"name": "K_REVISION", "value": meta.name or ""},
        {"name": "K_CONFIGURATION", "value": meta.labels.get(labels.CONFIGURATION, "")},
        {"name": "K_SERVICE", "value": meta.labels.get(labels.SERVICE, "")},
    ]


def _make_container(out: Obj, rev: Revision) -> None:
    """``makeContainer`` on a container's wire form."""
    out["lifecycle"] = {"preStop": {"httpGet": {"port": QUEUE_ADMIN_PORT, "path": DRAIN_PATH}}}
    out["env"] = [*out.get("env", []), *knative_env(rev)]
    out.pop("stdin", None)
    out.pop("tty", None)
    out.setdefault("terminationMessagePolicy", TERMINATION_MESSAGE_POLICY)
    probe = out.get("readinessProbe") or {}
    if any(probe.get(handler) is not None for handler in ("httpGet", "tcpSocket", "grpc")):
        del out["readinessProbe"]  # the queue-proxy runs it (SERVING_READINESS_PROBE)


def _rewrite_liveness(out: Obj, port: int, allow_custom_port: bool) -> None:
    """``rewriteUserLivenessProbe``: an HTTP or TCP liveness probe aims at the user port."""
    probe = out.get("livenessProbe") or {}
    action = probe.get("httpGet") or probe.get("tcpSocket")
    if isinstance(action, dict) and (not allow_custom_port or port_number(action.get("port")) == 0):
        action["port"] = port


def user_containers(rev: Revision, cfg: Config) -> list[Obj]:
    """``BuildUserContainers``: the serving container (the only one, or the one with a port) gets the
    user port and ``PORT``; every container ``makeContainer``'s changes and its pinned image."""
    containers = rev.spec.containers
    port = user_port(rev)
    out = []
    for c in containers:
        wire = to_wire(c)
        serving = bool(c.ports) or len(containers) == 1
        if serving:
            wire["ports"] = [{"name": USER_PORT_NAME, "containerPort": port}]
            wire["env"] = [*wire.get("env", []), {"name": "PORT", "value": str(port)}]
        _make_container(wire, rev)
        if serving:
            _rewrite_liveness(wire, port, cfg.features.enabled(MULTI_CONTAINER_PROBING))
        image = pinned_image(rev, c)
        if image:
            wire["image"] = image
        out.append(wire)
    return out


def _mounts_pod_info(rev: Revision, cfg: Config) -> bool:
    flag = cfg.features.flag(PODINFO_FEATURE)
    asked = rev.metadata.annotations.get(PODINFO_ANNOTATION, "").lower() == "enabled"
    return flag == "Enabled" or (flag == "Allowed" and asked)


def spread_over_nodes(revision_name: str) -> Obj:
    """``makePreferSpreadRevisionOverNodes``: config-deployment's default ``default-affinity-type``."""
    term = {"topologyKey": HOSTNAME_TOPOLOGY, "labelSelector": {"matchLabels": {labels.REVISION: revision_name}}}
    return {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": term}]
        }
    }


def make_pod_spec(rev: Revision, cfg: Config, queue_image: str, system_namespace: str = SYSTEM_NAMESPACE) -> Obj:
    """``makePodSpec``: the Revision's PodSpec with Knative's containers, the queue-proxy last."""
    queue = make_queue_container(rev, cfg, queue_image, system_namespace)
    pod = {k: v for k, v in to_wire(rev.spec).items() if k not in KNATIVE_SPEC_FIELDS}
    pod["containers"] = [*user_containers(rev, cfg), queue]
    if rev.spec.timeout_seconds is not None:
        pod["terminationGracePeriodSeconds"] = rev.spec.timeout_seconds
    if "enableServiceLinks" not in pod and cfg.defaults.enable_service_links is not None:
        pod["enableServiceLinks"] = cfg.defaults.enable_service_links
    if _mounts_pod_info(rev, cfg):
        queue["volumeMounts"] = [copy.deepcopy(PODINFO_MOUNT)]
        pod["volumes"] = [*pod.get("volumes", []), copy.deepcopy(PODINFO_VOLUME)]
    if "affinity" not in pod:
        pod["affinity"] = spread_over_nodes(rev.metadata.name or "")
    return pod


def progress_deadline(rev: Revision, cfg: Config) -> int:
    """Seconds: the ``serving.knative.dev/progress-deadline`` annotation, else config-deployment's."""
    value = rev.metadata.annotations.get(labels.PROGRESS_DEADLINE)
    if value is not None:
        try:
            return int(parse_duration(value) / SECOND)
        except ValueError:
            pass  # admission refused it; Knative ignores the error too
    return int(cfg.deployment.progress_deadline)


def deployment_hash(deployment: Obj) -> str:
    """``UpdateDeploymentHashLabel``'s hash: of the spec, the annotations and the labels (its own aside)."""
    meta = deployment.get("metadata") or {}
    own = {k: v for k, v in (meta.get("labels") or {}).items() if k != HASH_LABEL}
    text = json.dumps([deployment.get("spec"), meta.get("annotations") or {}, own], sort_keys=True)
    number = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")
    digits = ""
    while True:
        number, digit = divmod(number, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[digit] + digits
        if number == 0:
            return digits


def make_deployment(rev: Revision, cfg: Config, queue_image: str, system_namespace: str = SYSTEM_NAMESPACE) -> Obj:
    """``MakeDeployment``: ``rev`` as a Deployment whose pods run ``queue_image`` as the queue-proxy;
    ``system_namespace``: where zeroserve's control plane runs (the queue-proxy's ``SYSTEM_NAMESPACE``)."""
    meta = rev.metadata
    pod_labels = downward.pod_labels(meta.name or "", meta.uid or "", meta.labels)
    annotations = downward.pod_annotations(meta.annotations, "")
    pod_annotations = downward.pod_annotations(meta.annotations, serving_container(rev).name or "")
    metadata: Obj = {
        "name": deployment_name(rev),
        "namespace": meta.namespace or "",
        "labels": dict(pod_labels),
        "annotations": annotations,
        "ownerReferences": [to_wire(owners.controller_ref("Revision", meta))],
    }
    template: Obj = {"labels": pod_labels, "annotations": pod_annotations}
    deployment: Obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {k: v for k, v in metadata.items() if v},
        "spec": {
            "replicas": targets.initial_scale(meta.annotations, cfg.autoscaler),
            "selector": {"matchLabels": {labels.REVISION_UID: meta.uid or ""}},
            "progressDeadlineSeconds": progress_deadline(rev, cfg),
            "revisionHistoryLimit": 0,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0}},
            "template": {
                "metadata": {k: v for k, v in template.items() if v},
                "spec": make_pod_spec(rev, cfg, queue_image, system_namespace),
            },
        },
    }
    deployment["metadata"]["labels"][HASH_LABEL] = deployment_hash(deployment)
    return deployment


def _knative_key(key: str) -> bool:
    return key == downward.APP_LABEL or "knative.dev/" in key


def merge_metadata(desired: Mapping[str, str] | None, current: Mapping[str, str] | None) -> dict[str, str]:
    """``mergeMetadata``: Knative's keys (``*knative.dev/*`` and ``app``) as desired, the others as they are."""
    return {**(desired or {}), **{k: v for k, v in (current or {}).items() if not _knative_key(k)}}


def deployment_update(have: Obj, want: Obj) -> Obj | None:
    """``checkAndUpdateDeployment``'s update of ``have`` (a Deployment read from the cluster) to
    ``want`` (:func:`make_deployment`), None when their hashes agree: ``want``'s spec, with
    ``have``'s replicas (the autoscaler's) and selector (immutable); labels and annotations merged
    (:func:`merge_metadata`), at the Deployment's and the pod template's level."""
    have_meta, want_meta = have.get("metadata") or {}, want.get("metadata") or {}
    if (have_meta.get("labels") or {}).get(HASH_LABEL) == want_meta["labels"][HASH_LABEL]:
        return None
    out = copy.deepcopy(have)
    spec = out["spec"] = copy.deepcopy(want["spec"])
    for field in ("replicas", "selector"):
        if field in (have.get("spec") or {}):
            spec[field] = copy.deepcopy(have["spec"][field])
    for key in ("labels", "annotations"):
        out["metadata"][key] = merge_metadata(want_meta.get(key), have_meta.get(key))
        have_template = ((have.get("spec") or {}).get("template") or {}).get("metadata") or {}
        template = spec["template"].setdefault("metadata", {})
        template[key] = merge_metadata(template.get(key), have_template.get(key))
    return out
