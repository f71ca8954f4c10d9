"""ServerlessServices on a cluster (Knative ``pkg/reconciler/serverlessservice``): each revision's
private and public core/v1 Services, and the public Endpoints that put its pods or the activators
in the requests' path.

On one machine :class:`~zeroserve.controller.reconcilers.sks.SKSReconciler` tells the gateway the
mode; here the SKS writes what the cluster routes by, as Knative's does, in three steps each reconcile:

1. the **private** Service ``NAME-private`` (selecting the pods by the Deployment's ``matchLabels``):
   created when missing, its ports and selector put back when they differ;
2. the **public** Service ``NAME`` (no selector): created, its ports put back;
3. the **public** Endpoints ``NAME``: the private Service's Endpoints (Serve) or a subset of the
   ``activator-service`` Endpoints, ``spec.numActivators`` of them chosen by Knative's consistent
   hashing (Proxy), with only the serving ports. The mode is ``spec.mode``, except Proxy while no
   pod is ready and Serve while no activator is: the public Endpoints are never left empty, since
   they are what the gateway routes to. The cluster mirrors them into EndpointSlices.

An object of that name the SKS does not control is ``NotOwned`` (``EndpointsPopulated`` False) and
an error. ``EndpointsPopulated`` is True once the private Service has a ready address, and
``ActivatorEndpointsPopulated`` True while the activators back the revision.

The reconcile is enqueued by the SKS's own events, its public Endpoints' (their controller
ownerReference), the private Services' Endpoints (by their SKS label), and, for every SKS, any
change of the activators' Endpoints (:meth:`ClusterSKSReconciler.observe`). Unlike Knative's, a
change to its Services enqueues nothing (the controller does not watch core Services): they are
put back at its next reconcile.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Final

from zeroserve import errors
from zeroserve.api.base import Obj, from_wire
from zeroserve.api.conditions import ConditionManager
from zeroserve.api.kinds import CORE_SERVICE, SERVERLESSSERVICE
from zeroserve.api.networking import ENDPOINTS_POPULATED, PROXY, SERVE, SKS_CONDITIONS, Mode, ServerlessService
from zeroserve.controller.reconcilers.base import (
    Deps,
    Key,
    Requeue,
    get_or_none,
    load,
    write_status,
)
from zeroserve.controller.reconcilers.sks import mark_status
from zeroserve.controller.resources import owners
from zeroserve.controller.resources.sks import private_service_name
from zeroserve.controller.resources.sksservices import (
    PRIVATE,
    SERVICE_TYPE_LABEL,
    SKS_LABEL,
    filter_subset_ports,
    make_private_service,
    make_public_endpoints,
    make_public_service,
    ready_address_count,
    subset_endpoints,
)
from zeroserve.kubernetes.kinds import DEPLOYMENT, ENDPOINTS, Unstructured
from zeroserve.kubernetes.manifests import ACTIVATOR_SERVICE
from zeroserve.kubernetes.store import KubernetesStore
from zeroserve.store.base import Store

log = logging.getLogger(__name__)

NOT_OWNED: Final = "NotOwned"


def _not_owned(cm: ConditionManager, kind: str, name: str) -> None:
    """``MarkEndpointsNotOwned``."""
    cm.mark_false(ENDPOINTS_POPULATED, NOT_OWNED, f"Resource {name} of type {kind} is not owned by SKS")


def _controlled(obj: Obj, sks: ServerlessService) -> bool:
    return owners.is_controlled_by(from_wire(Unstructured, obj).metadata, sks.metadata)


def _ports(ports: list[Obj]) -> list[Obj]:
    """Service ports as kube-apiserver defaults them (``protocol`` TCP, ``targetPort`` the port)."""
    return [{"protocol": "TCP", "targetPort": p.get("port"), **p} for p in ports]


async def _service(store: Store, sks: ServerlessService, cm: ConditionManager, want: Obj, *, selector: bool) -> None:
    """The Service ``want`` names as the cluster holds it: created, or its ports (and, for the
    private one, ``selector``) put back."""
    meta = want["metadata"]
    have = await get_or_none(store, CORE_SERVICE, meta["namespace"], meta["name"])
    if have is None:
        log.info("creating Service %s/%s", meta["namespace"], meta["name"])
        await store.create(CORE_SERVICE, want)
        return
    if not _controlled(have, sks):
        _not_owned(cm, "Service", meta["name"])
        raise errors.ZeroserveError(f"SKS: {sks.metadata.name} does not own Service: {meta['name']}")
    spec = have.get("spec") or {}
    wanted = {**spec, "ports": want["spec"]["ports"], "selector": want["spec"].get("selector") if selector else None}
    if _ports(spec.get("ports") or []) == _ports(wanted["ports"]) and spec.get("selector") == wanted["selector"]:
        return
    log.info("updating Service %s/%s", meta["namespace"], meta["name"])
    await store.update(CORE_SERVICE, {**have, "spec": {k: v for k, v in wanted.items() if v is not None}})


class ClusterSKSReconciler:
    """The ServerlessService reconciler of ``zeroserve kubernetes controller``."""

    def __init__(self, store: KubernetesStore, system_namespace: str) -> None:
        self.store = store
        """The controller's store: who reads the SKSs to enqueue on an activator change."""
        self.system_namespace = system_namespace

    def observe(self, kind: str, obj: Obj, deleted: bool) -> Iterator[Key]:
        """The SKSs an event concerns beyond its owner: a private Service's Endpoints name theirs in
        the SKS label; the activators' Endpoints concern every SKS (Knative's global resync)."""
        if kind != ENDPOINTS.kind:
            return
        meta = obj.get("metadata") or {}
        namespace = str(meta.get("namespace") or "")
        if namespace == self.system_namespace and meta.get("name") == ACTIVATOR_SERVICE:
            yield from self._all_sks()
            return
        labels = meta.get("labels") or {}
        sks = labels.get(SKS_LABEL)
        if sks and labels.get(SERVICE_TYPE_LABEL) == PRIVATE:
            yield Key(SERVERLESSSERVICE.kind, namespace, str(sks))

    def _all_sks(self) -> Iterator[Key]:
        for obj in self.store.cached_list(SERVERLESSSERVICE):
            meta = obj.get("metadata") or {}
            yield Key(SERVERLESSSERVICE.kind, str(meta.get("namespace") or ""), str(meta.get("name") or ""))

    async def reconcile(self, deps: Deps, key: Key) -> Requeue:
        loaded = await load(deps.store, SERVERLESSSERVICE, ServerlessService, key.namespace, key.name)
        if loaded is None or loaded[1].metadata.deletion_timestamp:
            return None
        stored, sks = loaded
        cm = SKS_CONDITIONS.manage(sks.status, deps.now())
        cm.initialize()
        try:
            await self._reconcile(deps.store, sks, cm)
        finally:  # as Knative's generated reconciler, the status is written even when the reconcile fails
            sks.status.observed_generation = sks.metadata.generation
            await write_status(deps.store, SERVERLESSSERVICE, stored, sks)
        return None

    async def _reconcile(self, store: Store, sks: ServerlessService, cm: ConditionManager) -> None:
        ns, name = sks.metadata.namespace or "", sks.metadata.name or ""
        ref = sks.spec.object_ref
        deployment = await store.get(DEPLOYMENT, ns, ref.name or "")  # NotFound: retried, with backoff
        selector = ((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        await _service(store, sks, cm, make_private_service(sks, selector), selector=True)
        sks.status.private_service_name = private_service_name(name)
        await _service(store, sks, cm, make_public_service(sks), selector=False)
        sks.status.service_name = name
        await self._public_endpoints(store, sks, cm)

    async def _public_endpoints(self, store: Store, sks: ServerlessService, cm: ConditionManager) -> None:
        ns, name = sks.metadata.namespace or "", sks.metadata.name or ""
        activators = await get_or_none(store, ENDPOINTS, self.system_namespace, ACTIVATOR_SERVICE)
        private = await get_or_none(store, ENDPOINTS, ns, private_service_name(name))
        ready = ready_address_count(private)
        mode: Mode = sks.spec.mode or PROXY
        if ready == 0:
            mode = PROXY
        if ready_address_count(activators) == 0:
            mode = SERVE
        if mode == SERVE:
            source = private or {}
        else:
            source = subset_endpoints(activators or {}, name, sks.spec.num_activators or 0)
        have = await get_or_none(store, ENDPOINTS, ns, name)
        if have is None:
            log.info("creating Endpoints %s/%s (%s)", ns, name, mode)
            await store.create(ENDPOINTS, make_public_endpoints(sks, source))
        elif not _controlled(have, sks):
            _not_owned(cm, "Endpoints", name)
            raise errors.ZeroserveError(f"SKS: {name} does not own Endpoints: {name}")
        else:
            want = filter_subset_ports(sks, source.get("subsets") or [])
            if want != (have.get("subsets") or []):
                log.info("updating Endpoints %s/%s (%s)", ns, name, mode)
                updated = {k: v for k, v in have.items() if k != "subsets"}
                await store.update(ENDPOINTS, {**updated, "subsets": want} if want else updated)
        mark_status(cm, sks, ready)
