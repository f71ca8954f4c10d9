"""CloudEvents over HTTP for delivery: binary and structured writing, reading replies."""

from __future__ import annotations

import base64
import json

from zeroserve.eventing.encoding import NO_REPLY, read_reply, to_binary, to_structured, without_ttl

EVENT = {
    "specversion": "1.0",
    "id": "1",
    "source": "/src",
    "type": "order.created",
    "subject": 'ünïcode & "quotes" 100%',
    "datacontenttype": "application/json",
    "knativearrivaltime": "2026-01-01T00:00:00Z",
    "data": {"n": 1},
}


def test_binary_mode() -> None:
    headers, body = to_binary(EVENT)
    h = dict(headers)
    assert h["ce-type"] == "order.created" and h["ce-specversion"] == "1.0"
    assert h["ce-subject"] == "%C3%BCn%C3%AFcode%20&%20%22quotes%22%20100%25"
    assert h["Content-Type"] == "application/json"
    assert "ce-data" not in h and "ce-datacontenttype" not in h
    assert json.loads(body) == {"n": 1}


def test_binary_data_kinds() -> None:
    _, text = to_binary({"id": "1", "datacontenttype": "text/plain", "data": "hi"})
    assert text == b"hi"
    headers, raw = to_binary({"id": "1", "data_base64": base64.b64encode(b"\x00\x01").decode()})
    assert raw == b"\x00\x01" and "Content-Type" not in dict(headers)
    headers, json_text = to_binary({"id": "1", "data": "hi"})
    assert json_text == b'"hi"' and dict(headers)["Content-Type"] == "application/json"
    headers, empty = to_binary({"id": "1"})
    assert empty == b"" and "Content-Type" not in dict(headers)


def test_structured_mode_with_extra_extensions() -> None:
    headers, body = to_structured(EVENT, {"knativeerrorcode": 500})
    assert headers == [("Content-Type", "application/cloudevents+json")]
    assert json.loads(body) == {**EVENT, "knativeerrorcode": 500}


def test_ttl_stripped() -> None:
    event, ttl = without_ttl({**EVENT, "knativebrokerttl": 254})
    assert ttl == 254 and "knativebrokerttl" not in event
    assert without_ttl({**EVENT, "knativebrokerttl": "7"})[1] == 7
    assert without_ttl(EVENT)[1] is None


def test_replies() -> None:
    assert read_reply({}, b"", 5) is NO_REPLY
    assert read_reply({"Content-Type": "text/plain"}, b"", 5) is NO_REPLY
    bad = read_reply({"Content-Type": "text/plain"}, b"ok", 5)
    assert bad.error.startswith("received a non-empty response not recognized as CloudEvent")
    binary = read_reply({"Ce-Specversion": "1.0", "Ce-Type": "t", "Content-Type": "text/plain"}, b"x", 5)
    assert binary.is_event and ("ce-knativebrokerttl", "5") in binary.headers and binary.body == b"x"
    structured = read_reply({"Content-Type": "application/cloudevents+json"}, json.dumps({"id": "r"}).encode(), 9)
    assert structured.is_event and json.loads(structured.body) == {"id": "r", "knativebrokerttl": 9}
    assert read_reply({"Content-Type": "application/cloudevents+json"}, b"[1]", 9).error
    assert read_reply({"Content-Type": "application/cloudevents+json"}, b"{", 9).error
