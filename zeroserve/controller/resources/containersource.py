"""What a ContainerSource makes (knative/eventing ``pkg/reconciler/containersource/resources``) (PURE).

Knative makes a SinkBinding ``NAME-sinkbinding`` whose subject is the Deployment
``NAME-deployment`` it makes from ``spec.template``, and the SinkBinding's webhook puts ``K_SINK``
and ``K_CE_OVERRIDES`` into that Deployment's pods. zeroserve runs no Deployments: the binding's
subject is the ContainerSource itself (a kind zeroserve's SinkBindings bind), and the receive
adapter is a runtime workload of the source (:func:`make_workload`, ``Workload.serving`` False:
no port, no queue-proxy, ready once started), its instances named as the Deployment's pods
(``NAME-deployment-HASH-XXXXX``). The variables are the bindings' (:func:`binding_env`), put into
every container as the webhook's ``Do`` puts them.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, Final

from zeroserve.api import sources
from zeroserve.api.base import Obj, to_wire
from zeroserve.api.meta import ObjectMeta, OwnerReference
from zeroserve.api.revision import Revision
from zeroserve.api.sources import ContainerSource, SinkBinding
from zeroserve.config import Config
from zeroserve.controller.resources.names import child_name
from zeroserve.controller.resources.workload import make_workload as make_revision_workload
from zeroserve.runtime.base import Workload, WorkloadKey

SOURCE_LABEL: Final = "sources.knative.dev/source"
CONTAINER_SOURCE_LABEL: Final = "sources.knative.dev/containerSource"
CONTROLLER: Final = "container-source-controller"
GRACE_SECONDS: Final = 30
"""Kubernetes' default ``terminationGracePeriodSeconds`` (the adapter's pod template names none)."""


def deployment_name(name: str) -> str:
    """``DeploymentName``: the receive adapter's name (its instances' name prefix)."""
    return child_name(name, "-deployment")


def sink_binding_name(name: str) -> str:
    """``SinkBindingName``."""
    return child_name(name, "-sinkbinding")


def labels(name: str) -> dict[str, str]:
    """``resources.Labels``: the adapter's pod labels."""
    return {SOURCE_LABEL: CONTROLLER, CONTAINER_SOURCE_LABEL: name}


def workload_key(source: ContainerSource) -> WorkloadKey:
    return WorkloadKey(source.metadata.namespace or "", source.metadata.name or "", "ContainerSource")


def controller_ref(meta: ObjectMeta) -> OwnerReference:
    """``kmeta.NewControllerRef(source)``."""
    return OwnerReference(
        api_version=sources.API_VERSION,
        kind="ContainerSource",
        name=meta.name or "",
        uid=meta.uid or "",
        controller=True,
        block_owner_deletion=True,
    )


def make_sink_binding(source: ContainerSource) -> Obj:
    """``MakeSinkBinding``: the source's sink and ceOverrides, the source as its subject; the sink
    ref's namespace the source's when it names none (the SinkBinding's defaults, which admission
    gives a binding a user writes)."""
    meta = source.metadata
    sink = source.spec.sink.model_copy(deep=True)
    if sink.ref is not None and not sink.ref.namespace:
        sink.ref.namespace = meta.namespace
    spec: dict[str, Any] = {
        "sink": to_wire(sink),
        "subject": {
            "apiVersion": sources.API_VERSION,
            "kind": "ContainerSource",
            "namespace": meta.namespace or "",
            "name": meta.name or "",
        },
    }
    if source.spec.ce_overrides is not None:
        spec["ceOverrides"] = to_wire(source.spec.ce_overrides)
    return {
        "apiVersion": sources.API_VERSION,
        "kind": "SinkBinding",
        "metadata": {
            "name": sink_binding_name(meta.name or ""),
            "namespace": meta.namespace or "",
            "ownerReferences": [to_wire(controller_ref(meta))],
        },
        "spec": spec,
    }


def binds(binding: SinkBinding, source: ContainerSource, source_labels: dict[str, str]) -> bool:
    """Whether ``binding``'s subject is ``source`` (by name, or by a selector its labels match)."""
    ref = binding.spec.subject
    if (ref.api_version, ref.kind) != (sources.API_VERSION, "ContainerSource"):
        return False
    if (ref.namespace or binding.metadata.namespace) != source.metadata.namespace:
        return False
    if ref.name:
        return ref.name == source.metadata.name
    return ref.selector is not None and ref.selector.selector().matches(source_labels)


def binding_env(bindings: list[SinkBinding]) -> list[dict[str, str]]:
    """``K_SINK`` and ``K_CE_OVERRIDES`` of the last of ``bindings`` with a sink (``Do`` applied in
    order: each replaces the one before); none when no binding has one."""
    for b in reversed(bindings):
        if b.status.sink_uri:
            overrides = sources.ce_overrides_json(b.spec.ce_overrides)
            return [{"name": "K_SINK", "value": b.status.sink_uri}, {"name": "K_CE_OVERRIDES", "value": overrides}]
    return []


def bound_pod_spec(source: ContainerSource, env: list[dict[str, str]]) -> dict[str, Any]:
    """``spec.template.spec`` with every container's ``K_SINK``/``K_CE_OVERRIDES``/``K_CA_CERTS``
    replaced by ``env`` (the SinkBinding webhook's ``Undo`` then ``Do``)."""
    pod = copy.deepcopy(to_wire(source.spec.template.spec))
    for key in ("initContainers", "containers"):
        for c in pod.get(key) or []:
            kept = [e for e in c.get("env") or [] if e.get("name") not in sources.BINDING_ENV]
            c["env"] = kept + copy.deepcopy(env)
    return dict(pod)


def make_workload(source: ContainerSource, env: list[dict[str, str]], cfg: Config) -> Workload:
    """``MakeDeployment``: the template's containers (the first, or the one with a port, as the main
    one; the others beside it) as a non-serving workload of the source, with the bindings' ``env``.
    The pod spec is read as a Revision's is (env, probes, limits, securityContext, volumes), without
    the ConfigMaps and Secrets a ``valueFrom`` names (such an entry keeps the adapter from starting,
    with the kubelet's reason)."""
    meta = source.metadata
    rev = Revision.model_validate(
        {
            "metadata": {
                "name": deployment_name(meta.name or ""),
                "namespace": meta.namespace or "",
                "uid": meta.uid or "",
                "labels": {**(source.spec.template.metadata.labels or {}), **labels(meta.name or "")},
            },
            "spec": bound_pod_spec(source, env),
        }
    )
    workload = make_revision_workload(rev, cfg)
    return dataclasses.replace(
        workload,
        key=workload_key(source),
        service="",
        configuration="",
        serving=False,
        termination_grace_seconds=GRACE_SECONDS,
    )
