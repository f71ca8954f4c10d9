"""Trigger filters, as Knative's ``pkg/eventfilter`` evaluates them. PURE.

An event is the CloudEvent as a structured-mode JSON object (a dict of attributes, extensions
and ``data``/``data_base64``). A filter answers :data:`PASS`, :data:`FAIL` or :data:`NONE` (no
opinion); only :data:`FAIL` keeps an event from a Trigger's subscriber (the filter handler drops on
``FailFilter`` alone).

* ``spec.filter.attributes`` (``attributes/filter.go``): every key must be present; ``""`` means
  "present and non-empty", any other value an exact match. The CloudEvents context attributes are
  always present (an absent ``subject`` reads as ``""``), extensions only when set.
* ``spec.filters`` (``subscriptionsapi/``), ANDed; it overrides ``spec.filter`` when non-empty. Each
  element uses one dialect, the first set in Knative's order exact, prefix, suffix, all, any, not
  (``create.go MaterializeSubscriptionsAPIFilter``); an element with none, an empty attribute name or
  value, or only ``cesql`` (zeroserve has no CESQL) is skipped, as Knative skips a filter it cannot
  build. ``all`` of zero filters has no opinion; ``all`` and ``any`` return the last filter's answer
  when none decided (``[PASS, NONE]`` is NONE); ``not`` flips PASS and FAIL and keeps NONE.

Attribute values are compared as Go's ``fmt.Sprintf("%v")`` prints them: ``time`` as Go's
``time.MarshalText`` (RFC 3339 with nanoseconds, trailing zeros dropped; the zero time when absent),
``datamediatype`` as the media type of ``datacontenttype``, booleans ``true``/``false``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

Result = Literal["pass", "fail", "none"]
PASS: Final[Result] = "pass"
FAIL: Final[Result] = "fail"
NONE: Final[Result] = "none"

Event = Mapping[str, Any]
Filter = Callable[[Event], Result]

_CONTEXT = ("specversion", "type", "source", "subject", "id", "dataschema", "datacontenttype")
_NOT_EXTENSIONS = frozenset({*_CONTEXT, "time", "data", "data_base64", "schemaurl", "datacontentencoding"})
ZERO_TIME = "0001-01-01T00:00:00Z"
_TIME = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:[.,](\d+))?([zZ]|[+-]\d\d:\d\d)")


def _text(value: Any) -> str:
    """A value as Go's ``%v`` prints the SDK's attribute types (string, int32, bool, URI, time)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def go_time(text: str) -> str:
    """An RFC 3339 timestamp as Go's ``time.MarshalText`` writes it back (RFC3339Nano)."""
    m = _TIME.fullmatch(text.strip())
    if m is None:
        return text
    whole, frac, zone = m.groups()
    digits = (frac or "")[:9].rstrip("0")
    zone = "Z" if zone in ("z", "Z", "+00:00") else zone
    return f"{whole}{'.' + digits if digits else ''}{zone}"


def lookup(event: Event, name: str) -> str | None:
    """``LookupAttribute``: the attribute as text, or None when the event does not have it."""
    if name in _CONTEXT:
        return _text(event.get(name, ""))
    if name == "time":
        value = event.get("time")
        return go_time(str(value)) if value else ZERO_TIME
    if name == "schemaurl":
        return _text(event.get("dataschema", event.get("schemaurl", "")))
    if name == "datamediatype":
        return str(event.get("datacontenttype", "")).split(";", 1)[0].strip().lower()
    if name == "datacontentencoding":
        return _text(event.get("datacontentencoding", ""))
    if name in _NOT_EXTENSIONS or event.get(name) is None:
        return None  # an extension set to null is unset, as the SDK reads it
    return _text(event[name])


# ----------------------------------------------------------------------------- the dialects


def attributes_filter(attributes: Mapping[str, str]) -> Filter:
    """``spec.filter.attributes``: exact matches, ``""`` = present and non-empty."""
    items = tuple(attributes.items())

    def check(event: Event) -> Result:
        for name, want in items:
            value = lookup(event, name)
            if value is None or (want == "" and value == "") or (want != "" and value != want):
                return FAIL
        return PASS

    return check


def _compare(items: Mapping[str, str], test: Callable[[str, str], bool]) -> Filter | None:
    pairs = tuple(items.items())
    if any(not k or not v for k, v in pairs):
        return None  # NewExactFilter & co. refuse an empty attribute or value

    def check(event: Event) -> Result:
        for name, want in pairs:
            value = lookup(event, name)
            if value is None or not test(value, want):
                return FAIL
        return PASS

    return check


def _all(filters: list[Filter]) -> Filter:
    if len(filters) == 1:
        return filters[0]

    def check(event: Event) -> Result:
        result: Result = NONE
        for f in filters:
            result = f(event)
            if result == FAIL:
                return FAIL
        return result

    return check


def _any(filters: list[Filter]) -> Filter:
    if len(filters) == 1:
        return filters[0]

    def check(event: Event) -> Result:
        result: Result = NONE
        for f in filters:
            result = f(event)
            if result == PASS:
                return PASS
        return result

    return check


def _not(inner: Filter | None) -> Filter:
    def check(event: Event) -> Result:
        if inner is None:
            return NONE
        result = inner(event)
        return PASS if result == FAIL else FAIL if result == PASS else NONE

    return check


def _no_filter(_event: Event) -> Result:
    return NONE


def subscriptions_api_filter(spec: Mapping[str, Any]) -> Filter | None:
    """One element of ``spec.filters`` (``MaterializeSubscriptionsAPIFilter``); None: skipped."""
    if spec.get("exact"):
        return _compare(spec["exact"], lambda value, want: value == want)
    if spec.get("prefix"):
        return _compare(spec["prefix"], lambda value, want: value.startswith(want))
    if spec.get("suffix"):
        return _compare(spec["suffix"], lambda value, want: value.endswith(want))
    if spec.get("all"):
        return _all(filters_list(spec["all"]))
    if spec.get("any"):
        return _any(filters_list(spec["any"]))
    if spec.get("not") is not None:
        inner = spec["not"]
        return _not(subscriptions_api_filter(inner) if isinstance(inner, Mapping) else None)
    return None  # cesql (not supported) or nothing set


def filters_list(specs: Any) -> list[Filter]:
    """``MaterializeFiltersList``: the elements that could be built, in order."""
    out: list[Filter] = []
    for spec in specs if isinstance(specs, list) else ():
        f = subscriptions_api_filter(spec) if isinstance(spec, Mapping) else None
        if f is not None:
            out.append(f)
    return out


@dataclass(frozen=True)
class TriggerFilter:
    """A Trigger's filter, built once from its spec and applied to each event."""

    check: Filter

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> TriggerFilter:
        """``filterEvent``: ``spec.filters`` when non-empty, else ``spec.filter.attributes``, else none."""
        filters = spec.get("filters")
        if isinstance(filters, list) and filters:
            return cls(_all(built) if (built := filters_list(filters)) else _no_filter)
        legacy = spec.get("filter")
        attributes = legacy.get("attributes") if isinstance(legacy, Mapping) else None
        if isinstance(attributes, Mapping):
            return cls(attributes_filter({str(k): str(v) for k, v in attributes.items()}))
        return cls(_no_filter)

    def matches(self, event: Event) -> bool:
        return self.check(event) != FAIL
