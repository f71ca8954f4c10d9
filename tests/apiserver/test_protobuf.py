"""Kubernetes protobuf bodies of the self-subject reviews, as kubectl's typed clients write them."""

from __future__ import annotations

import pytest

from zeroserve.apiserver import protobuf, reviews
from zeroserve.errors import BadRequest


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number: int, value: bytes | str) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(data)) + data


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    """apimachinery's protobuf envelope: the magic, then runtime.Unknown{typeMeta, raw, encoding, type}."""
    type_meta = field(1, api_version) + field(2, kind)
    return protobuf.MAGIC + field(1, type_meta) + field(2, raw) + field(3, "") + field(4, "")


def access_review(**attrs: str) -> bytes:
    names = protobuf.RESOURCE_ATTRIBUTES
    resource = b"".join(field(names.index(k) + 1, v) for k, v in attrs.items()) + field(6, "")
    metadata = field(1, "") + varint(5 << 3) + varint(0)  # empty strings and a zero varint, as gogo writes
    return envelope(
        "authorization.k8s.io/v1", "SelfSubjectAccessReview", field(1, metadata) + field(2, field(1, resource))
    )


def test_an_access_review_as_kubectl_sends_it() -> None:
    body = access_review(namespace="default", verb="create", group="serving.knative.dev", resource="services")
    assert protobuf.decode_review(body) == {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {
            "resourceAttributes": {
                "namespace": "default",
                "verb": "create",
                "group": "serving.knative.dev",
                "resource": "services",
            }
        },
    }
    answer = reviews.review("SelfSubjectAccessReview", "authorization.k8s.io/v1", body, protobuf.CONTENT_TYPE)
    assert answer["status"]["allowed"] is True


def test_rules_and_self_reviews() -> None:
    rules = envelope("authorization.k8s.io/v1", "SelfSubjectRulesReview", field(2, field(1, "ns1")))
    assert protobuf.decode_review(rules)["spec"] == {"namespace": "ns1"}
    who = envelope("authentication.k8s.io/v1", "SelfSubjectReview", field(1, b""))
    assert protobuf.decode_review(who) == {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"kind": "SelfSubjectAccessReview"}', id="json"),
        pytest.param(protobuf.MAGIC + b"\x0a\xff", id="truncated-length"),
        pytest.param(protobuf.MAGIC + b"\x0a\x80", id="truncated-varint"),
        pytest.param(protobuf.MAGIC + b"\x0b", id="group-wire-type"),
        pytest.param(protobuf.MAGIC + field(1, field(1, b"\xff\xfe")), id="not-utf8"),
    ],
)
def test_malformed_bodies_are_a_bad_request(body: bytes) -> None:
    with pytest.raises(BadRequest, match="not a Kubernetes protobuf object"):
        protobuf.decode_review(body)
