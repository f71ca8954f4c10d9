"""Kubernetes ``Status`` objects: how every API error looks on the wire.

HTTP codes are assigned here and nowhere below: the store and admission raise the
:mod:`zeroserve.errors` tree, and :func:`status_for` renders it as apimachinery's
``metav1.Status`` (``reason``, ``code``, ``details.causes`` with one entry per field path).
"""

from __future__ import annotations

from typing import Any

from zeroserve.api.base import Obj
from zeroserve.api.kinds import Kind
from zeroserve.errors import ApiError, Invalid


class MethodNotAllowed(ApiError):
    code = 405
    reason = "MethodNotAllowed"


class UnsupportedMediaType(ApiError):
    code = 415
    reason = "UnsupportedMediaType"


class RequestEntityTooLarge(ApiError):
    code = 413
    reason = "RequestEntityTooLarge"


class Unprocessable(ApiError):
    """422 without field causes (e.g. a JSON patch whose ``test`` operation fails)."""

    code = 422
    reason = "Invalid"


class Forbidden(ApiError):
    code = 403
    reason = "Forbidden"


class InternalError(ApiError):
    code = 500
    reason = "InternalError"


def status(code: int, reason: str, message: str, details: Obj | None = None) -> Obj:
    out: Obj = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success" if code < 400 else "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        out["details"] = details
    return out


def status_for(err: ApiError, kind: Kind | None = None, name: str = "") -> Obj:
    """The Status for ``err``; ``kind``/``name`` fill ``details`` as the Kubernetes API server does."""
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if kind is not None:
        details["group"] = kind.group
        details["kind"] = kind.kind if isinstance(err, Invalid) else kind.plural
    message = err.message
    if isinstance(err, Invalid):
        if kind is not None and not err.kind:
            qualified = f"{kind.kind}.{kind.group}" if kind.group else kind.kind
            message = f'{qualified} "{name}" is invalid: {message}'
        details["causes"] = _causes(err)
    return status(err.code, err.reason, message, details)


def _causes(err: Invalid) -> list[Obj]:
    causes: list[Obj] = []
    for e in err.errors:
        text = f"{e.message}\n{e.details}" if e.details else e.message
        for path in e.paths or ("",):
            cause: Obj = {"reason": getattr(e, "reason", "FieldValueInvalid"), "message": text}
            if path:
                cause["field"] = path
            causes.append(cause)
    return causes
