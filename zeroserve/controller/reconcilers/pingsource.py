"""PingSource reconciler (Knative's ``pkg/reconciler/pingsource/pingsource.go``).

Phases, as ``ReconcileKind``: OIDC (``authentication-oidc`` is not supported: ``OIDCIdentityCreated``
True with Knative's "feature disabled" reason) -> the sink, a ref in the source's namespace unless it
names another, resolved to ``status.sinkUri`` (``SinkProvided``; on failure ``NotFound`` and a
``Warning SinkNotFound`` event, as Knative's) -> ``Deployed``: Knative checks the shared
``pingsource-mt-adapter`` Deployment; zeroserve's adapter is part of ``zeroserve up``
(:mod:`zeroserve.eventing.ping`), so it is True -> ``ceAttributes`` (``dev.knative.sources.ping``
from ``/apis/v1/namespaces/NS/pingsources/NAME``).

The adapter fires only for a Ready source and reads nothing but its spec and ``status.sinkUri``.
"""

from __future__ import annotations

from zeroserve.api import eventing as ev
from zeroserve.api import sources
from zeroserve.api.apiserversource import CloudEventAttributes
from zeroserve.api.kinds import PINGSOURCE
from zeroserve.api.sources import PingSource
from zeroserve.controller.reconcilers.base import Deps, Key, Requeue, load, write_status
from zeroserve.controller.reconcilers.destinations import source_sink

AGENT = "pingsource-controller"


async def reconcile(deps: Deps, key: Key) -> Requeue:
    loaded = await load(deps.store, PINGSOURCE, PingSource, key.namespace, key.name)
    if loaded is None:
        return None
    stored, s = loaded
    if s.metadata.deletion_timestamp:
        return None
    status = s.status
    cm = sources.PING_CONDITIONS.manage(status, deps.now())
    ev.pre_process(cm, status, s.metadata.generation)
    status.observed_generation = s.metadata.generation
    sources.mark_oidc_disabled(cm, status)
    ns, name = s.metadata.namespace or "", s.metadata.name or ""
    if await source_sink(deps, AGENT, stored, s.spec.sink, ns, cm, status, warn_defaulted=True) is None:
        await write_status(deps.store, PINGSOURCE, stored, s)
        return None
    cm.mark_true(sources.DEPLOYED)
    status.ce_attributes = [
        CloudEventAttributes(type=sources.PING_EVENT_TYPE, source=sources.ping_source_attribute(ns, name))
    ]
    await write_status(deps.store, PINGSOURCE, stored, s)
    return None
