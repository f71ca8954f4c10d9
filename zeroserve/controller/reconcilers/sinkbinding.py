"""SinkBinding reconciler (knative.dev/pkg ``webhook/psbinding/reconciler.go`` + eventing's
``pkg/reconciler/sinkbinding``, ``SinkBinding.Do``/``Undo``).

Phases, as psbinding's ``BaseReconciler``: a finalizer (``sinkbindings.sources.knative.dev``, so that
the binding is undone before it goes) -> the subject(s): by ``name`` or by label ``selector`` in the
binding's namespace (``SinkBindingAvailable`` False ``SubjectMissing`` when a named one does not
exist); the namespace gets ``bindings.knative.dev/include: "true"`` unless it has either selection
label, as Knative's ``labelNamespace`` -> the sink resolved (``SinkProvided``; False
``NoAddressable`` when it does not resolve, and the variables are taken away, as ``Do`` undoes first)
-> each subject mutated: a Knative Service's ``spec.template.spec.containers[*].env`` loses any
``K_SINK``/``K_CE_OVERRIDES``/``K_CA_CERTS`` and gets ``K_SINK`` and ``K_CE_OVERRIDES`` appended
(its Configuration stamps a new Revision, as Knative's patch causes); a ContainerSource is not
written: its reconciler reads the binding's ``status.sinkUri`` -> OIDC and trust bundle conditions
True with Knative's "feature disabled" reasons.

**Selection labels** (Knative's default ``exclusion`` mode): a subject, or a namespace, labelled
``bindings.knative.dev/exclude: "true"`` is not bound. In Knative only the mutating webhook honours
that label; zeroserve has no webhook, its reconciler plays that part, so it honours it.

**No fight over the user's spec.** Knative's webhook re-injects the variables into every write of a
subject. zeroserve's API server has no mutating webhooks: the reconciler re-applies them after a
write that dropped them. ``kubectl apply`` (client-side) keeps them (they are not in its last
applied configuration), as does server-side apply (another manager owns them); a full replace that
drops them makes one Revision without them, then the reconciler's write one with them again.
"""

from __future__ import annotations

import contextlib
import copy

from zeroserve.api import sources
from zeroserve.api.apiserversource import mark_no_sink, mark_sink
from zeroserve.api.base import Obj
from zeroserve.api.kinds import CONTAINERSOURCE, NAMESPACE, SERVICE, SINKBINDING, Kind
from zeroserve.api.sources import SinkBinding
from zeroserve.controller.reconcilers.base import Deps, Key, Requeue, get_or_none, load, write_status
from zeroserve.controller.reconcilers.destinations import ResolveError, resolve
from zeroserve.errors import NotFound

AGENT = "sinkbinding-controller"
_SUBJECT_KINDS = {
    (SERVICE.api_version, SERVICE.kind): SERVICE,
    (CONTAINERSOURCE.api_version, CONTAINERSOURCE.kind): CONTAINERSOURCE,
}


async def reconcile(deps: Deps, key: Key) -> Requeue:
    loaded = await load(deps.store, SINKBINDING, SinkBinding, key.namespace, key.name)
    if loaded is None:
        return None
    stored, b = loaded
    if b.metadata.deletion_timestamp:
        await _finalize(deps, stored, b)
        return None
    stored = await _ensure_finalizer(deps, stored)
    b.metadata.resource_version = stored["metadata"].get("resourceVersion")
    status = b.status
    cm = sources.SINKBINDING_CONDITIONS.manage(status, deps.now())
    cm.initialize()
    subjects = await _subjects(deps, b)
    if isinstance(subjects, str):
        cm.mark_false(sources.SINKBINDING_AVAILABLE, "SubjectMissing", subjects)
        await write_status(deps.store, SINKBINDING, stored, b)
        return None
    await _label_namespace(deps, b.metadata.namespace or "")
    try:
        uri: str | None = await resolve(deps.store, b.spec.sink)
    except ResolveError as e:
        uri = None
        mark_no_sink(cm, status, "NoAddressable", f"Addressable could not be extracted from destination: {e}")
    env = _binding_env(uri, b) if uri is not None else []
    for kind, obj in subjects:
        if kind is SERVICE and not _excluded(obj):
            await _mutate(deps, obj, env)
    cm.mark_true(sources.SINKBINDING_AVAILABLE)
    cm.mark_true(sources.TRUST_BUNDLE_PROPAGATED)
    if uri is not None:
        mark_sink(cm, status, uri)
    sources.mark_oidc_disabled(cm, status)
    cm.mark_true(sources.OIDC_TOKEN_SECRET_CREATED, sources.OIDC_DISABLED, "")
    status.observed_generation = b.metadata.generation
    await write_status(deps.store, SINKBINDING, stored, b)
    return None


def _binding_env(uri: str, b: SinkBinding) -> list[dict[str, str]]:
    return [
        {"name": "K_SINK", "value": uri},
        {"name": "K_CE_OVERRIDES", "value": sources.ce_overrides_json(b.spec.ce_overrides)},
    ]


async def _subjects(deps: Deps, b: SinkBinding) -> list[tuple[Kind, Obj]] | str:
    """The subjects, or why a named one is missing (psbinding's ``SubjectMissing`` message)."""
    ref = b.spec.subject
    kind = _SUBJECT_KINDS.get((ref.api_version or "", ref.kind or ""))
    if kind is None:
        return f"{ref.kind}:{ref.api_version} is not a kind zeroserve binds (Knative Services and ContainerSources)"
    namespace = ref.namespace or b.metadata.namespace or ""
    if ref.name:
        obj = await get_or_none(deps.store, kind, namespace, ref.name)
        if obj is None:
            return f'{kind.plural}.{kind.group} "{ref.name}" not found'
        return [(kind, obj)]
    selector = ref.selector.selector() if ref.selector is not None else None
    objs, _ = await deps.store.list(kind, namespace)
    return [(kind, o) for o in objs if selector is not None and selector.matches(_labels(o))]


def _labels(obj: Obj) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("labels") or {})


def _excluded(obj: Obj) -> bool:
    return _labels(obj).get(sources.BINDING_EXCLUDE) == "true"


async def _label_namespace(deps: Deps, namespace: str) -> None:
    """``labelNamespace``: ``bindings.knative.dev/include: "true"`` unless either label is there."""
    ns = await get_or_none(deps.store, NAMESPACE, "", namespace)
    if ns is None:
        return
    labels = dict((ns.get("metadata") or {}).get("labels") or {})
    if labels.get(sources.BINDING_INCLUDE) or labels.get(sources.BINDING_EXCLUDE):
        return
    labels[sources.BINDING_INCLUDE] = "true"
    await deps.store.update(NAMESPACE, {**ns, "metadata": {**ns["metadata"], "labels": labels}})


async def _namespace_excluded(deps: Deps, namespace: str) -> bool:
    ns = await get_or_none(deps.store, NAMESPACE, "", namespace)
    return ns is not None and _excluded(ns)


async def _mutate(deps: Deps, svc: Obj, env: list[dict[str, str]]) -> None:
    """``Undo`` then (with ``env``) ``Do`` on a Service's template; written only when it changed."""
    if env and await _namespace_excluded(deps, (svc.get("metadata") or {}).get("namespace") or ""):
        return
    new = copy.deepcopy(svc)
    pod = ((new.get("spec") or {}).get("template") or {}).get("spec") or {}
    for key in ("initContainers", "containers"):
        for c in pod.get(key) or []:
            kept = [e for e in c.get("env") or [] if e.get("name") not in sources.BINDING_ENV]
            kept += copy.deepcopy(env)
            if kept:
                c["env"] = kept
            else:
                c.pop("env", None)
    if new != svc:
        await deps.store.update(SERVICE, new)


async def _ensure_finalizer(deps: Deps, stored: Obj) -> Obj:
    meta = stored["metadata"]
    finalizers = list(meta.get("finalizers") or [])
    if sources.SINKBINDING_FINALIZER in finalizers:
        return stored
    finalizers.append(sources.SINKBINDING_FINALIZER)
    return await deps.store.update(SINKBINDING, {**stored, "metadata": {**meta, "finalizers": finalizers}})


async def _finalize(deps: Deps, stored: Obj, b: SinkBinding) -> None:
    """``ReconcileDeletion``: when our finalizer is first, undo on the subjects, then remove it."""
    finalizers = list(stored["metadata"].get("finalizers") or [])
    if not finalizers or finalizers[0] != sources.SINKBINDING_FINALIZER:
        return
    subjects = await _subjects(deps, b)
    if not isinstance(subjects, str):
        for kind, obj in subjects:
            if kind is SERVICE:
                with contextlib.suppress(NotFound):
                    await _mutate(deps, obj, [])
    meta = {**stored["metadata"], "finalizers": finalizers[1:]}
    await deps.store.update(SINKBINDING, {**stored, "metadata": meta})
