"""Destinations to URLs (knative.dev/pkg ``resolver.URIResolver.AddressableFromDestinationV1``), and the
tracker that re-enqueues Brokers and Triggers when what they point at changes.

A ``ref`` names an Addressable in the store (a Knative Service or Route, a Broker, a DomainMapping:
anything with ``status.addresses`` or ``status.address``), or a core/v1 Service (its cluster-local
name, as Knative's resolver special-cases it): its first address's URL, with the
Destination's relative ``uri`` resolved on it; an absolute ``uri`` alone is taken as it is. Errors
carry Knative's messages (the Trigger's ``SubscriberResolved`` and ``DeadLetterSinkResolved``
conditions show them).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from zeroserve.api import eventing as ev
from zeroserve.api.apiserversource import SourceStatus, mark_no_sink, mark_sink
from zeroserve.api.base import Obj, to_wire
from zeroserve.api.conditions import ConditionManager
from zeroserve.api.domainmapping import KReference
from zeroserve.api.kinds import APISERVERSOURCE, BROKER, CORE_SERVICE, EVENTTYPE, TRIGGER, by_kind
from zeroserve.controller.reconcilers.base import Deps, Key, get_or_none
from zeroserve.store.base import Store


class ResolveError(Exception):
    """A Destination that does not resolve (the message is Knative's resolver's)."""


def _resource(api_version: str, kind: str) -> str:
    """``meta.UnsafeGuessKindToResource`` as ``GroupVersionResource.String()`` prints it."""
    group, _, version = api_version.rpartition("/")
    plural = kind.lower()
    plural = plural[:-1] + "ies" if plural.endswith("y") else plural + ("es" if plural.endswith("s") else "s")
    return f"{group}/{version}, Resource={plural}"


async def addressable(store: Store, ref: KReference) -> str:
    """The URL of the Addressable ``ref`` names (``addressableFromDestinationRef``)."""
    api_version, kind_name = ref.api_version or "", ref.kind or ""
    if api_version == "v1" and kind_name == "Service":
        return await _core_service(store, ref)
    kind = by_kind(api_version, kind_name)
    if kind is None:
        raise ResolveError(
            f"failed to get lister for {_resource(api_version, kind_name)}: no such kind in this API server"
        )
    namespace, name = ref.namespace or "", ref.name or ""
    obj = await get_or_none(store, kind, namespace, name)
    if obj is None:
        group = f".{kind.group}" if kind.group else ""
        raise ResolveError(f'failed to get object {namespace}/{name}: {kind.plural}{group} "{name}" not found')
    return select_address(obj, ref)


async def _core_service(store: Store, ref: KReference) -> str:
    """A core/v1 Service is callable though not Addressable (knative.dev/pkg's resolver special-cases
    it): once it exists, ``http://NAME.NAMESPACE.svc.cluster.local`` (zeroserve's are a Route's and its
    tags', so the internal listener answers that name)."""
    namespace, name = ref.namespace or "", ref.name or ""
    if await get_or_none(store, CORE_SERVICE, namespace, name) is None:
        raise ResolveError(f'failed to get object {namespace}/{name}: services "{name}" not found')
    return f"http://{name}.{namespace}.svc.cluster.local"


def select_address(obj: Obj, ref: KReference) -> str:
    """``selectAddress``: ``ref.address`` by name in ``status.addresses``, else the first of them, else
    ``status.address``; it must have a URL with a host."""
    status = obj.get("status") or {}
    addresses = [a for a in status.get("addresses") or [] if isinstance(a, dict)]
    single = status.get("address") if isinstance(status.get("address"), dict) else None
    if not addresses and single is None:
        raise ResolveError(f"address not set for {ref.describe()}")
    chosen: dict[str, Any] | None
    if ref.address:
        chosen = next((a for a in addresses if a.get("name") == ref.address), None)
        if chosen is None:
            raise ResolveError(f"address with name {json.dumps(ref.address)} not found for {ref.describe()}")
    else:
        chosen = addresses[0] if addresses else single
    url = chosen.get("url") if chosen else None
    if not isinstance(url, str) or not url:
        raise ResolveError(f"URL missing in address of {ref.describe()}")
    if not urlsplit(url).hostname:
        raise ResolveError(f"hostname missing in address of {ref.describe()}")
    return url


async def resolve(store: Store, dest: ev.Destination) -> str:
    """``AddressableFromDestinationV1``: the URL a Destination sends to."""
    if dest.ref is not None:
        url = await addressable(store, dest.ref)
        if dest.uri is not None:
            if ev.is_absolute(dest.uri):
                raise ResolveError("absolute URI is not allowed when Ref or [apiVersion, kind, name] exists")
            return ev.resolve_relative(url, dest.uri)
        return url
    if dest.uri is not None:
        if not ev.is_absolute(dest.uri):
            raise ResolveError(
                f"URI is not absolute (both scheme and host should be non-empty): {json.dumps(dest.uri)}"
            )
        return dest.uri
    raise ResolveError("destination missing Ref and URI, expected at least one")


async def source_sink(
    deps: Deps,
    agent: str,
    stored: Obj,
    sink: ev.Destination,
    namespace: str,
    cm: ConditionManager,
    status: SourceStatus,
    *,
    warn_defaulted: bool,
) -> str | None:
    """A source's sink (a ref without a namespace is in ``namespace``, the source's): ``MarkSink`` with
    its URI; or, where it does not resolve, ``MarkNoSink`` ``NotFound``, a ``SinkNotFound`` warning
    naming the sink (as given, or with that namespace filled in where ``warn_defaulted``) and None."""
    dest = sink.model_copy(deep=True)
    if dest.ref is not None and not dest.ref.namespace:
        dest.ref.namespace = namespace
    try:
        uri = await resolve(deps.store, dest)
    except ResolveError:
        mark_no_sink(cm, status, "NotFound", "")
        shown = json.dumps(to_wire(dest if warn_defaulted else sink), separators=(",", ":"))
        deps.recorder.event(agent, stored, "Warning", "SinkNotFound", f"Sink not found: {shown}")
        return None
    mark_sink(cm, status, uri)
    return uri


# ----------------------------------------------------------------------------- tracking

Ref = tuple[str, str, str]
"""(kind, namespace, name) of an object a Broker or Trigger depends on."""


def _ref(ref: Any, namespace: str) -> Ref | None:
    if not isinstance(ref, dict) or not ref.get("kind") or not ref.get("name"):
        return None
    return str(ref["kind"]), str(ref.get("namespace") or namespace), str(ref["name"])


def _dependency(annotation: Any, namespace: str) -> Ref | None:
    try:
        return _ref(json.loads(annotation), namespace) if isinstance(annotation, str) else None
    except ValueError:
        return None


def depends_on(kind: str, obj: Obj) -> set[Ref]:
    """What a Broker's or a Trigger's reconcile reads besides itself."""
    meta, spec = obj.get("metadata") or {}, obj.get("spec") or {}
    ns = str(meta.get("namespace") or "")
    delivery = spec.get("delivery") or {}
    refs = {_ref((delivery.get("deadLetterSink") or {}).get("ref"), ns)}
    if kind == APISERVERSOURCE.kind:
        refs.add(_ref((spec.get("sink") or {}).get("ref"), ns))
    if kind == EVENTTYPE.kind:
        refs.add(_ref(spec.get("reference"), ns))
    if kind == TRIGGER.kind:
        refs.add(_ref((spec.get("subscriber") or {}).get("ref"), ns))
        refs.add(_dependency((meta.get("annotations") or {}).get(ev.DEPENDENCY_ANNOTATION), ns))
        broker_ref = spec.get("brokerRef") or {}
        broker = spec.get("broker") or broker_ref.get("name")
        if broker:
            refs.add((BROKER.kind, str(broker_ref.get("namespace") or ns), str(broker)))
    return {r for r in refs if r is not None}


TRACKED = (BROKER.kind, TRIGGER.kind, APISERVERSOURCE.kind, EVENTTYPE.kind)
"""The kinds whose reconcile reads other objects by reference (sinks, subscribers, references)."""


class Tracker:
    """Which Brokers and Triggers to reconcile when another object changes (Knative's tracker on
    their refs, and the trigger controller's Broker handler)."""

    def __init__(self) -> None:
        self._refs: dict[Key, set[Ref]] = {}

    def observe(self, kind: str, obj: Obj, deleted: bool) -> Iterable[Key]:
        meta = obj.get("metadata") or {}
        ns, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        if kind in TRACKED:
            key = Key(kind, ns, name)
            if deleted:
                self._refs.pop(key, None)
            else:
                self._refs[key] = depends_on(kind, obj)
        changed = (kind, ns, name)
        return [key for key, refs in self._refs.items() if changed in refs]
