"""ApiServerSource reconciler (``pkg/reconciler/apiserversource/apiserversource.go``).

Phases, as ``ReconcileKind``: ``OIDCIdentityCreated`` True with Knative's "authentication-oidc
feature disabled" reason (zeroserve has no OIDC) -> the sink (its ref's namespace defaulted to the
source's) resolves to ``status.sinkUri`` (``SinkProvided``; else False ``NotFound``, a ``Warning
SinkNotFound`` event, and the reconcile stops there as Knative's returns its error) ->
``status.namespaces``: the source's own, or those ``spec.namespaceSelector`` selects (an empty
selector: every namespace) -> ``SufficientPermissions`` True: zeroserve has no RBAC, the adapter
reads the store with zeroserve's own rights and ``serviceAccountName`` is not consulted ->
``Deployed`` True: the adapter is not a Deployment but a task of ``zeroserve up``
(:mod:`zeroserve.eventing.apiserversource`) that follows every source with a ``sinkUri`` ->
``status.ceAttributes``: one per event type of the mode, with the API server's URL as source ->
the source's EventTypes (:mod:`~zeroserve.controller.reconcilers.eventtypes`).
"""

from __future__ import annotations

from zeroserve.api import apiserversource as api
from zeroserve.api import eventing as ev
from zeroserve.api.apiserversource import ApiServerSource, CloudEventAttributes
from zeroserve.api.kinds import APISERVERSOURCE, NAMESPACE
from zeroserve.controller.reconcilers.base import Deps, Key, Requeue, load, write_status
from zeroserve.controller.reconcilers.destinations import source_sink
from zeroserve.controller.reconcilers.eventtypes import reconcile_source_event_types

AGENT = "apiserversource-controller"
OIDC_DISABLED = "authentication-oidc feature disabled"


class ApiServerSourceReconciler:
    """``ce_source``: the API server's URL, every event's ``source`` (Knative's rest config host)."""

    def __init__(self, ce_source: str = "") -> None:
        self.ce_source = ce_source

    async def reconcile(self, deps: Deps, key: Key) -> Requeue:
        loaded = await load(deps.store, APISERVERSOURCE, ApiServerSource, key.namespace, key.name)
        if loaded is None:
            return None
        stored, s = loaded
        if s.metadata.deletion_timestamp:
            return None
        status = s.status
        cm = api.CONDITIONS.manage(status, deps.now())
        ev.pre_process(cm, status, s.metadata.generation)
        status.observed_generation = s.metadata.generation
        cm.mark_true(api.OIDC_IDENTITY_CREATED, OIDC_DISABLED, "")
        if await source_sink(deps, AGENT, stored, s.spec.sink, key.namespace, cm, status, warn_defaulted=False) is None:
            await write_status(deps.store, APISERVERSOURCE, stored, s)
            return None
        status.namespaces = await self._namespaces(deps, s)
        cm.mark_true(api.SUFFICIENT_PERMISSIONS)
        cm.mark_true(api.DEPLOYED)
        status.ce_attributes = [
            CloudEventAttributes(type=t, source=self.ce_source) for t in api.event_types(s.spec.mode)
        ]
        written = await write_status(deps.store, APISERVERSOURCE, stored, s)
        await reconcile_source_event_types(deps.store, APISERVERSOURCE, written, api.EVENT_TYPE_DESCRIPTIONS)
        return None

    @staticmethod
    async def _namespaces(deps: Deps, s: ApiServerSource) -> list[str]:
        """``namespacesFromSelector``."""
        sel = s.spec.namespace_selector
        if sel is None:
            return [s.metadata.namespace or ""]
        selector = sel.selector()
        items, _ = await deps.store.list(NAMESPACE)
        names = (o.get("metadata", {}) for o in items)
        return sorted(m.get("name", "") for m in names if selector.matches(m.get("labels") or {}))
