"""CloudEvents from HTTP requests, as the Broker ingress reads them (sdk-go's ``binding.ToEvent`` and
``Event.Validate``). PURE.

**Modes** (HTTP protocol binding 1.0.2, sdk-go's ``ReadEncoding``): a ``Content-Type`` of
``application/cloudevents+json`` is *structured* (the body is the whole event); otherwise a
``ce-specversion`` header makes it *binary* (``ce-*`` headers are the attributes, percent-decoded;
``Content-Type`` is ``datacontenttype``; the body is the data). Anything else, a batch included,
is not an event.

**Validation** (``EventContextV1.Validate``, spec versions 1.0 and 0.3): ``id``, ``source`` and
``type`` present and not blank; ``subject`` and ``datacontenttype`` not blank when present,
``datacontenttype`` a media type, ``dataschema`` a URI, ``time`` RFC 3339; attribute names ASCII
letters and digits. An event is stored as it came: zeroserve validates ``time`` but does not
rewrite it (sdk-go re-formats it in UTC).

**Stored form**: the structured JSON object :mod:`zeroserve.eventing.encoding` delivers from —
binary data with a JSON ``datacontenttype`` (or none) becomes ``data`` (the parsed value), other
data ``data`` as text when it is UTF-8 and ``data_base64`` otherwise, so what a subscriber gets in
binary mode is the bytes that were sent.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import unquote, urlsplit

STRUCTURED: Final = "application/cloudevents"
ARRIVAL_TIME: Final = "knativearrivaltime"
TTL: Final = "knativebrokerttl"
DEFAULT_TTL: Final = 255
SPEC_VERSIONS: Final = frozenset({"1.0", "0.3"})
_NAME = re.compile(r"[a-zA-Z0-9]+")
_TIME = re.compile(r"\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")

Event = dict[str, Any]


class InvalidEvent(ValueError):
    """Not a valid CloudEvent (the ingress answers 400 with this message)."""


def is_json(content_type: str | None) -> bool:
    """Data of this content type is JSON (none at all counts as JSON, as in structured mode)."""
    if content_type is None:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media in ("application/json", "text/json") or media.endswith("+json")


def parse(headers: Mapping[str, str], body: bytes) -> Event:
    """The event in a request (``headers`` with lower-case names); :class:`InvalidEvent` if none."""
    content_type = headers.get("content-type")
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media.startswith(STRUCTURED):
        if media != STRUCTURED + "+json":
            raise InvalidEvent(
                f"unsupported event format {media!r} (structured mode takes application/cloudevents+json)"
            )
        event = _structured(body)
    elif "ce-specversion" in headers:
        event = _binary(headers, content_type, body)
    else:
        raise InvalidEvent(
            "no CloudEvent: neither a ce-specversion header nor Content-Type application/cloudevents+json"
        )
    validate(event)
    return event


def _structured(body: bytes) -> Event:
    try:
        event = json.loads(body)
    except ValueError as e:
        raise InvalidEvent(f"structured event is not valid JSON: {e}") from None
    if not isinstance(event, dict):
        raise InvalidEvent("structured event is not a JSON object")
    if "data" in event and "data_base64" in event:
        raise InvalidEvent("structured event has both data and data_base64")
    return event


def _binary(headers: Mapping[str, str], content_type: str | None, body: bytes) -> Event:
    event: Event = {}
    for name, value in headers.items():
        if name.startswith("ce-") and len(name) > 3:
            event[name[3:]] = unquote(value)
    if content_type is not None:
        event["datacontenttype"] = content_type
    if body:
        if is_json(content_type):
            try:
                event["data"] = json.loads(body)
                return event
            except ValueError:
                pass  # bytes that are not the JSON they claim to be: kept as they are
        try:
            text = body.decode()
        except UnicodeDecodeError:
            event["data_base64"] = base64.b64encode(body).decode()
        else:
            if is_json(content_type):
                event["data_base64"] = base64.b64encode(body).decode()
            else:
                event["data"] = text
    return event


def _blank(value: Any) -> bool:
    return not isinstance(value, str) or not value.strip()


def validate(event: Mapping[str, Any]) -> None:
    """``EventContextV1.Validate`` (and what sdk-go's decoding refuses); :class:`InvalidEvent`."""
    version = event.get("specversion")
    if version not in SPEC_VERSIONS:
        raise InvalidEvent(f"specversion {version!r} is not supported (1.0 or 0.3)")
    problems = [f"{name}: MUST be a non-empty string" for name in ("id", "source", "type") if _blank(event.get(name))]
    for name in ("subject", "datacontenttype"):
        if name in event and _blank(event[name]):
            problems.append(f"{name}: if present, MUST be a non-empty string")
    ct = event.get("datacontenttype")
    if isinstance(ct, str) and ct.strip() and not _TOKEN.fullmatch(ct.split(";", 1)[0].strip().replace("/", "", 1)):
        problems.append(f"datacontenttype: not an RFC 2046 media type: {ct!r}")
    schema = event.get("dataschema")
    if schema is not None and (not isinstance(schema, str) or not _is_uri(schema)):
        problems.append("dataschema: if present, MUST adhere to the format specified in RFC 3986")
    time = event.get("time")
    if time is not None and (not isinstance(time, str) or not _TIME.fullmatch(time)):
        problems.append(f"time: not an RFC 3339 timestamp: {time!r}")
    for name in event:
        if not _NAME.fullmatch(name) and name not in ("data", "data_base64"):
            problems.append(f"{name!r}: attribute names MUST consist of ASCII letters and digits")
    if problems:
        raise InvalidEvent("invalid CloudEvent: " + "; ".join(sorted(problems)))


def _is_uri(text: str) -> bool:
    try:
        return bool(urlsplit(text).scheme)
    except ValueError:
        return False


def go_timestamp(now: datetime) -> str:
    """``types.Timestamp`` as sdk-go writes it: RFC 3339 in UTC, nanoseconds without trailing zeros."""
    now = now.astimezone(UTC)
    frac = f"{now.microsecond:06d}".rstrip("0")
    return now.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "") + "Z"


def next_ttl(event: Mapping[str, Any]) -> int:
    """``TTLDefaulter``: the event's ``knativebrokerttl`` less one (at least 0), or 255 when it has
    none or one that is not an integer."""
    raw = event.get(TTL)
    if raw is None or isinstance(raw, bool):
        return DEFAULT_TTL
    try:
        ttl = int(raw) if not isinstance(raw, float) or raw.is_integer() else None
    except (TypeError, ValueError):
        ttl = None
    return DEFAULT_TTL if ttl is None else max(ttl - 1, 0)


def admit(event: Event, now: datetime) -> bytes:
    """The ingress's ``receive``: ``knativearrivaltime`` set, the TTL defaulted or decremented;
    :class:`InvalidEvent` when the TTL is spent. The event as the log stores it."""
    ttl = next_ttl(event)
    if ttl <= 0:
        raise InvalidEvent(f"{TTL} is 0: the event looped through brokers too often")
    event[ARRIVAL_TIME] = go_timestamp(now)
    event[TTL] = ttl
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
