"""The events of an ApiServerSource, as Knative's adapter builds them (PURE).

knative/eventing ``pkg/adapter/apiserver/events/events.go`` (``MakeAddEvent``, ``MakeUpdateEvent``,
``MakeDeleteEvent``, ``createSelfLink``), ``filter.go`` (the ``owner`` filter) and
``pkg/adapter/v2/cloudevents.go`` (``ceOverrides``, id and time):

* ``type``: ``dev.knative.apiserver.resource.{add,update,delete}`` in Resource mode,
  ``dev.knative.apiserver.ref.{add,update,delete}`` in Reference mode;
* ``source``: the API server's URL (the adapter's rest config host);
* ``subject``: the object's self link as Knative guesses it,
  ``/apis/APIVERSION/namespaces/NS/PLURAL/NAME``: the plural is ``UnsafeGuessKindToResource``'s
  (``services``, ``revisions``, ``brokers``), a core object is under ``/apis/v1`` too, and a
  cluster-scoped one gets an empty namespace segment, all as Knative writes them;
* extensions ``kind``, ``apiversion``, ``name``, ``namespace`` (so Triggers can filter on them),
  then ``ceOverrides.extensions`` (which win over them, as the adapter's client sets them last);
* ``datacontenttype: application/json``; the data is the whole object in Resource mode (its keys
  sorted, as Go marshals an unstructured object; a delete carries the object as it was last), an
  ``ObjectReference`` (``kind``, ``namespace``, ``name``, ``apiVersion``) in Reference mode;
* ``id`` a UUID, ``time`` the send time.

The owner filter (``controllerFilter``): with ``spec.owner`` set, only objects with a controller
owner reference pass, and only one of that apiVersion and kind where those are set.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

from pydantic import ValidationError

from zeroserve.api import apiserversource as api
from zeroserve.api.base import from_wire, to_wire
from zeroserve.api.kinds import Kind
from zeroserve.api.selectors import Selector
from zeroserve.eventing.cloudevent import go_timestamp
from zeroserve.eventing.filters import TriggerFilter

Verb = Literal["add", "update", "delete"]
Obj = dict[str, Any]

VERBS: Final[dict[str, Verb]] = {"ADDED": "add", "MODIFIED": "update", "DELETED": "delete"}
"""A store watch event's type -> the verb of the CloudEvent it becomes."""
_TYPES: Final[dict[tuple[Verb, bool], str]] = {
    ("add", False): api.ADD_EVENT,
    ("update", False): api.UPDATE_EVENT,
    ("delete", False): api.DELETE_EVENT,
    ("add", True): api.ADD_REF_EVENT,
    ("update", True): api.UPDATE_REF_EVENT,
    ("delete", True): api.DELETE_REF_EVENT,
}
_UNPLURALIZED: Final = ("endpoints",)


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def guess_resource(kind: str) -> str:
    """apimachinery ``meta.UnsafeGuessKindToResource``: the plural a kind's name suggests."""
    singular = kind.lower()
    if not singular or any(singular.endswith(s) for s in _UNPLURALIZED):
        return singular
    if singular.endswith("s"):
        return singular + "es"
    if singular.endswith("y"):
        return singular[:-1] + "ies"
    return singular + "s"


def self_link(api_version: str, kind: str, namespace: str, name: str) -> str:
    """``createSelfLink``, with its hack: a group without a version gets ``/versionUnknown``."""
    version = api_version
    if "." in version and "/" not in version:
        version += "/versionUnknown"
    return f"/apis/{version}/namespaces/{namespace}/{guess_resource(kind)}/{name}"


def reference(obj: Mapping[str, Any]) -> Obj:
    """``getRef``: a ``corev1.ObjectReference`` as Go marshals it (field order, empty ones omitted)."""
    meta = _dict(obj.get("metadata"))
    ref = {
        "kind": obj.get("kind"),
        "namespace": meta.get("namespace"),
        "name": meta.get("name"),
        "apiVersion": obj.get("apiVersion"),
    }
    return {k: v for k, v in ref.items() if v}


def _sorted(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def make_event(
    verb: Verb,
    obj: Mapping[str, Any],
    source: str,
    *,
    ref: bool,
    now: datetime,
    overrides: Mapping[str, str] | None = None,
    event_id: str | None = None,
) -> Obj:
    """The CloudEvent (structured JSON form, data as a JSON value) for ``verb`` on ``obj``."""
    meta = _dict(obj.get("metadata"))
    api_version, kind = str(obj.get("apiVersion") or ""), str(obj.get("kind") or "")
    namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
    event: Obj = {
        "specversion": "1.0",
        "id": event_id or str(uuid.uuid4()),
        "source": source,
        "type": _TYPES[(verb, ref)],
        "subject": self_link(api_version, kind, namespace, name),
        "time": go_timestamp(now),
        "datacontenttype": "application/json",
        "kind": kind,
        "apiversion": api_version,
        "name": name,
        "namespace": namespace,
    }
    event.update(overrides or {})
    event["data"] = reference(obj) if ref else _sorted(obj)
    return event


def controller_of(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """``metav1.GetControllerOf``: the owner reference with ``controller: true``."""
    refs = _dict(obj.get("metadata")).get("ownerReferences")
    for owner in refs if isinstance(refs, list) else []:
        if isinstance(owner, Mapping) and owner.get("controller") is True:
            return owner
    return None


def owner_passes(obj: Mapping[str, Any], api_version: str, kind: str) -> bool:
    """``controllerFilter.filtered``, negated: does ``obj`` pass an ``owner`` filter?"""
    controller = controller_of(obj)
    if controller is None:
        return False
    if api_version and api_version != controller.get("apiVersion"):
        return False
    return not (kind and kind != controller.get("kind"))


# ----------------------------------------------------------------------------- what a source asks


@dataclass(frozen=True)
class Watch:
    """One ``spec.resources`` entry: Knative runs one reflector per entry, so an object two entries
    select is sent twice."""

    kind: Kind
    selector: Selector


@dataclass(frozen=True)
class SourceConfig:
    """What the adapter needs from an ApiServerSource (its spec and resolved status)."""

    uid: str
    namespace: str
    name: str
    watches: tuple[Watch, ...]
    namespaces: frozenset[str] | None
    """Where namespaced objects are watched (None: every namespace, an empty ``namespaceSelector``)."""
    owner: tuple[str, str] | None
    ref: bool
    overrides: Mapping[str, str] = field(default_factory=dict)
    sink: str | None = None
    """``status.sinkUri``; None until resolved (changes wait: the cursor does not move)."""
    filter: TriggerFilter | None = None

    @property
    def kinds(self) -> tuple[Kind, ...]:
        return tuple(dict.fromkeys(w.kind for w in self.watches))


def source_config(obj: Mapping[str, Any], kinds: Sequence[Kind]) -> SourceConfig | None:
    """The adapter's view of a stored ApiServerSource (None: nothing to run, e.g. being deleted)."""
    try:
        s = from_wire(api.ApiServerSource, dict(obj))
    except ValidationError:
        return None
    meta = s.metadata
    if not meta.uid or not meta.name or meta.deletion_timestamp:
        return None
    by_kind = {(k.api_version, k.kind): k for k in kinds}
    watches = tuple(
        Watch(by_kind[(r.api_version, r.kind)], r.selector.selector() if r.selector else Selector())
        for r in s.spec.resources
        if (r.api_version, r.kind) in by_kind
    )
    selector = s.spec.namespace_selector
    all_namespaces = selector is not None and not selector.match_labels and not selector.match_expressions
    owner = s.spec.owner
    return SourceConfig(
        uid=meta.uid,
        namespace=meta.namespace or "",
        name=meta.name,
        watches=watches,
        namespaces=None if all_namespaces else frozenset(s.status.namespaces or [meta.namespace or ""]),
        owner=(owner.api_version, owner.kind) if owner is not None else None,
        ref=s.spec.mode != api.RESOURCE_MODE,
        overrides=dict(s.spec.ce_overrides.extensions) if s.spec.ce_overrides else {},
        sink=s.status.sink_uri or None,
        filter=TriggerFilter.from_spec({"filters": to_wire(s)["spec"]["filters"]}) if s.spec.filters else None,
    )


def events_for(
    cfg: SourceConfig, kind: Kind, watch_type: str, obj: Mapping[str, Any], source: str, now: datetime
) -> list[Obj]:
    """The CloudEvents one store change becomes: one per ``resources`` entry of its kind whose
    selector matches, in a watched namespace, past the owner filter and ``spec.filters``."""
    verb = VERBS.get(watch_type)
    meta = _dict(obj.get("metadata"))
    if verb is None:
        return []
    if kind.namespaced and cfg.namespaces is not None and meta.get("namespace") not in cfg.namespaces:
        return []
    if cfg.owner is not None and not owner_passes(obj, *cfg.owner):
        return []
    labels = {str(k): str(v) for k, v in _dict(meta.get("labels")).items()}
    out: list[Obj] = []
    for w in cfg.watches:
        if w.kind is not kind or not w.selector.matches(labels):
            continue
        event = make_event(verb, obj, source, ref=cfg.ref, now=now, overrides=cfg.overrides)
        if cfg.filter is None or cfg.filter.matches(event):
            out.append(event)
    return out
