"""ContainerSource reconciler (knative/eventing ``pkg/reconciler/containersource``).

Phases, as ``ReconcileKind``: the SinkBinding ``NAME-sinkbinding`` (created when missing, its spec
put back when it differs, an error when another owner has the name; its status propagated:
``sinkUri`` and ``SinkBindingReady``) -> the receive adapter: ``spec.template`` run by the runtime as
a non-serving workload of the source (:mod:`zeroserve.controller.resources.containersource`), one
instance kept running (restarted with the runtime's crash back-off when it exits), ``K_SINK`` and
``K_CE_OVERRIDES`` in every container -> ``ReceiveAdapterReady`` from the runtime (True once the
instance started; False with the runtime's reason when it cannot run or crashed; Unknown
``DeploymentUnavailable`` with Knative's message while it starts).

Where ``K_SINK`` comes from: Knative's SinkBinding webhook writes it into the Deployment's pods.
zeroserve has no webhook and no Deployments: the SinkBinding reconciler resolves the sink into the
binding's ``status.sinkUri`` and leaves a ContainerSource subject alone; this reconciler reads the
bindings whose subject is the source (its own, and a user's by name or label selector; its own
applied last, so it wins) and puts the variables into the workload. The adapter runs only while a
binding has a sink: one started before its sink resolves would run without ``K_SINK`` (Knative's
pods do, until the webhook's rollout). A deleted source's workload is removed (its instances get
SIGTERM, then SIGKILL after 30 s), and the garbage collector deletes its SinkBinding.
"""

from __future__ import annotations

import logging

from zeroserve.api import sources
from zeroserve.api.base import Obj, from_wire, to_wire
from zeroserve.api.conditions import ConditionManager
from zeroserve.api.kinds import CONTAINERSOURCE, SINKBINDING
from zeroserve.api.sources import ContainerSource, SinkBinding
from zeroserve.controller.reconcilers.base import Deps, Key, Requeue, get_or_none, load, write_status
from zeroserve.controller.resources import containersource as resources
from zeroserve.controller.resources.owners import is_controlled_by
from zeroserve.errors import ZeroserveError
from zeroserve.runtime.base import WorkloadKey, WorkloadStatus

log = logging.getLogger(__name__)

AGENT = "containersource-controller"
SINKBINDING_CREATED = "ContainerSourceSinkBindingCreated"
SINKBINDING_UPDATED = "ContainerSourceSinkBindingUpdated"
DEPLOYMENT_CREATED = "ContainerSourceDeploymentCreated"
DEPLOYMENT_UPDATED = "ContainerSourceDeploymentUpdated"
DEPLOYMENT_UNAVAILABLE = "DeploymentUnavailable"
SINK_MISSING = "SinkNotResolved"


class NotOwned(ZeroserveError):
    """The SinkBinding the source would make exists and belongs to someone else."""


async def reconcile(deps: Deps, key: Key) -> Requeue:
    wkey = WorkloadKey(key.namespace, key.name, "ContainerSource")
    loaded = await load(deps.store, CONTAINERSOURCE, ContainerSource, key.namespace, key.name)
    if loaded is None or loaded[1].metadata.deletion_timestamp:
        await deps.runtime.remove(wkey, wait=False)
        return None
    stored, s = loaded
    cm = sources.CONTAINER_CONDITIONS.manage(s.status, deps.now())
    cm.initialize()
    owned = await _sink_binding(deps, stored, s)
    sources.propagate_binding(cm, s.status, owned)
    env = resources.binding_env([*await _user_bindings(deps, s, owned), owned])
    name = resources.deployment_name(s.metadata.name or "")
    if not env:
        await deps.runtime.remove(wkey, wait=False)
        cm.mark_unknown(sources.RECEIVE_ADAPTER_READY, SINK_MISSING, f"The Deployment '{name}' waits for a sink.")
    else:
        workload = resources.make_workload(s, env, deps.config())
        before = deps.runtime.status(wkey)
        await deps.runtime.ensure(workload, 1)
        if before is None:
            deps.recorder.event(AGENT, stored, "Normal", DEPLOYMENT_CREATED, f'Deployment created "{name}"')
        _propagate_adapter(cm, deps.runtime.status(wkey) or WorkloadStatus(desired=1), name)
    s.status.observed_generation = s.metadata.generation
    await write_status(deps.store, CONTAINERSOURCE, stored, s)
    return None


async def _sink_binding(deps: Deps, stored: Obj, s: ContainerSource) -> SinkBinding:
    """``reconcileSinkBinding``: the source's SinkBinding as it should be."""
    want = resources.make_sink_binding(s)
    ns, name = s.metadata.namespace or "", want["metadata"]["name"]
    found = await get_or_none(deps.store, SINKBINDING, ns, name)
    if found is None:
        found = await deps.store.create(SINKBINDING, want)
        deps.recorder.event(AGENT, stored, "Normal", SINKBINDING_CREATED, f'SinkBinding created "{name}"')
    else:
        have = from_wire(SinkBinding, found)
        if not is_controlled_by(have.metadata, s.metadata):
            raise NotOwned(f'SinkBinding "{name}" is not owned by ContainerSource "{s.metadata.name}"')
        if to_wire(have.spec) != to_wire(from_wire(SinkBinding, want).spec):
            found = await deps.store.update(SINKBINDING, {**found, "spec": want["spec"]})
            deps.recorder.event(AGENT, stored, "Normal", SINKBINDING_UPDATED, f'SinkBinding updated "{name}"')
    return from_wire(SinkBinding, found)


async def _user_bindings(deps: Deps, s: ContainerSource, owned: SinkBinding) -> list[SinkBinding]:
    """Other SinkBindings whose subject is ``s`` (by name, or by a selector its labels match), by
    name; none when the source is labelled ``bindings.knative.dev/exclude: "true"``."""
    labels = dict(s.metadata.labels or {})
    if labels.get(sources.BINDING_EXCLUDE) == "true":
        return []
    objs, _ = await deps.store.list(SINKBINDING, s.metadata.namespace or "")
    found = []
    for obj in sorted(objs, key=lambda o: str(o["metadata"]["name"])):
        b = from_wire(SinkBinding, obj)
        if (
            b.metadata.name != owned.metadata.name
            and not b.metadata.deletion_timestamp
            and resources.binds(b, s, labels)
        ):
            found.append(b)
    return found


def _propagate_adapter(cm: ConditionManager, status: WorkloadStatus, name: str) -> None:
    """``PropagateReceiveAdapterStatus`` with the runtime's view standing for the Deployment's."""
    if status.ready > 0:
        cm.mark_true(sources.RECEIVE_ADAPTER_READY)
    elif status.failure is not None:
        cm.mark_false(sources.RECEIVE_ADAPTER_READY, status.failure.reason, status.failure.message)
    else:
        cm.mark_unknown(
            sources.RECEIVE_ADAPTER_READY, DEPLOYMENT_UNAVAILABLE, f"The Deployment '{name}' is unavailable."
        )
