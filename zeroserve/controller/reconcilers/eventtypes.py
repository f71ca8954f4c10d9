"""The event registry: a source's EventTypes, and the EventType reconciler.

:func:`reconcile_source_event_types` is Knative's source duck reconciler
(``pkg/reconciler/source/duck/duck.go`` + ``resources/eventtype.go``) for one source; every source
reconciler calls it after writing its status (ApiServerSource here; PingSource and the others the
same way). From the source's ``status.ceAttributes`` and ``spec.sink.ref`` it keeps one
``eventing.knative.dev/v1beta2`` EventType per type:

* named ``md5(type + source + schema + source uid)`` in hex, in the source's namespace, labelled
  ``eventing.knative.dev/sourceName: NAME``, controlled by the source (gone with it);
* ``spec.type``/``source`` from the attributes, ``spec.reference`` the sink's ref (its namespace
  defaulted to the source's, as the EventType webhook does), ``spec.description`` from the kind's
  descriptions (the CRD's ``registry.knative.dev/eventTypes`` annotation in Knative).

As Knative's, any sink with a ``ref`` (a Broker, a Service…) gets EventTypes, a ``uri`` sink none;
an EventType whose spec no longer matches is deleted and created again; those no longer expected
(the sink changed to a URI, the mode changed the types) are deleted.

:func:`reconcile` is ``pkg/reconciler/eventtype``: ``ReferenceExists`` True when ``spec.reference``
names an object that exists (``ReferenceNotSet`` when there is none), False
``ResourceDoesNotExist`` when it does not.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Mapping
from typing import Any

from zeroserve.api import eventtype as et
from zeroserve.api.base import Obj
from zeroserve.api.eventing import pre_process
from zeroserve.api.eventtype import EventType
from zeroserve.api.kinds import EVENTTYPE, Kind, by_kind
from zeroserve.controller.reconcilers.base import Deps, Key, Requeue, get_or_none, load, write_status
from zeroserve.errors import NotFound
from zeroserve.store.base import Store

AGENT = "eventtype-controller"


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def event_type_name(ce_type: str, ce_source: str, schema: str, uid: str) -> str:
    """``MakeEventType``'s fixed name."""
    return hashlib.md5((ce_type + ce_source + schema + uid).encode(), usedforsecurity=False).hexdigest()


def expected_event_types(source_kind: Kind, source: Obj, descriptions: Mapping[str, str]) -> list[Obj]:
    """``makeEventTypes``: the EventTypes ``source`` should have (none without a sink ref)."""
    meta, spec, status = _dict(source.get("metadata")), _dict(source.get("spec")), _dict(source.get("status"))
    ref = _dict(_dict(spec.get("sink")).get("ref"))
    namespace, name, uid = str(meta.get("namespace") or ""), str(meta.get("name") or ""), str(meta.get("uid") or "")
    if not ref:
        return []
    reference = {**ref, "namespace": ref.get("namespace") or namespace}
    out: list[Obj] = []
    for attr in status.get("ceAttributes") or []:
        ce_type, ce_source = str(_dict(attr).get("type") or ""), str(_dict(attr).get("source") or "")
        if not ce_type:
            continue
        et_spec: Obj = {"type": ce_type, "source": ce_source, "reference": reference}
        if not ce_source:
            del et_spec["source"]
        if descriptions.get(ce_type):
            et_spec["description"] = descriptions[ce_type]
        owner = {
            "apiVersion": source_kind.api_version,
            "kind": source_kind.kind,
            "name": name,
            "uid": uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }
        out.append(
            {
                "apiVersion": EVENTTYPE.api_version,
                "kind": EVENTTYPE.kind,
                "metadata": {
                    "name": event_type_name(ce_type, ce_source, "", uid),
                    "namespace": namespace,
                    "labels": {et.SOURCE_NAME_LABEL: name},
                    "ownerReferences": [owner],
                },
                "spec": et_spec,
            }
        )
    return out


def _key(obj: Obj) -> tuple[str, str, str, str]:
    """``keyFromEventType``."""
    spec = _dict(obj.get("spec"))
    reference = _dict(spec.get("reference"))
    return (
        str(spec.get("type", "")),
        str(spec.get("source", "")),
        str(spec.get("schema", "")),
        str(reference.get("name", "")),
    )


def _derivative(expected: Any, current: Any) -> bool:
    """``equality.Semantic.DeepDerivative``: every field ``expected`` sets is equal in ``current``."""
    if isinstance(expected, Mapping):
        return isinstance(current, Mapping) and all(_derivative(v, current.get(k)) for k, v in expected.items())
    return bool(expected == current)


def _controlled_by(obj: Obj, uid: str) -> bool:
    refs = _dict(obj.get("metadata")).get("ownerReferences") or []
    return any(_dict(r).get("controller") is True and _dict(r).get("uid") == uid for r in refs)


async def reconcile_source_event_types(
    store: Store, source_kind: Kind, source: Obj, descriptions: Mapping[str, str] | None = None
) -> None:
    """Create and delete ``source``'s EventTypes so that they are :func:`expected_event_types`
    (``reconcileEventTypes``). ``source`` is the stored object, its status written."""
    meta = _dict(source.get("metadata"))
    namespace, name, uid = str(meta.get("namespace") or ""), str(meta.get("name") or ""), str(meta.get("uid") or "")
    listed, _ = await store.list(EVENTTYPE, namespace, f"{et.SOURCE_NAME_LABEL}={name}")
    current = {_key(o): o for o in listed if _controlled_by(o, uid)}
    expected = {_key(o): o for o in expected_event_types(source_kind, source, descriptions or {})}
    to_delete = [
        c for k, c in current.items() if k not in expected or not _derivative(expected[k]["spec"], c.get("spec"))
    ]
    to_create = [e for k, e in expected.items() if k not in current or current[k] in to_delete]
    for obj in to_delete:
        with contextlib.suppress(NotFound):
            await store.delete(EVENTTYPE, namespace, obj["metadata"]["name"])
    for obj in to_create:
        await store.create(EVENTTYPE, obj)


async def reconcile(deps: Deps, key: Key) -> Requeue:
    """The EventType reconciler: ``ReferenceExists`` from ``spec.reference``."""
    loaded = await load(deps.store, EVENTTYPE, EventType, key.namespace, key.name)
    if loaded is None:
        return None
    stored, e = loaded
    if e.metadata.deletion_timestamp:
        return None
    cm = et.CONDITIONS.manage(e.status, deps.now())
    pre_process(cm, e.status, e.metadata.generation)
    e.status.observed_generation = e.metadata.generation
    ref = e.spec.reference
    if ref is None or et.is_empty_reference(ref):
        et.mark_reference_not_set(cm)
    else:
        kind = by_kind(ref.api_version or "", ref.kind or "")
        if kind is None:
            message = f"Failed to get reference: no kind {ref.kind} in {ref.api_version} in this API server"
            cm.mark_unknown(et.REFERENCE_EXISTS, "ReferenceGetFailed", message)
        elif await get_or_none(deps.store, kind, ref.namespace or key.namespace, ref.name or "") is None:
            et.mark_reference_does_not_exist(cm)
        else:
            cm.mark_true(et.REFERENCE_EXISTS)
    await write_status(deps.store, EVENTTYPE, stored, e)
    return None
