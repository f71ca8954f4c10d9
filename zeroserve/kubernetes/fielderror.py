"""apimachinery's ``field.Error`` (``k8s.io/apimachinery/pkg/util/validation/field``): a problem at
a field path, printed the way kube-apiserver prints it in a 422 or a CRD's ``NonStructuralSchema``
condition (one line)::

    spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value:
        must not be empty for specified object fields

Paths are built as ``field.Path`` builds them: :func:`child` adds ``.name``, :func:`key` adds
``[key]``, :func:`index` adds ``[i]``. PURE.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Final

REQUIRED: Final = "Required value"
FORBIDDEN: Final = "Forbidden"
INVALID: Final = "Invalid value"
NOT_SUPPORTED: Final = "Unsupported value"
DUPLICATE: Final = "Duplicate value"

_NO_VALUE: Final = object()
_WITH_VALUE: Final = (INVALID, NOT_SUPPORTED, DUPLICATE)


@dataclass(frozen=True, order=True)
class Error:
    """One ``field.Error``: ``path``, ``type`` (``Required value``, ``Forbidden``...), ``detail``;
    ``value`` is printed for the types that show the bad value (Invalid, Unsupported, Duplicate)."""

    path: str
    type: str
    detail: str = ""
    value: object = field(default=_NO_VALUE, compare=False)

    def body(self) -> str:
        """``ErrorBody``: the type, the value where the type shows one, the detail."""
        text = self.type
        if self.type in _WITH_VALUE and self.value is not _NO_VALUE:
            text = f"{text}: {show(self.value)}"
        return f"{text}: {self.detail}" if self.detail else text

    def __str__(self) -> str:
        return f"{self.path}: {self.body()}"


def required(path: str, detail: str) -> Error:
    return Error(path, REQUIRED, detail)


def forbidden(path: str, detail: str) -> Error:
    return Error(path, FORBIDDEN, detail)


def invalid(path: str, value: object, detail: str) -> Error:
    return Error(path, INVALID, detail, value)


def not_supported(path: str, value: object, supported: list[str]) -> Error:
    return Error(path, NOT_SUPPORTED, "supported values: " + ", ".join(json.dumps(s) for s in supported), value)


def show(value: object) -> str:
    """A bad value as ``field.Error`` prints it: strings quoted, scalars bare, the rest as JSON."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def key(path: str, name: str) -> str:
    return f"{path}[{name}]"


def index(path: str, i: int) -> str:
    return f"{path}[{i}]"
