"""DomainMapping reconciler (Knative ``pkg/reconciler/domainmapping/reconciler.go`` + ``controller.go``).

Phases, as ``ReconcileKind``: IngressReady Unknown on a new generation -> ``status.url`` and
``address`` (the host, with the gateway's port as every zeroserve URL) -> the ClusterDomainClaim
(created with config-network ``autocreate-cluster-domain-claims``, else one for this namespace must
exist) -> CertificateProvisioned (no TLS here: ``TLSNotEnabled``, or ``CertificateExternallyProvided``
with ``spec.tls``) -> resolve ``spec.ref`` to its cluster-local host (``{name}.{namespace}.svc.cluster.local``,
the Addressable contract) -> publish the :class:`~zeroserve.controller.ingress.HostMapping` -> IngressReady.

``FinalizeKind`` runs under the finalizer ``domainmappings.serving.knative.dev``: the mapping is
withdrawn and, with autocreate, the claim this namespace holds is deleted. A mapping owns nothing in
the store (its Knative Ingress is the gateway's in-memory table), so the garbage collector has no
dependents of it to delete.

Differences: Knative leaves the last Ingress in place when the claim or the reference fails; here the
mapping is withdrawn (the gateway keeps its tables in memory, so a restart would not serve it either).
Knative retries such failures with backoff; here the :class:`Tracker` re-enqueues a mapping when its
claim or its target changes.
"""

from __future__ import annotations

import contextlib
from urllib.parse import urlsplit

from zeroserve.api import domainmapping as dmapi
from zeroserve.api.base import Obj, to_wire
from zeroserve.api.conditions import ConditionManager
from zeroserve.api.core import EVENT_NORMAL
from zeroserve.api.domainmapping import DomainMapping
from zeroserve.api.kinds import CLUSTERDOMAINCLAIM, DOMAINMAPPING, by_kind
from zeroserve.api.route import Addressable
from zeroserve.config import Config
from zeroserve.controller.ingress import HostMapping
from zeroserve.controller.reconcilers.base import Deps, Key, Requeue, get_or_none, load, write_status
from zeroserve.errors import AlreadyExists, NotFound

FINALIZER = "domainmappings.serving.knative.dev"
"""The generated reconciler's default finalizer (the resource's group-resource)."""
INGRESS_RETRY = 1.0
AGENT = "domainmapping-controller"
"""The source of this reconciler's events (Knative's ``defaultControllerAgentName``): the generated
reconciler's ``FinalizerUpdate`` ``Updated "example.com" finalizers`` when it adds or removes its
finalizer."""
CLUSTER_SUFFIX = ".svc." + dmapi.CLUSTER_DOMAIN


class ResolveError(Exception):
    """``spec.ref`` does not resolve to a host a mapping can serve (the message is Knative's)."""


async def reconcile(deps: Deps, key: Key) -> Requeue:
    loaded = await load(deps.store, DOMAINMAPPING, DomainMapping, key.namespace, key.name)
    if loaded is None:
        deps.ingress.withdraw_mapping(key.namespace, key.name)
        return None
    stored, dm = loaded
    cfg = deps.config()
    if dm.metadata.deletion_timestamp:
        await finalize(deps, stored, cfg)
        return None
    stored = await _with_finalizer(deps, stored)
    cm = dmapi.DOMAIN_MAPPING_CONDITIONS.manage(dm.status, deps.now())
    cm.initialize()
    if dm.metadata.generation != dm.status.observed_generation:
        dmapi.mark_ingress_not_configured(cm)
    url = mapping_url(key.name, cfg)
    dm.status.url, dm.status.address = url, Addressable(url=url)
    requeue = await _map(deps, cm, dm, cfg)
    dm.status.observed_generation = dm.metadata.generation
    await write_status(deps.store, DOMAINMAPPING, stored, dm)
    return requeue


async def reconcile_claim(deps: Deps, key: Key) -> Requeue:
    """ClusterDomainClaims have no reconciler (Knative has none); the :class:`Tracker` hands their
    changes to the DomainMappings of the same name."""
    return None


def mapping_url(host: str, cfg: Config) -> str:
    """``{default-external-scheme}://HOST`` with the gateway's port unless 80, as Route URLs are."""
    port = "" if cfg.network.external_port == 80 else f":{cfg.network.external_port}"
    return f"{cfg.network.default_external_scheme}://{host}{port}"


async def _map(deps: Deps, cm: ConditionManager, dm: DomainMapping, cfg: Config) -> Requeue:
    ns, host = dm.metadata.namespace or "", dm.metadata.name or ""
    if not await claim_domain(deps, cm, dm, cfg):
        deps.ingress.withdraw_mapping(ns, host)
        return None
    if dm.spec.tls is not None:
        dmapi.mark_certificate_not_required(cm)  # Knative also turns the URL to https; nothing here speaks TLS
    else:
        dmapi.mark_tls_not_enabled(cm)
    try:
        target = await resolve_ref(deps, dm)
    except ResolveError as e:
        dmapi.mark_reference_not_resolved(cm, str(e))
        deps.ingress.withdraw_mapping(ns, host)
        return None
    dmapi.mark_reference_resolved(cm)
    generation = dm.metadata.generation or 0
    deps.ingress.publish_mapping(HostMapping(ns, host, generation, target))
    if deps.ingress.is_mapping_ready(ns, host, generation):
        dmapi.mark_ingress_ready(cm)
        return None
    dmapi.mark_ingress_not_configured(cm)
    return INGRESS_RETRY


async def claim_domain(deps: Deps, cm: ConditionManager, dm: DomainMapping, cfg: Config) -> bool:
    """``reconcileDomainClaim``: True when this namespace holds (or just took) the host's claim."""
    host, ns = dm.metadata.name or "", dm.metadata.namespace or ""
    claim = await get_or_none(deps.store, CLUSTERDOMAINCLAIM, "", host)
    if claim is None:
        if not cfg.network.autocreate_cluster_domain_claims:
            dmapi.mark_domain_claim_not_owned(cm)  # Knative's reason, though nobody holds it
            return False
        try:
            claim = await deps.store.create(CLUSTERDOMAINCLAIM, to_wire(dmapi.make_domain_claim(dm)))
        except AlreadyExists:  # another namespace's mapping claimed it first
            claim = await deps.store.get(CLUSTERDOMAINCLAIM, "", host)
    if claim.get("spec", {}).get("namespace") != ns:
        dmapi.mark_domain_claim_not_owned(cm)
        return False
    dmapi.mark_domain_claimed(cm)
    return True


async def resolve_ref(deps: Deps, dm: DomainMapping) -> str:
    """``resolveRef``: the target's address host, which must be ``{name}.{namespace}.svc.cluster.local``
    in the mapping's namespace (knative.dev/pkg ``resolver.URIFromKReference`` for the messages)."""
    ref = dm.spec.ref
    ns, name = ref.namespace or dm.metadata.namespace or "", ref.name or ""
    kind = by_kind(ref.api_version or "", ref.kind or "")
    if kind is None or not kind.namespaced:
        raise ResolveError(f"failed to get object {ns}/{name}: the server could not find the requested resource")
    obj = await get_or_none(deps.store, kind, ns, name)
    if obj is None:
        raise ResolveError(f'failed to get object {ns}/{name}: {kind.plural}.{kind.group} "{name}" not found')
    return target_host(obj, dm)


def target_host(obj: Obj, dm: DomainMapping) -> str:
    """The host a mapping of ``dm`` serves as, from the resolved object's ``status.address`` (pure)."""
    ref = dm.spec.ref
    address = (obj.get("status") or {}).get("address") or {}
    url = address.get("url")
    if not url:
        raise ResolveError(f"address not set for {ref.describe()}")
    parts = urlsplit(str(url))
    host = parts.hostname or ""
    if not host:
        raise ResolveError(f"hostname missing in address of {ref.describe()}")
    if parts.path.rstrip("/"):
        raise ResolveError(f'resolved URI "{url}" contains a path')
    labels = host.removesuffix(CLUSTER_SUFFIX).split(".")
    if not host.endswith(CLUSTER_SUFFIX) or len(labels) != 2:
        raise ResolveError(f'resolved URI "{url}" must be of the form {{name}}.{{namespace}}{CLUSTER_SUFFIX}')
    if labels[1] != dm.metadata.namespace:
        raise ResolveError(f'resolved URI "{url}" must be in same namespace as DomainMapping')
    return host


async def finalize(deps: Deps, stored: Obj, cfg: Config) -> None:
    """``FinalizeKind``: stop serving; with autocreate, give back the claim this namespace holds."""
    meta = stored["metadata"]
    ns, host = meta.get("namespace", ""), meta.get("name", "")
    deps.ingress.withdraw_mapping(ns, host)
    finalizers = list(meta.get("finalizers") or [])
    if FINALIZER not in finalizers:
        return
    if cfg.network.autocreate_cluster_domain_claims:
        claim = await get_or_none(deps.store, CLUSTERDOMAINCLAIM, "", host)
        if claim is not None and claim.get("spec", {}).get("namespace") == ns:
            with contextlib.suppress(NotFound):
                await deps.store.delete(CLUSTERDOMAINCLAIM, "", host)
    finalizers.remove(FINALIZER)
    updated = await deps.store.update(DOMAINMAPPING, {**stored, "metadata": {**meta, "finalizers": finalizers}})
    _finalizers_updated(deps, updated)


def _finalizers_updated(deps: Deps, updated: Obj) -> None:
    name = updated["metadata"].get("name", "")
    deps.recorder.event(AGENT, updated, EVENT_NORMAL, "FinalizerUpdate", f'Updated "{name}" finalizers')


async def _with_finalizer(deps: Deps, stored: Obj) -> Obj:
    meta = stored["metadata"]
    finalizers = list(meta.get("finalizers") or [])
    if FINALIZER in finalizers:
        return stored
    updated = await deps.store.update(
        DOMAINMAPPING, {**stored, "metadata": {**meta, "finalizers": [*finalizers, FINALIZER]}}
    )
    _finalizers_updated(deps, updated)
    return updated


class Tracker:
    """Which DomainMappings to reconcile when another object changes (Knative's tracker on
    ``spec.ref``): the mappings naming a changed object, and those named as a changed claim."""

    def __init__(self) -> None:
        self._refs: dict[tuple[str, str], tuple[str, str, str]] = {}
        """(namespace, mapping) -> (kind, namespace, name) of its ref."""

    def observe(self, kind: str, obj: Obj, deleted: bool) -> list[Key]:
        meta = obj.get("metadata") or {}
        ns, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        if kind == DOMAINMAPPING.kind:
            if deleted:
                self._refs.pop((ns, name), None)
            else:
                ref = (obj.get("spec") or {}).get("ref") or {}
                self._refs[(ns, name)] = (str(ref.get("kind")), str(ref.get("namespace") or ns), str(ref.get("name")))
            return []
        if not self._refs:
            return []
        if kind == CLUSTERDOMAINCLAIM.kind:
            return [Key(DOMAINMAPPING.kind, dns, host) for dns, host in self._refs if host == name]
        return [
            Key(DOMAINMAPPING.kind, dns, host) for (dns, host), ref in self._refs.items() if ref == (kind, ns, name)
        ]
