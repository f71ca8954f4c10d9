"""A core/v1 Pod for one instance of a Revision, as Knative's pods look (PURE).

Knative's Deployment (``pkg/reconciler/revision/resources/deploy.go``, ``meta.go``) gives each pod
the Revision's labels but ``serving.knative.dev/route`` and ``routingState``, plus
``serving.knative.dev/revision``, ``revisionUID`` and ``app`` (the revision's name unless the user
set one); its containers are the Revision's (the serving one ``user-container`` by default) and the
``queue-proxy``. Here each pod is the runtime's instance of that name (:class:`~zeroserve.runtime.base.InstanceView`):
``podIP`` and ``hostIP`` are ``127.0.0.1``, ``nodeName`` is this machine. A crashed instance (an exit or a
failed liveness probe) is made again under its name (:mod:`zeroserve.runtime.local`): the serving
container's ``restartCount`` goes up, ``lastState.terminated`` says how it ended, and between the two it
waits in ``CrashLoopBackOff``. Knative's pods are owned
by a ReplicaSet (of the revision's Deployment); zeroserve has neither, so the owner is the Revision
itself (a controller reference: the pod goes with it).

A condition's ``lastTransitionTime`` is kept from ``previous`` (the pod as stored) while its status
is the same, so rewriting an unchanged instance changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

from zeroserve.api import labels
from zeroserve.api.base import Obj
from zeroserve.clock import rfc3339
from zeroserve.runtime.base import InstanceView

USER_CONTAINER = "user-container"
QUEUE_PROXY = "queue-proxy"
QUEUE_PROXY_IMAGE = "zeroserve/queue-proxy"
"""The queue-proxy is zeroserve's own process (``zeroserve.queue``), not an image: this names it."""
APP_LABEL = "app"
POD_IP = "127.0.0.1"
CONTAINER_CREATING = "ContainerCreating"
EXCLUDED_LABELS = frozenset({labels.ROUTE, labels.ROUTING_STATE})
"""Revision labels a pod does not carry (Knative's ``makeLabels``)."""


def pod_labels(revision: Obj) -> dict[str, str]:
    meta = revision.get("metadata") or {}
    out = {k: str(v) for k, v in (meta.get("labels") or {}).items() if k not in EXCLUDED_LABELS}
    out[labels.REVISION] = str(meta.get("name", ""))
    out[labels.REVISION_UID] = str(meta.get("uid", ""))
    out.setdefault(APP_LABEL, str(meta.get("name", "")))
    return out


def _images(revision: Obj) -> dict[str, str]:
    """The pinned image (``imageDigest``) of each container, by name."""
    statuses = (revision.get("status") or {}).get("containerStatuses") or []
    return {str(s.get("name", "")): str(s["imageDigest"]) for s in statuses if s.get("imageDigest")}


def _spec_containers(revision: Obj) -> list[Obj]:
    spec = revision.get("spec") or {}
    return [c for c in spec.get("containers") or [] if isinstance(c, dict)]


def _container(c: Obj, index: int, images: dict[str, str]) -> Obj:
    name = str(c.get("name") or (USER_CONTAINER if index == 0 else f"container-{index}"))
    out: Obj = {"name": name, "image": images.get(name) or str(c.get("image") or "")}
    for field in ("command", "args", "workingDir", "ports", "env", "resources", "readinessProbe", "livenessProbe"):
        if c.get(field):
            out[field] = c[field]
    out.setdefault("resources", {})
    out.update(terminationMessagePath="/dev/termination-log", terminationMessagePolicy="FallbackToLogsOnError")
    return out


def _serving(containers: list[Obj]) -> str:
    """The serving container: the one with a port, else the first."""
    with_ports = [c for c in containers if c.get("ports")]
    return str((with_ports or containers or [{}])[0].get("name", ""))


def _condition(kind: str, true: bool, now: str, previous: dict[str, Obj]) -> Obj:
    status = "True" if true else "False"
    before = previous.get(kind)
    at = before.get("lastTransitionTime") if before is not None and before.get("status") == status else None
    return {"type": kind, "status": status, "lastProbeTime": None, "lastTransitionTime": at or now}


def _container_status(name: str, image: str, view: InstanceView, started_at: str | None, serving: bool) -> Obj:
    """A container's status; the serving one (``serving``) carries the instance's restarts and last exit."""
    state: Obj
    if view.started and started_at is not None:
        state = {"running": {"startedAt": started_at}}
    else:
        state = {"waiting": {"reason": view.waiting or CONTAINER_CREATING}}
    last: Obj = {}
    if serving and view.last_exit is not None:
        last = {"terminated": {"exitCode": view.last_exit[0], "reason": view.last_exit[1]}}
    image_id = image if "@" in image else ""
    return {
        "name": name,
        "image": image,
        "imageID": image_id,
        "containerID": f"zeroserve://{view.name}/{name}" if view.started else None,
        "ready": view.ready,
        "started": view.started,
        "restartCount": view.restarts if serving else 0,
        "state": state,
        "lastState": last,
    }


def build_pod(revision: Obj, view: InstanceView, *, node_name: str, now: str, previous: Obj | None = None) -> Obj:
    """The Pod of ``view``, an instance of ``revision`` (a stored Revision); ``now``: RFC 3339."""
    meta = revision.get("metadata") or {}
    spec = revision.get("spec") or {}
    images = _images(revision)
    containers = [_container(c, i, images) for i, c in enumerate(_spec_containers(revision))]
    if view.queue_proxy:
        containers.append({"name": QUEUE_PROXY, "image": QUEUE_PROXY_IMAGE, "resources": {}})
    started_at = None if view.started_at is None else rfc3339(datetime.fromtimestamp(view.started_at, UTC))
    old_status = (previous or {}).get("status") or {}
    old_conditions = {str(c.get("type")): c for c in old_status.get("conditions") or [] if isinstance(c, dict)}
    conditions = [
        _condition("PodReadyToStartContainers", True, now, old_conditions),
        _condition("Initialized", view.started, now, old_conditions),
        _condition("Ready", view.ready, now, old_conditions),
        _condition("ContainersReady", view.ready, now, old_conditions),
        _condition("PodScheduled", True, now, old_conditions),
    ]
    serving = _serving(containers)
    statuses = [_container_status(c["name"], c["image"], view, started_at, c["name"] == serving) for c in containers]
    pod_spec: Obj = {
        "containers": containers,
        "nodeName": node_name,
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "enableServiceLinks": False,
        "dnsPolicy": "ClusterFirst",
        "serviceAccountName": str(spec.get("serviceAccountName") or "default"),
    }
    if spec.get("timeoutSeconds") is not None:
        pod_spec["terminationGracePeriodSeconds"] = spec["timeoutSeconds"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": view.name,
            "namespace": meta.get("namespace", ""),
            "labels": pod_labels(revision),
            "ownerReferences": [
                {
                    "apiVersion": revision.get("apiVersion", "serving.knative.dev/v1"),
                    "kind": "Revision",
                    "name": meta.get("name", ""),
                    "uid": meta.get("uid", ""),
                    "controller": True,
                    "blockOwnerDeletion": False,
                }
            ],
        },
        "spec": pod_spec,
        "status": {
            "phase": "Running" if view.started or view.restarts else "Pending",
            "conditions": conditions,
            "hostIP": POD_IP,
            "hostIPs": [{"ip": POD_IP}],
            "podIP": POD_IP if view.started else None,
            "podIPs": [{"ip": POD_IP}] if view.started else [],
            "startTime": (previous or {}).get("status", {}).get("startTime") or now,
            "containerStatuses": statuses,
            "qosClass": "BestEffort",
        },
    }
