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


async def sync(deps: Deps, route: Route) -> None:
    """Create or update the Route's Service (Knative's reconcilePlaceholderServices)."""
    want = to_wire(k8sservice.make_route_service(route))
    ns, name = route.metadata.namespace or "", route.metadata.name or ""
    current = await get_or_none(deps.store, CORE_SERVICE, ns, name)
    if current is None:
        with contextlib.suppress(AlreadyExists):
            await deps.store.create(CORE_SERVICE, want)
        return
    if not _owned_by_route(current, name, route.metadata.uid):
        log.info("route %s/%s: its Service is owned by another; left alone", ns, name)
        return
    meta = current["metadata"]
    wanted_meta = want["metadata"]
    if (meta.get("labels") or {}, meta.get("annotations") or {}, current.get("spec")) != (
        wanted_meta.get("labels", {}),
        wanted_meta.get("annotations", {}),
        want["spec"],
    ):
        new_meta = {**meta, "labels": wanted_meta.get("labels", {}), "annotations": wanted_meta.get("annotations", {})}
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
