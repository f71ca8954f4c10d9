"""The Runtime protocol on a cluster: a Revision's workload is its apps/v1 Deployment.

The Revision reconciler asks for a :class:`~zeroserve.runtime.base.Workload` as on one machine; here
only its key and the replica count are used: the Deployment is made from the Revision itself by
Knative's MakeDeployment (:func:`zeroserve.controller.resources.deployment.make_deployment`), so a
pod reads its ConfigMaps, Secrets and downward API through the kubelet, never through the controller.

- ``ensure``: create the Deployment, or update it when what MakeDeployment makes changed (its
  ``deployment-hash`` label: the server's defaults never count as a change), keeping the replicas the
  autoscaler set and the immutable selector, as Knative's ``checkAndUpdateDeployment``
  (:func:`~zeroserve.controller.resources.deployment.deployment_update`).
- ``scale``: the Deployment's scale subresource (what Knative's KPA patches), written on the event
  loop; False while the Deployment is not in the cache yet.
- ``status``: from the cached Deployment (``spec.replicas``, ``status.readyReplicas``), the endpoints
  from its Ready pods (pod IP, the queue-proxy's port 8012 and admin port 8022), and, while it should
  run pods and has none available, the failure its first pod shows (:func:`_failure`).
- ``subscribe``: every watch event of a Deployment or a revision's Pod announces its revision.

ContainerSource adapters (``WorkloadKey.kind`` other than Revision) are not run on a cluster yet:
``ensure`` answers with a permanent failure in their status.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Final

from zeroserve import errors
from zeroserve.api import labels
from zeroserve.api.base import Obj, from_wire
from zeroserve.api.kinds import REVISION
from zeroserve.api.revision import Revision
from zeroserve.config import Config
from zeroserve.controller.resources import names
from zeroserve.controller.resources.deployment import deployment_update, make_deployment
from zeroserve.controller.resources.queuesidecar import (
    QUEUE_ADMIN_PORT,
    QUEUE_CONTAINER,
    QUEUE_HTTP_PORT,
    QUEUE_PORT_NAME,
)
from zeroserve.kubernetes.apiclient import resource_path
from zeroserve.kubernetes.kinds import DEPLOYMENT, POD
from zeroserve.kubernetes.store import KubernetesStore
from zeroserve.runtime.base import Endpoint, Failure, OnChange, Workload, WorkloadKey, WorkloadStatus

log = logging.getLogger(__name__)

POD_SELECTOR: Final = labels.REVISION
"""Only the pods of revisions are cached (the label every revision's pod carries)."""
PROGRESS_DEADLINE_EXCEEDED: Final = "ProgressDeadlineExceeded"


def deployment_name(revision: str) -> str:
    """Knative's ``names.Deployment`` (as :func:`zeroserve.controller.resources.pa.deployment_name`)."""
    return names.child_name(revision, "-deployment")


def revision_owners(store: KubernetesStore, namespace: str, revision: str) -> tuple[str, str]:
    """A cached revision's Service and Configuration (its labels), for Knative's metric attributes."""
    rev = store.cached(REVISION, namespace, revision) or {}
    found = (rev.get("metadata") or {}).get("labels") or {}
    return str(found.get(labels.SERVICE, "")), str(found.get(labels.CONFIGURATION, ""))


class KubernetesRuntime:
    """Revisions' Deployments on the cluster behind ``store`` (a :class:`KubernetesStore`)."""

    def __init__(self, store: KubernetesStore, config: Callable[[], Config], queue_image: str) -> None:
        self.store = store
        self.config = config
        self.queue_image = queue_image
        self._callbacks: list[OnChange] = []
        self._task: asyncio.Task[None] | None = None
        self._scaling: set[asyncio.Task[None]] = set()
        self._unsupported: dict[WorkloadKey, Failure] = {}

    async def start(self) -> None:
        """Fill the Deployments' and Pods' caches, then announce their changes."""
        await self.store.list(DEPLOYMENT)
        await self.store.list(POD)
        self._task = asyncio.create_task(self._follow(), name="kubernetes runtime")

    async def _follow(self) -> None:
        while True:
            with contextlib.suppress(errors.Gone):
                async for event in self.store.watch((DEPLOYMENT, POD)):
                    key = _revision_key(event.object)
                    if key is not None:
                        for callback in self._callbacks:
                            callback(key)

    async def ensure(self, workload: Workload, replicas: int) -> None:
        key = workload.key
        if key.kind != "Revision":
            self._unsupported[key] = Failure(
                "Unsupported", f"a {key.kind} does not run on a Kubernetes cluster yet", permanent=True
            )
            return
        stored = await self.store.get(REVISION, key.namespace, key.revision)
        rev = from_wire(Revision, stored)
        want = make_deployment(rev, self.config(), self.queue_image)
        have = self.store.cached(DEPLOYMENT, key.namespace, deployment_name(key.revision))
        if have is None:
            want["spec"]["replicas"] = replicas
            with contextlib.suppress(errors.AlreadyExists):  # the cache had not seen it yet: next time
                await self.store.create(DEPLOYMENT, want)
            return
        updated = deployment_update(have, want)
        if updated is not None:
            await self.store.update(DEPLOYMENT, updated)

    def scale(self, key: WorkloadKey, replicas: int) -> bool:
        have = self.store.cached(DEPLOYMENT, key.namespace, deployment_name(key.revision))
        if have is None:
            return False
        if (have.get("spec") or {}).get("replicas") != replicas:
            task = asyncio.get_running_loop().create_task(self._scale(key, replicas))
            self._scaling.add(task)
            task.add_done_callback(self._scaling.discard)
        return True

    async def _scale(self, key: WorkloadKey, replicas: int) -> None:
        path = resource_path(DEPLOYMENT, key.namespace, deployment_name(key.revision), "scale")
        try:
            await self.store.api.request(
                "PATCH", path, body={"spec": {"replicas": replicas}}, content_type="application/merge-patch+json"
            )
        except errors.ZeroserveError as e:
            log.warning("scaling %s to %d: %s", key, replicas, e)
            for callback in self._callbacks:  # its reconcile tries again
                callback(key)

    async def remove(self, key: WorkloadKey, *, wait: bool = True) -> None:
        self._unsupported.pop(key, None)
        if key.kind != "Revision":
            return
        with contextlib.suppress(errors.NotFound):
            await self.store.delete(DEPLOYMENT, key.namespace, deployment_name(key.revision), "Background")

    def status(self, key: WorkloadKey) -> WorkloadStatus | None:
        if key in self._unsupported:
            return WorkloadStatus(failure=self._unsupported[key])
        have = self.store.cached(DEPLOYMENT, key.namespace, deployment_name(key.revision))
        if have is None:
            return None
        spec, status = have.get("spec") or {}, have.get("status") or {}
        pods = self._pods(key)
        endpoints = tuple(_endpoint(p) for p in pods if _ready(p) and _ip(p))
        return WorkloadStatus(
            desired=int(spec.get("replicas") or 0),
            ready=int(status.get("readyReplicas") or 0),
            endpoints=endpoints,
            failure=_failure(have, pods),
        )

    def _pods(self, key: WorkloadKey) -> list[Obj]:
        """The revision's cached pods, by name."""
        pods = self.store.cached_list(POD, f"{labels.REVISION}={key.revision}")
        return sorted((p for p in pods if _namespace(p) == key.namespace), key=lambda p: str(p["metadata"]["name"]))

    def serving(self) -> list[tuple[str, str]]:
        """(namespace, revision) of every revision with a Ready pod (what the autoscaler scrapes)."""
        out: set[tuple[str, str]] = set()
        for pod in self.store.cached_list(POD, labels.REVISION):
            if _ready(pod) and _ip(pod):
                out.add((_namespace(pod), str(pod["metadata"]["labels"][labels.REVISION])))
        return sorted(out)

    def owners(self, namespace: str, revision: str) -> tuple[str, str]:
        """The revision's Service and Configuration (its labels), for Knative's metric attributes."""
        return revision_owners(self.store, namespace, revision)

    def keys(self) -> list[WorkloadKey]:
        out = []
        for d in self.store.cached_list(DEPLOYMENT, labels.REVISION):
            rev = (d["metadata"].get("labels") or {}).get(labels.REVISION)
            if rev and d["metadata"]["name"] == deployment_name(rev):
                out.append(WorkloadKey(_namespace(d), rev))
        return out

    def subscribe(self, callback: OnChange) -> None:
        self._callbacks.append(callback)

    async def close(self) -> None:
        tasks = [t for t in (self._task, *self._scaling) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _namespace(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("namespace") or "")


def _ip(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("podIP") or "")


def _endpoint(pod: Obj) -> Endpoint:
    """The pod's queue-proxy: its serving port (its container's ``queue-port``: 8012, 8013 for an h2c
    revision) and its admin port (``QUEUE_ADMIN_PORT``: ``/stats``, drain), as its spec says."""
    serving, admin = QUEUE_HTTP_PORT, QUEUE_ADMIN_PORT
    for container in (pod.get("spec") or {}).get("containers") or []:
        if container.get("name") != QUEUE_CONTAINER:
            continue
        for port in container.get("ports") or []:
            if port.get("name") == QUEUE_PORT_NAME and port.get("containerPort"):
                serving = int(port["containerPort"])
        for env in container.get("env") or []:
            if env.get("name") == "QUEUE_ADMIN_PORT" and str(env.get("value") or "").isdigit():
                admin = int(env["value"])
    return Endpoint(_ip(pod), serving, admin)


def _revision_key(obj: Obj) -> WorkloadKey | None:
    rev = ((obj.get("metadata") or {}).get("labels") or {}).get(labels.REVISION)
    return None if not rev else WorkloadKey(_namespace(obj), str(rev))


def _ready(pod: Obj) -> bool:
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _failure(deployment: Obj, pods: list[Obj]) -> Failure | None:
    """Why a Deployment that should run pods has none available, as Knative's ``reconcileDeployment``
    reads it: its first pod's containers (``pods`` sorted by name; the queue-proxy aside), a last
    termination first (``ExitCodeN``, "Container failed with: MESSAGE"), a waiting reason once the
    progress deadline passed."""
    spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
    if not spec.get("replicas") or status.get("availableReplicas"):
        return None
    timed_out = any(
        c.get("type") == "Progressing" and c.get("reason") == PROGRESS_DEADLINE_EXCEEDED
        for c in status.get("conditions") or []
    )
    for pod in pods[:1]:
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            if cs.get("name") == QUEUE_CONTAINER:
                continue
            terminated = (cs.get("lastState") or {}).get("terminated")
            if terminated:
                code, message = int(terminated.get("exitCode") or 0), str(terminated.get("message") or "")
                if code == 0 and not message:
                    message = "container exited with no error"
                return Failure(f"ExitCode{code}", f"Container failed with: {message}")
            waiting = (cs.get("state") or {}).get("waiting")
            if waiting and timed_out:
                return Failure(str(waiting.get("reason") or ""), str(waiting.get("message") or ""))
    return None  # the reconciler marks the deadline itself (``Initial scale was never achieved``)
