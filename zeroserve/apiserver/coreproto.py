"""Kubernetes' protobuf bodies of the core kinds (ConfigMap, Secret, Namespace) and DeleteOptions.

client-go's typed clients send built-in kinds as ``application/vnd.kubernetes.protobuf``, so
``kubectl create secret|configmap|namespace`` does. The envelope is :mod:`zeroserve.apiserver.protobuf`'s
(``k8s\\x00`` then a ``runtime.Unknown``); ``raw`` is the object's message, numbered as
``k8s.io/api/core/v1/generated.proto`` and apimachinery's ``meta/v1/generated.proto`` number them.
:func:`decode` turns it into the object's JSON form (``[]byte`` values in base64, times in RFC 3339),
so everything after it is the JSON path; fields we do not model (``managedFields``, ``selfLink``)
are skipped. Responses stay JSON, which those clients accept. PURE.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

from zeroserve.api.base import Obj
from zeroserve.apiserver.protobuf import CONTENT_TYPE, MAGIC, fields
from zeroserve.errors import BadRequest

__all__ = ["CONTENT_TYPE", "decode"]


class _Malformed(Exception):
    pass


def _fields_of(value: Any) -> list[tuple[int, int | bytes]]:
    """The fields of an embedded message (a length-delimited value)."""
    if not isinstance(value, bytes):
        raise _Malformed("expected a message")
    return fields(value)


def _text(value: Any) -> str:
    if not isinstance(value, bytes):
        raise _Malformed("expected a string")
    try:
        return value.decode()
    except UnicodeDecodeError:
        raise _Malformed("a string is not valid UTF-8") from None


def _signed(value: Any) -> int:
    if not isinstance(value, int):
        raise _Malformed("expected an integer")
    return value - (1 << 64) if value >= 1 << 63 else value


def _entry(value: Any, as_bytes: bool) -> tuple[str, str]:
    key, val = "", b""
    for n, v in _fields_of(value):
        if n == 1:
            key = _text(v)
        elif n == 2:
            if not isinstance(v, bytes):
                raise _Malformed("expected bytes")
            val = v
    return key, base64.b64encode(val).decode() if as_bytes else _text(val)


def _time(value: Any) -> str:
    seconds = 0
    for n, v in _fields_of(value):
        if n == 1:
            seconds = _signed(v)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _owner(value: Any) -> Obj:
    names = {5: "apiVersion", 1: "kind", 3: "name", 4: "uid"}
    out: Obj = {}
    for n, v in _fields_of(value):
        if n in names:
            out[names[n]] = _text(v)
        elif n in (6, 7):
            out["controller" if n == 6 else "blockOwnerDeletion"] = bool(v)
    return out


def _object_meta(buf: Any) -> Obj:
    strings = {1: "name", 2: "generateName", 3: "namespace", 5: "uid", 6: "resourceVersion"}
    meta: Obj = {}
    for n, v in _fields_of(buf):
        if n in strings:
            meta[strings[n]] = _text(v)
        elif n in (7, 10):
            meta["generation" if n == 7 else "deletionGracePeriodSeconds"] = _signed(v)
        elif n in (8, 9):
            meta["creationTimestamp" if n == 8 else "deletionTimestamp"] = _time(v)
        elif n in (11, 12):
            k, val = _entry(v, as_bytes=False)
            meta.setdefault("labels" if n == 11 else "annotations", {})[k] = val
        elif n == 13:
            meta.setdefault("ownerReferences", []).append(_owner(v))
        elif n == 14:
            meta.setdefault("finalizers", []).append(_text(v))
    return meta


def _map(out: Obj, name: str, value: Any, as_bytes: bool) -> None:
    k, v = _entry(value, as_bytes)
    out.setdefault(name, {})[k] = v


def _secret(buf: bytes) -> Obj:
    out: Obj = {}
    for n, v in _fields_of(buf):
        if n == 1:
            out["metadata"] = _object_meta(v)
        elif n == 2:
            _map(out, "data", v, as_bytes=True)
        elif n == 3:
            out["type"] = _text(v)
        elif n == 4:
            _map(out, "stringData", v, as_bytes=False)
        elif n == 5:
            out["immutable"] = bool(v)
    return out


def _config_map(buf: bytes) -> Obj:
    out: Obj = {}
    for n, v in _fields_of(buf):
        if n == 1:
            out["metadata"] = _object_meta(v)
        elif n == 2:
            _map(out, "data", v, as_bytes=False)
        elif n == 3:
            _map(out, "binaryData", v, as_bytes=True)
        elif n == 4:
            out["immutable"] = bool(v)
    return out


def _namespace(buf: bytes) -> Obj:
    out: Obj = {}
    for n, v in _fields_of(buf):
        if n == 1:
            out["metadata"] = _object_meta(v)
        elif n == 2:
            out["spec"] = {"finalizers": [_text(f) for fn, f in _fields_of(v) if fn == 1]}
        elif n == 3:
            phases = [_text(p) for fn, p in _fields_of(v) if fn == 1]
            out["status"] = {"phase": phases[-1]} if phases else {}
    return out


def _delete_options(buf: bytes) -> Obj:
    out: Obj = {}
    for n, v in _fields_of(buf):
        if n == 1:
            out["gracePeriodSeconds"] = _signed(v)
        elif n == 2:
            pre = {("uid" if fn == 1 else "resourceVersion"): _text(p) for fn, p in _fields_of(v) if fn in (1, 2)}
            out["preconditions"] = pre
        elif n == 3:
            out["orphanDependents"] = bool(v)
        elif n == 4:
            out["propagationPolicy"] = _text(v)
        elif n == 5:
            out.setdefault("dryRun", []).append(_text(v))
    return out


DECODERS: Final[dict[tuple[str, str], Callable[[bytes], Obj]]] = {
    ("v1", "Secret"): _secret,
    ("v1", "ConfigMap"): _config_map,
    ("v1", "Namespace"): _namespace,
    ("v1", "DeleteOptions"): _delete_options,
    ("meta.k8s.io/v1", "DeleteOptions"): _delete_options,
}


def decode(body: bytes) -> Obj:
    """The JSON form of a protobuf body (raises BadRequest as kube-apiserver's decoder refuses)."""
    if not body.startswith(MAGIC):
        raise BadRequest("provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]")
    try:
        api_version = kind = ""
        raw: Any = b""
        for n, v in _fields_of(body[len(MAGIC) :]):
            if n == 1:
                for tn, tv in _fields_of(v):
                    if tn == 1:
                        api_version = _text(tv)
                    elif tn == 2:
                        kind = _text(tv)
            elif n == 2:
                raw = v
        decoder = DECODERS.get((api_version, kind))
        if decoder is None:
            raise BadRequest(f'no kind "{kind}" is registered for version "{api_version}" in protobuf')
        obj = decoder(raw)
    except BadRequest:
        raise
    except Exception as e:  # any way a body fails to parse (the envelope's reader raises its own error)
        raise BadRequest(f"unable to decode the protobuf body: {e or type(e).__name__}") from None
    if kind != "DeleteOptions":
        obj = {"apiVersion": api_version, "kind": kind, **obj}
    return obj
