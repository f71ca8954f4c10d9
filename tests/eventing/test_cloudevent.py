"""CloudEvents read from HTTP requests as the ingress reads them (binary and structured), validation as
sdk-go's Event.Validate, and the ingress's TTL and arrival time (pkg/broker/ttl.go)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from zeroserve.eventing import cloudevent
from zeroserve.eventing.cloudevent import InvalidEvent, admit, go_timestamp, next_ttl, parse
from zeroserve.eventing.encoding import data_bytes

BINARY = {"ce-specversion": "1.0", "ce-id": "1", "ce-source": "/orders", "ce-type": "order.created"}


@pytest.mark.parametrize(
    ("content_type", "body", "stored"),
    [
        pytest.param("application/json", b'{"a": [1, 2]}', {"data": {"a": [1, 2]}}, id="json"),
        pytest.param("application/vnd.x+json", b"3", {"data": 3}, id="+json"),
        pytest.param("text/plain", "héllo".encode(), {"data": "héllo"}, id="text"),
        pytest.param(None, b"\x00\xff", {"data_base64": base64.b64encode(b"\x00\xff").decode()}, id="bytes, no type"),
        pytest.param(None, b"plain words", {"data_base64": base64.b64encode(b"plain words").decode()}, id="not json"),
        pytest.param("application/json", b"{oops", {"data_base64": base64.b64encode(b"{oops").decode()}, id="bad json"),
        pytest.param("application/octet-stream", b"", {}, id="no body"),
    ],
)
def test_binary_data_is_stored_so_delivery_gives_back_the_bytes(
    content_type: str | None, body: bytes, stored: dict[str, Any]
) -> None:
    headers = dict(BINARY)
    if content_type is not None:
        headers["content-type"] = content_type
    event = parse(headers, body)
    attrs = {k: v for k, v in event.items() if k not in ("data", "data_base64")}
    assert attrs == {
        "specversion": "1.0",
        "id": "1",
        "source": "/orders",
        "type": "order.created",
        **({"datacontenttype": content_type} if content_type else {}),
    }
    assert {k: v for k, v in event.items() if k in ("data", "data_base64")} == stored
    if (body and content_type != "application/json") or body == b"{oops":
        assert data_bytes(event) == body


def test_binary_headers_are_percent_decoded_extensions_kept() -> None:
    event = parse({**BINARY, "ce-subject": "a%20b%25", "ce-myext": "x", "x-other": "ignored"}, b"")
    assert (event["subject"], event["myext"]) == ("a b%", "x")
    assert "x-other" not in event and "other" not in event


def test_structured_mode_wins_over_ce_headers() -> None:
    body = json.dumps({"specversion": "1.0", "id": "s", "source": "/s", "type": "t", "data": {"k": 1}}).encode()
    event = parse({"content-type": "application/cloudevents+json; charset=utf-8", "ce-id": "ignored"}, body)
    assert event == {"specversion": "1.0", "id": "s", "source": "/s", "type": "t", "data": {"k": 1}}


@pytest.mark.parametrize(
    ("headers", "body", "message"),
    [
        pytest.param({}, b"{}", "no CloudEvent", id="no event"),
        pytest.param(
            {"content-type": "application/cloudevents-batch+json"}, b"[]", "unsupported event format", id="batch"
        ),
        pytest.param({"content-type": "application/cloudevents+json"}, b"{", "not valid JSON", id="bad json"),
        pytest.param({"content-type": "application/cloudevents+json"}, b"[1]", "not a JSON object", id="array"),
        pytest.param({**BINARY, "ce-specversion": "0.9"}, b"", "specversion '0.9' is not supported", id="version"),
        pytest.param({**BINARY, "ce-id": " "}, b"", "id: MUST be a non-empty string", id="blank id"),
        pytest.param(
            {k: v for k, v in BINARY.items() if k != "ce-source"},
            b"",
            "source: MUST be a non-empty string",
            id="source",
        ),
        pytest.param({k: v for k, v in BINARY.items() if k != "ce-type"}, b"", "type: MUST be", id="no type"),
        pytest.param({**BINARY, "ce-subject": ""}, b"", "subject: if present", id="empty subject"),
        pytest.param({**BINARY, "ce-time": "yesterday"}, b"", "time: not an RFC 3339 timestamp", id="time"),
        pytest.param({**BINARY, "ce-dataschema": "no-scheme"}, b"", "dataschema", id="dataschema"),
        pytest.param({**BINARY, "content-type": "a b/c"}, b"", "datacontenttype: not an RFC 2046", id="media type"),
        pytest.param({**BINARY, "ce-my_ext": "1"}, b"", "'my_ext': attribute names", id="extension name"),
    ],
)
def test_invalid_events(headers: dict[str, str], body: bytes, message: str) -> None:
    with pytest.raises(InvalidEvent, match=message):
        parse(headers, body)


def test_structured_with_both_data_fields_is_invalid() -> None:
    body = b'{"specversion":"1.0","id":"1","source":"/s","type":"t","data":1,"data_base64":"AA=="}'
    with pytest.raises(InvalidEvent, match="both data and data_base64"):
        parse({"content-type": "application/cloudevents+json"}, body)


@pytest.mark.parametrize(
    ("ttl", "expected"),
    [
        pytest.param(None, 255, id="absent: default"),
        pytest.param(10, 9, id="decremented"),
        pytest.param("7", 6, id="from a header"),
        pytest.param(1, 0, id="spent"),
        pytest.param(-3, 0, id="negative stays 0"),
        pytest.param("lots", 255, id="not an integer: default"),
        pytest.param(True, 255, id="bool is not an integer"),
    ],
)
def test_ttl_defaulter(ttl: Any, expected: int) -> None:
    event = {} if ttl is None else {cloudevent.TTL: ttl}
    assert next_ttl(event) == expected


def test_admit_sets_arrival_time_and_ttl_and_refuses_a_spent_ttl() -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, 120000, tzinfo=UTC)
    stored = json.loads(admit(parse(BINARY, b""), now))
    assert stored["knativearrivaltime"] == "2026-01-02T03:04:05.12Z"
    assert stored["knativebrokerttl"] == 255
    with pytest.raises(InvalidEvent, match="knativebrokerttl is 0"):
        admit(parse({**BINARY, "ce-knativebrokerttl": "1"}, b""), now)


def test_go_timestamp_is_utc_rfc3339nano() -> None:
    assert go_timestamp(datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))) == "2026-01-02T01:04:05Z"
    assert go_timestamp(datetime(2026, 1, 2, 3, 4, 5, 1, tzinfo=UTC)) == "2026-01-02T03:04:05.000001Z"
