"""The controller's parts for a cluster (``zeroserve kubernetes controller``, assembled in
:mod:`zeroserve.cli.kubeserve`; docs/kubernetes.md).

The same :class:`~zeroserve.controller.runner.Controller` as ``zeroserve up`` runs, over a
:class:`~zeroserve.kubernetes.store.KubernetesStore` (the API server's list/watch, read from
informer caches) and a :class:`~zeroserve.kubernetes.runtime.KubernetesRuntime` (Revisions'
Deployments). What differs from one machine:

- the kinds it watches are Serving's (:data:`WATCHED`), those ``zeroserve kubernetes manifests``
  installs; the cluster's garbage collector deletes dependents (ours does not run);
- the configuration is Knative's: the ``config-*`` ConfigMaps of the system namespace, parsed as
  ``config.yaml``'s sections are (:class:`ClusterConfig`), re-read when they change;
- before anything, :func:`check_cluster` refuses a cluster where Knative Serving owns the CRDs
  (zeroserve's are the same group, version and kinds: the two cannot share a cluster).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Final

from zeroserve import errors
from zeroserve.api.base import Obj
from zeroserve.api.kinds import (
    CONFIGMAP,
    CONFIGURATION,
    PODAUTOSCALER,
    REVISION,
    ROUTE,
    SECRET,
    SERVERLESSSERVICE,
    SERVICE,
)
from zeroserve.config import Config
from zeroserve.config.parse import parse_config
from zeroserve.kubernetes.apiclient import KubeApi, resource_path
from zeroserve.kubernetes.crds import LABELS as CRD_LABELS
from zeroserve.kubernetes.kinds import CRD, ENDPOINTS, HPA
from zeroserve.kubernetes.manifests import NAMESPACE as SYSTEM_NAMESPACE
from zeroserve.kubernetes.store import KubernetesStore

log = logging.getLogger(__name__)

WATCHED: Final = (
    SERVICE,
    CONFIGURATION,
    REVISION,
    ROUTE,
    PODAUTOSCALER,
    SERVERLESSSERVICE,
    CONFIGMAP,
    SECRET,
    HPA,
    ENDPOINTS,
)
"""What the controller lists and watches on a cluster: an HPA's events enqueue the PodAutoscaler that
controls it, an Endpoints' the SKS that controls it or reads it (:mod:`zeroserve.kubernetes.sks`). Not
core Services: their kind's name is Knative's Service's, the controller's keys are by kind name; the
SKS puts its Services back when it next reconciles."""
CLUSTER_DOMAIN: Final = "svc.cluster.local"
"""Knative's default domain on a cluster (route/config/domain.go ``DefaultDomain``): no config-domain, and
``http://NAME.NAMESPACE.svc.cluster.local`` is a Route's URL."""
SERVICES_CRD: Final = "services.serving.knative.dev"
NAME_LABEL: Final = "app.kubernetes.io/name"


async def check_cluster(api: KubeApi) -> None:
    """Refuse a cluster zeroserve cannot run on: Knative Serving's CRDs there (the same group and
    kinds as ours), or none of ours installed. Raises :class:`~zeroserve.errors.ZeroserveError`."""
    try:
        crd = await api.request("GET", resource_path(CRD, None, SERVICES_CRD))
    except errors.NotFound:
        raise errors.ZeroserveError(
            f"the CRD {SERVICES_CRD} is not installed: run `zeroserve kubernetes manifests | kubectl apply -f -` first"
        ) from None
    owner = ((crd.get("metadata") or {}).get("labels") or {}).get(NAME_LABEL, "")
    if owner != CRD_LABELS[NAME_LABEL]:
        raise errors.ZeroserveError(
            f"Knative Serving is installed on this cluster (the CRD {SERVICES_CRD} is labelled "
            f"{NAME_LABEL}={owner or '(none)'}): zeroserve serves the same API group and kinds and cannot "
            "share a cluster with it; uninstall Knative Serving or use another cluster"
        )


def cluster_sections(data: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """The ``config-*`` ConfigMaps' data with a cluster's defaults where they are silent, Knative's:
    the domain ``svc.cluster.local`` when config-domain names none, and URLs without a port (the
    gateway Service listens on 80) unless config-network's ``external-port`` says one."""
    out = dict(data)
    if not any(not key.startswith("_") for key in out.get("config-domain", {})):
        out["config-domain"] = {CLUSTER_DOMAIN: ""}
    out["config-network"] = {"external-port": "80", **out.get("config-network", {})}
    return out


class ClusterConfig:
    """The system namespace's ``config-*`` ConfigMaps as a :class:`Config` (:func:`cluster_sections`),
    kept current by the store's watch.

    A bad value is logged and the last good configuration stays in force, as ``config.yaml``'s watcher does."""

    def __init__(self, store: KubernetesStore, namespace: str = SYSTEM_NAMESPACE) -> None:
        self.store = store
        self.namespace = namespace
        self._config = parse_config(cluster_sections({}))
        self._callbacks: list[Callable[[Config], None]] = []
        self._task: asyncio.Task[None] | None = None

    def current(self) -> Config:
        return self._config

    def subscribe(self, callback: Callable[[Config], None]) -> None:
        self._callbacks.append(callback)

    async def start(self) -> None:
        self._load((await self.store.list(CONFIGMAP, self.namespace))[0])
        self._task = asyncio.create_task(self._follow(), name="cluster config")

    async def _follow(self) -> None:
        while True:
            with contextlib.suppress(errors.Gone):
                async for _ in self.store.watch((CONFIGMAP,), namespace=self.namespace):
                    self._load((await self.store.list(CONFIGMAP, self.namespace))[0])

    def _load(self, configmaps: list[Obj]) -> None:
        data = {
            str(cm["metadata"]["name"]): dict(cm.get("data") or {})
            for cm in configmaps
            if str(cm["metadata"]["name"]).startswith("config-")
        }
        try:
            config = parse_config(cluster_sections(data))
        except errors.ZeroserveError as e:
            log.error("the configuration in %s is not valid, the last good one stays: %s", self.namespace, e)
            return
        if config != self._config:
            self._config = config
            for callback in self._callbacks:
                callback(config)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
