"""Reading the few Kubernetes protobuf bodies kubectl sends: the self-subject reviews.

kubectl's typed clients write built-in kinds as ``application/vnd.kubernetes.protobuf`` (and
accept JSON back), so ``kubectl auth can-i`` POSTs its ``SelfSubjectAccessReview`` that way; client-go
falls back to JSON on a 415 only for CBOR, so the server has to read it. The body is apimachinery's
envelope (``k8s\\x00`` then a ``runtime.Unknown``: ``typeMeta`` {apiVersion, kind}, ``raw``), and
``raw`` the object as ``k8s.io/api/authorization/v1/generated.proto`` numbers its fields. Only the
wire format's varints and length-delimited fields are read (those messages use no others); a body
that does not parse is a 400.
"""

from __future__ import annotations

from typing import Final

from zeroserve.api.base import Obj
from zeroserve.errors import BadRequest

CONTENT_TYPE: Final = "application/vnd.kubernetes.protobuf"
MAGIC: Final = b"k8s\x00"

RESOURCE_ATTRIBUTES: Final = ("namespace", "verb", "group", "version", "resource", "subresource", "name")
NON_RESOURCE_ATTRIBUTES: Final = ("path", "verb")

Field = tuple[int, int | bytes]


class _Malformed(Exception):
    pass


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if i >= len(data) or shift > 63:
            raise _Malformed
        byte = data[i]
        value |= (byte & 0x7F) << shift
        i, shift = i + 1, shift + 7
        if not byte & 0x80:
            return value, i


def fields(data: bytes) -> list[Field]:
    """The (field number, value) pairs of one message: varints as ints, length-delimited as bytes."""
    out: list[Field] = []
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(data, i)
            out.append((number, value))
        elif wire == 2:
            size, i = _varint(data, i)
            if i + size > len(data):
                raise _Malformed
            out.append((number, data[i : i + size]))
            i += size
        elif wire in (1, 5):  # fixed 64/32 bits: none in these messages, skipped
            i += 8 if wire == 1 else 4
        else:
            raise _Malformed
    return out


def _message(data: bytes, number: int) -> bytes | None:
    found = [v for n, v in fields(data) if n == number and isinstance(v, bytes)]
    return found[-1] if found else None


def _strings(data: bytes, names: tuple[str, ...]) -> Obj:
    """A message of string fields numbered 1.. as ``names``; empty strings left out (Go's omitempty)."""
    out: Obj = {}
    for number, value in fields(data):
        if isinstance(value, bytes) and 1 <= number <= len(names) and value:
            out[names[number - 1]] = value.decode()
    return out


def decode_review(body: bytes) -> Obj:
    """A self-subject review in protobuf as the JSON object it stands for (metadata left out)."""
    try:
        if not body.startswith(MAGIC):
            raise _Malformed
        unknown = body[len(MAGIC) :]
        type_meta = _strings(_message(unknown, 1) or b"", ("apiVersion", "kind"))
        raw = _message(unknown, 2) or b""
        obj: Obj = {**type_meta}
        spec = _message(raw, 2)
        if spec is None:
            return obj
        if type_meta.get("kind") == "SelfSubjectRulesReview":
            obj["spec"] = _strings(spec, ("namespace",))
            return obj
        out: Obj = {}
        resource = _message(spec, 1)
        if resource is not None:
            out["resourceAttributes"] = _strings(resource, RESOURCE_ATTRIBUTES)
        non_resource = _message(spec, 2)
        if non_resource is not None:
            out["nonResourceAttributes"] = _strings(non_resource, NON_RESOURCE_ATTRIBUTES)
        obj["spec"] = out
        return obj
    except (_Malformed, UnicodeDecodeError):
        raise BadRequest("the request body is not a Kubernetes protobuf object") from None
