"""Protobuf bodies of the core kinds, as client-go's typed clients write them, decoded to JSON (pure)."""

from __future__ import annotations

import pytest

from zeroserve.apiserver import coreproto
from zeroserve.errors import BadRequest


def varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(number: int, value: bytes | str | int | bool) -> bytes:
    if isinstance(value, bool | int):
        return varint(number << 3) + varint(int(value))
    data = value.encode() if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(data)) + data


def entry(number: int, key: str, value: bytes | str) -> bytes:
    return field(number, field(1, key) + field(2, value))


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    return b"k8s\x00" + field(1, field(1, api_version) + field(2, kind)) + field(2, raw)


META = (
    field(1, "db")
    + field(3, "default")
    + entry(11, "app", "web")
    + entry(12, "note", "n")
    + field(8, field(1, 1_700_000_000))
    + field(13, field(5, "v1") + field(1, "ConfigMap") + field(3, "owner") + field(4, "u-1") + field(6, True))
    + field(14, "example.com/f")
    + field(17, b"\x0a\x03mgr")  # managedFields: skipped
)


def test_secret() -> None:
    raw = field(1, META) + entry(2, "password", b"s3\x00cret") + field(3, "Opaque") + entry(4, "user", "me")
    raw += field(5, True)
    assert coreproto.decode(envelope("v1", "Secret", raw)) == {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "db",
            "namespace": "default",
            "labels": {"app": "web"},
            "annotations": {"note": "n"},
            "creationTimestamp": "2023-11-14T22:13:20Z",
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": "u-1", "controller": True}
            ],
            "finalizers": ["example.com/f"],
        },
        "data": {"password": "czMAY3JldA=="},
        "type": "Opaque",
        "stringData": {"user": "me"},
        "immutable": True,
    }


def test_configmap_namespace_and_delete_options() -> None:
    raw = field(1, field(1, "c")) + entry(2, "k", "v") + entry(3, "bin", b"\x00\x01") + field(4, False)
    assert coreproto.decode(envelope("v1", "ConfigMap", raw)) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c"},
        "data": {"k": "v"},
        "binaryData": {"bin": "AAE="},
        "immutable": False,
    }
    raw = field(1, field(1, "team")) + field(2, field(1, "kubernetes")) + field(3, field(1, "Active"))
    assert coreproto.decode(envelope("v1", "Namespace", raw)) == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "team"},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }
    raw = field(1, 0) + field(2, field(1, "u-1")) + field(4, "Foreground") + field(5, "All")
    assert coreproto.decode(envelope("meta.k8s.io/v1", "DeleteOptions", raw)) == {
        "gracePeriodSeconds": 0,
        "preconditions": {"uid": "u-1"},
        "propagationPolicy": "Foreground",
        "dryRun": ["All"],
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(b'{"kind": "Secret"}', "does not appear to be a protobuf message", id="json"),
        pytest.param(envelope("v1", "Pod", b""), 'no kind "Pod" is registered for version "v1"', id="other-kind"),
        pytest.param(envelope("v1", "Secret", b"\x0a\x7f"), "unable to decode", id="truncated"),
        pytest.param(envelope("v1", "Secret", field(1, field(1, b"\xff"))), "unable to decode", id="not-utf8"),
        pytest.param(envelope("v1", "Secret", field(1, 5)), "unable to decode", id="metadata-not-a-message"),
    ],
)
def test_bad_bodies_are_400(body: bytes, message: str) -> None:
    with pytest.raises(BadRequest) as info:
        coreproto.decode(body)
    assert message in info.value.message
