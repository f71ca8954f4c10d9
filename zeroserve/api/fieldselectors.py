"""Which fields a ``fieldSelector`` may name, per kind, and an object's values for them (PURE).

kube-apiserver's registry strategies (``GetAttrs`` / ``ToSelectableFields``): every kind has
``metadata.name`` and ``metadata.namespace`` (``generic.ObjectMetaFieldsSet``); a Pod adds
``spec.nodeName``, ``status.phase`` and the others of :data:`POD`; a Secret adds
``type``, a Namespace ``status.phase``, and an Event (``pkg/registry/core/event/strategy.go``) the
fields of its ``involvedObject`` (what ``kubectl describe`` and ``kubectl events --for`` select on),
``reason``, ``reportingComponent``, ``source`` (its component, else the reporting component) and
``type``. Values are strings; an absent field is ``""``.
"""

from __future__ import annotations

from typing import Final

from zeroserve.api.base import Obj

COMMON: Final = ("metadata.name", "metadata.namespace")
INVOLVED_OBJECT: Final = ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
EVENT: Final = (
    *(f"involvedObject.{f}" for f in INVOLVED_OBJECT),
    "reason",
    "reportingComponent",
    "source",
    "type",
)
POD: Final = (
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
)
"""``pkg/registry/core/pod/strategy.go`` ``ToSelectableFields`` (less ``spec.hostNetwork``, ``status.podIPs``)."""
BY_KIND: Final[dict[tuple[str, str], tuple[str, ...]]] = {
    ("v1", "Secret"): ("type",),
    ("v1", "Namespace"): ("status.phase",),
    ("v1", "Event"): EVENT,
    ("v1", "Pod"): POD,
}
"""The field labels a kind has beyond :data:`COMMON`, by (apiVersion, kind)."""


def supported(api_version: str, kind: str) -> tuple[str, ...]:
    return COMMON + BY_KIND.get((api_version, kind), ())


def _text(value: object) -> str:
    return "" if value is None else str(value)


def values(api_version: str, kind: str, obj: Obj) -> dict[str, str]:
    """The object's selectable fields (those of :func:`supported`)."""
    meta = obj.get("metadata") or {}
    out = {"metadata.name": _text(meta.get("name")), "metadata.namespace": _text(meta.get("namespace"))}
    if (api_version, kind) == ("v1", "Secret"):
        out["type"] = _text(obj.get("type"))
    elif (api_version, kind) == ("v1", "Namespace"):
        status = obj.get("status")
        out["status.phase"] = _text(status.get("phase")) if isinstance(status, dict) else ""
    elif (api_version, kind) == ("v1", "Event"):
        out.update(_event(obj))
    elif (api_version, kind) == ("v1", "Pod"):
        for path in POD:
            section, name = path.split(".")
            part = obj.get(section)
            out[path] = _text(part.get(name)) if isinstance(part, dict) else ""
    return out


def _event(obj: Obj) -> dict[str, str]:
    ref = obj.get("involvedObject") or {}
    source = obj.get("source") or {}
    reporting = _text(obj.get("reportingComponent"))
    out = {f"involvedObject.{f}": _text(ref.get(f)) for f in INVOLVED_OBJECT}
    out.update(
        reason=_text(obj.get("reason")),
        reportingComponent=reporting,
        source=_text(source.get("component")) or reporting,
        type=_text(obj.get("type")),
    )
    return out
