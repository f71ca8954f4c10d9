"""CloudEvents over HTTP for the dispatcher: an event to a request, a response to a reply. PURE.

The log holds each event in structured JSON (a dict of attributes, extensions and ``data`` or
``data_base64``). Delivery writes it in **binary** mode by default (``ce-*`` headers, ``data`` as the
body with ``datacontenttype`` as Content-Type) and in **structured** mode for ``delivery.format:
json`` (``application/cloudevents+json``), as the HTTP protocol binding 1.0.2 says: header values are
UTF-8, and space, ``"``, ``%`` and anything outside printable ASCII are percent-encoded.

A subscriber's 2xx answer is read as Knative's filter handler reads it (``writeResponse``): binary
when it has ``ce-specversion``, structured when its Content-Type is ``application/cloudevents…``;
otherwise an empty body is "no reply" and a non-empty one is a failure (the handler answers 502).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

TTL: Final = "knativebrokerttl"
STRUCTURED: Final = "application/cloudevents+json"
_BODY_KEYS = frozenset({"data", "data_base64", "datacontenttype"})
_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '"%')

Headers = list[tuple[str, str]]


def _header_value(value: Any) -> str:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    else:
        text = str(value)
    return quote(text, safe=_SAFE)


def _is_json(content_type: str | None) -> bool:
    if content_type is None:
        return True  # structured JSON data without datacontenttype is JSON
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json") or media == "text/json"


def data_bytes(event: Mapping[str, Any]) -> bytes | None:
    """The event's data as bytes (None: no data)."""
    if "data_base64" in event and event["data_base64"] is not None:
        return base64.b64decode(str(event["data_base64"]))
    if "data" not in event:
        return None
    data = event["data"]
    if isinstance(data, str) and not _is_json(event.get("datacontenttype")):
        return data.encode()
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def to_binary(event: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> tuple[Headers, bytes]:
    """Binary mode: ``ce-`` headers for every attribute but data; ``extra`` adds extensions."""
    headers: Headers = []
    for name, value in _attributes(event, extra):
        if name not in _BODY_KEYS:
            headers.append((f"ce-{name}", _header_value(value)))
    body = data_bytes(event)
    content_type = event.get("datacontenttype")
    if content_type is None and "data" in event and "data_base64" not in event:
        content_type = "application/json"
    if content_type is not None:
        headers.append(("Content-Type", str(content_type)))
    return headers, body or b""


def to_structured(event: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> tuple[Headers, bytes]:
    """Structured mode: the whole event as JSON."""
    body = json.dumps(dict(_attributes(event, extra)), separators=(",", ":"), ensure_ascii=False).encode()
    return [("Content-Type", STRUCTURED)], body


def _attributes(event: Mapping[str, Any], extra: Mapping[str, Any] | None) -> Iterable[tuple[str, Any]]:
    for name, value in event.items():
        if value is not None and (extra is None or name not in extra):
            yield name, value
    if extra:
        yield from ((k, v) for k, v in extra.items() if v is not None)


def encode(event: Mapping[str, Any], structured: bool, extra: Mapping[str, Any] | None = None) -> tuple[Headers, bytes]:
    return to_structured(event, extra) if structured else to_binary(event, extra)


def without_ttl(event: Mapping[str, Any]) -> tuple[dict[str, Any], int | None]:
    """The event without ``knativebrokerttl`` (stripped before delivery) and the TTL it had."""
    rest = {k: v for k, v in event.items() if k != TTL}
    raw = event.get(TTL)
    try:
        ttl = int(raw) if raw is not None and not isinstance(raw, bool) else None
    except (TypeError, ValueError):
        ttl = None
    return rest, ttl


@dataclass(frozen=True)
class Reply:
    """What a subscriber's 2xx said: nothing, an event to put back into the broker, or garbage."""

    headers: Headers
    body: bytes
    error: str = ""

    @property
    def is_event(self) -> bool:
        return not self.error and bool(self.headers)


NO_REPLY: Final = Reply([], b"")


def read_reply(headers: Mapping[str, str], body: bytes, ttl: int | None) -> Reply:
    """Knative's ``writeResponse``: the reply event with its TTL re-attached (the ingress then
    decrements it), :data:`NO_REPLY`, or a :class:`Reply` with ``error`` (a delivery failure)."""
    lower = {k.lower(): v for k, v in headers.items()}
    content_type = lower.get("content-type", "")
    if "ce-specversion" in lower:
        out = [(k, v) for k, v in headers.items() if k.lower().startswith("ce-") and k.lower() != f"ce-{TTL}"]
        if content_type:
            out.append(("Content-Type", content_type))
        if ttl is not None:
            out.append((f"ce-{TTL}", str(ttl)))
        return Reply(out, body)
    if content_type.split(";", 1)[0].strip().lower().startswith("application/cloudevents"):
        try:
            event = json.loads(body)
        except ValueError as e:
            return Reply([], b"", f"the reply is not valid JSON: {e}")
        if not isinstance(event, dict):
            return Reply([], b"", "the reply is not a JSON object")
        if ttl is not None:
            event[TTL] = ttl
        return Reply([("Content-Type", STRUCTURED)], json.dumps(event, separators=(",", ":")).encode())
    if body:
        return Reply(
            [],
            b"",
            "received a non-empty response not recognized as CloudEvent. "
            "The response MUST be either empty or a valid CloudEvent",
        )
    return NO_REPLY
