"""Writing the core/v1 Services of :mod:`zeroserve.controller.resources.k8sservice`.

A Route's Service follows the Route (created, brought back to what the Route wants, left alone
when another owner has it) and goes when the Route goes: the controller does not watch core
Services (their kind name is Knative's Service's), so the Route reconciler deletes them itself
instead of the garbage collector. The gateways' Services and their namespace are written once at
start by ``zeroserve up`` (:func:`ensure_gateway`), with the ports the gateway really listens on.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Collection

from zeroserve.api import labels
from zeroserve.api.base import Obj, to_wire
from zeroserve.api.core import FINALIZER_KUBERNETES, NAMESPACE_ACTIVE, NAMESPACE_NAME_LABEL
from zeroserve.api.kinds import CORE_SERVICE, NAMESPACE
from zeroserve.api.route import Route
from zeroserve.controller.reconcilers.base import Deps, get_or_none
from zeroserve.controller.resources import k8sservice
from zeroserve.errors import AlreadyExists, NotFound
from zeroserve.store.base import Store

log = logging.getLogger(__name__)


def _owned_by_route(obj: Obj, name: str, uid: str | None = None) -> bool:
    refs = obj.get("metadata", {}).get("ownerReferences") or []
    return any(
        r.get("controller")
        and r.get("kind") == "Route"
        and r.get("name") == name
        and (uid is None or r.get("uid") == uid)
        for r in refs
    )


async def sync(deps: Deps, route: Route, hostnames: Collection[str] | None = None) -> None:
    """The Services of the Route and of its tags' sub-routes, as Knative's route reconciler keeps
    them (``reconcilePlaceholderServices`` then ``updatePlaceholderServices``): each is created
    when missing; one the Route controls gets the wanted spec and the union of its labels and
    annotations with the Route's (a key the Route dropped stays: Knative's ``kmap.Union``, which
    TestLabelPropagation and TestAnnotationPropagation check); one another owner has is left alone.

    ``hostnames`` are the sub-routes' (``traffic.hostname``) when the traffic resolved; then a
    Service of a tag no longer in the spec is deleted. None: the tags are not known, nothing goes."""
    ns, name = route.metadata.namespace or "", route.metadata.name or ""
    wanted = [name, *(h for h in hostnames or () if h != name)]
    for hostname in wanted:
        service = k8sservice.make_route_service(route, hostname, deps.ingress.local_host)
        await _sync_one(deps, route, to_wire(service))
    if hostnames is None:
        return
    items, _ = await deps.store.list(CORE_SERVICE, ns, f"{labels.ROUTE}={name}")
    for obj in items:
        if obj["metadata"]["name"] not in wanted and _owned_by_route(obj, name, route.metadata.uid):
            with contextlib.suppress(NotFound):
                await deps.store.delete(CORE_SERVICE, ns, obj["metadata"]["name"])


async def _sync_one(deps: Deps, route: Route, want: Obj) -> None:
    ns, name = want["metadata"]["namespace"], want["metadata"]["name"]
    current = await get_or_none(deps.store, CORE_SERVICE, ns, name)
    if current is None:
        with contextlib.suppress(AlreadyExists):
            await deps.store.create(CORE_SERVICE, want)
        return
    if not _owned_by_route(current, route.metadata.name or "", route.metadata.uid):
        log.info("route %s/%s: Service %s is owned by another; left alone", ns, route.metadata.name, name)
        return
    meta = current["metadata"]
    merged_labels = {**(meta.get("labels") or {}), **want["metadata"].get("labels", {})}
    merged_annotations = {**(meta.get("annotations") or {}), **want["metadata"].get("annotations", {})}
    if (meta.get("labels") or {}, meta.get("annotations") or {}, current.get("spec")) != (
        merged_labels,
        merged_annotations,
        want["spec"],
    ):
        new_meta = {**meta, "labels": merged_labels, "annotations": merged_annotations}
        await deps.store.update(CORE_SERVICE, {**current, "metadata": new_meta, "spec": want["spec"]})


async def delete(deps: Deps, namespace: str, name: str) -> None:
    """The Route is gone (or going): delete the Services it controlled."""
    items, _ = await deps.store.list(CORE_SERVICE, namespace, f"{labels.ROUTE}={name}")
    for obj in items:
        if _owned_by_route(obj, name):
            with contextlib.suppress(NotFound):
                await deps.store.delete(CORE_SERVICE, namespace, obj["metadata"]["name"])


async def ensure_gateway(store: Store, external_port: int, internal_port: int) -> None:
    """The ``kourier-system`` namespace and the gateways' Services, ports as the gateway listens now."""
    ns = k8sservice.GATEWAY_NAMESPACE
    with contextlib.suppress(AlreadyExists):
        await store.create(
            NAMESPACE,
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": ns, "labels": {NAMESPACE_NAME_LABEL: ns}},
                "spec": {"finalizers": [FINALIZER_KUBERNETES]},
                "status": {"phase": NAMESPACE_ACTIVE},
            },
        )
    for svc in k8sservice.make_gateway_services(external_port, internal_port):
        want = to_wire(svc)
        name = svc.metadata.name or ""
        current = await get_or_none(store, CORE_SERVICE, ns, name)
        if current is None:
            current = await store.create(CORE_SERVICE, want)
        else:
            current = await store.update(CORE_SERVICE, {**current, "spec": want["spec"]})
        if current.get("status") != want["status"]:
            await store.update_status(CORE_SERVICE, {**current, "status": want["status"]})
