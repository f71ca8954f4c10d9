"""Admission of core ``v1`` Events, as kube-apiserver admits them (PURE).

``pkg/apis/core/validation/events.go``: an Event written through ``/api/v1`` gets the legacy rules
only, for compatibility. Without ``eventTime`` (what client-go's ``record`` package writes) the
event's namespace must be its ``involvedObject``'s, or empty/``default`` for a cluster-scoped object.
With ``eventTime`` (a newer client) it needs ``reportingComponent`` (a qualified name),
``reportingInstance``, ``action`` and ``reason`` (128 characters at most each) and a ``message`` of
at most 1024. The metadata is checked as ``rest.BeforeCreate`` checks any object's, with the name a
path segment (not ``.`` or ``..``, no ``/`` or ``%``): event names are ``<object>.<hex nanoseconds>``.
Timestamps must parse as RFC 3339 (Go's decoding refuses anything else).
"""

from __future__ import annotations

from typing import Final

from zeroserve.api import names, wire
from zeroserve.api.autoscaling import parse_time
from zeroserve.api.base import Obj, to_wire
from zeroserve.api.core import Event
from zeroserve.api.corevalidation import (
    KubeFieldError,
    KubeInvalid,
    invalid,
    required,
    validate_object_meta,
)
from zeroserve.api.decoding import parse
from zeroserve.errors import FieldError

REPORTING_INSTANCE_LIMIT: Final = 128
ACTION_LIMIT: Final = 128
REASON_LIMIT: Final = 128
NOTE_LIMIT: Final = 1024
"""``NoteLengthLimit``: the longest message an ``events.k8s.io`` client may send (and what the
recorder keeps of a longer one)."""
NAME_MAY_NOT_BE: Final = (".", "..")
NAME_MAY_NOT_CONTAIN: Final = ("/", "%")


def path_segment_name(name: str) -> list[str]:
    """apimachinery ``IsValidPathSegmentName``."""
    if name in NAME_MAY_NOT_BE:
        return [f"may not be '{name}'"]
    return [f"may not contain '{bad}'" for bad in NAME_MAY_NOT_CONTAIN if bad in name]


def _too_long(path: str, limit: int) -> KubeFieldError:
    return invalid(path, "", f"can have at most {limit} characters")


def _legacy(event: Event) -> list[FieldError]:
    """``legacyValidateEvent``."""
    ns, ref_ns = event.metadata.namespace or "", event.involved_object.namespace or ""
    errs: list[FieldError] = []
    if not event.event_time:
        if (not ref_ns and ns not in ("", "default")) or (ref_ns and ns != ref_ns):
            errs.append(invalid("involvedObject.namespace", ref_ns, "does not match event.namespace"))
    else:
        if not ref_ns and ns not in ("default", "kube-system"):
            errs.append(invalid("involvedObject.namespace", ref_ns, "does not match event.namespace"))
        component = event.reporting_component or ""
        if not component:
            errs.append(required("reportingComponent"))
        errs += [invalid("reportingComponent", component, m) for m in names.is_qualified_name(component)]
        for path, value, limit in (
            ("reportingInstance", event.reporting_instance, REPORTING_INSTANCE_LIMIT),
            ("action", event.action, ACTION_LIMIT),
            ("reason", event.reason, REASON_LIMIT),
        ):
            if not value:
                errs.append(required(path))
            elif len(value) > limit:
                errs.append(_too_long(path, limit))
        if len(event.message or "") > NOTE_LIMIT:
            errs.append(_too_long("message", NOTE_LIMIT))
    errs += [invalid("namespace", ns, m) for m in names.is_dns1123_subdomain(ns)]
    return errs


def _times(event: Event) -> list[FieldError]:
    stamps = {
        "firstTimestamp": event.first_timestamp,
        "lastTimestamp": event.last_timestamp,
        "eventTime": event.event_time,
        "series.lastObservedTime": event.series.last_observed_time if event.series else None,
    }
    return [
        invalid(path, value, "must be an RFC 3339 time (2006-01-02T15:04:05Z)")
        for path, value in stamps.items()
        if value and parse_time(value) is None
    ]


def validate_event(event: Event) -> list[FieldError]:
    """Every problem of a ``v1`` Event (create and update alike: v1 has no update-only rules)."""
    meta = validate_object_meta(event.metadata, namespaced=True, name_check=path_segment_name)
    return meta + _legacy(event) + _times(event)


def admit(new: Obj) -> Obj:
    """Decode and validate an Event; raise KubeInvalid with every problem."""
    meta = new.get("metadata")
    name = str(meta.get("name") or meta.get("generateName") or "") if isinstance(meta, dict) else ""
    problems = wire.errors(new)
    if problems:
        raise KubeInvalid([KubeFieldError(e.message, e.paths) for e in problems], "Event", name)
    model, errs = parse(Event, new)
    if model is None:
        raise KubeInvalid([KubeFieldError(e.message, e.paths, e.details) for e in errs], "Event", name)
    errs = validate_event(model)
    if errs:
        raise KubeInvalid(errs, "Event", name)
    return to_wire(model)
