"""FieldError plumbing, as knative.dev/pkg ``apis/field_error.go``: paths joined the way
``ViaField``/``ViaIndex`` join them, errors merged the way Knative renders them, and the
constructors for its standard messages (``ErrInvalidValue``, ``ErrOutOfBoundsValue``,
``ErrDisallowedFields``, ``ErrMissingField``) plus :func:`err_type` for a value of the wrong JSON
type, in kubectl's words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from zeroserve.api import wire
from zeroserve.errors import FieldError

MSG_DISALLOWED = "must not set the field(s)"
MSG_MISSING = "missing field(s)"
MSG_BOTH = "expected exactly one, got both"
MSG_NEITHER = "expected exactly one, got neither"


_FIELD_SEP = re.compile(r"\.(?![^\[]*\])")
"""A dot that separates fields: not one inside a ``[key]`` (``annotations[queue.sidecar.x/y]``)."""


def join(*parts: str) -> str:
    """knative.dev/pkg ``flatten``: dots between fields, ``[i]`` / ``[key]`` glued to the field before it."""
    out: list[str] = []
    for part in parts:
        for p in _FIELD_SEP.split(part) if part else ():
            if not p:
                continue
            if out and p.startswith("[") and p.endswith("]"):
                out[-1] += p
            else:
                out.append(p)
    return ".".join(out)


def via(errs: Iterable[FieldError], *prefix: str) -> list[FieldError]:
    """``ViaField(prefix...)`` on every error."""
    return [FieldError(e.message, tuple(join(*prefix, p) for p in e.paths), e.details) for e in errs]


def merge(errs: Iterable[FieldError]) -> list[FieldError]:
    """Knative's rendering: errors with equal message and details become one, paths sorted."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for e in errs:
        paths = grouped.setdefault((e.message, e.details), [])
        paths.extend(p for p in e.paths if p not in paths)
    merged = [FieldError(m, tuple(sorted(p)), d) for (m, d), p in grouped.items()]
    return sorted(merged, key=lambda e: (e.message, e.details))


def err_invalid_value(value: object, path: str, details: str = "") -> FieldError:
    return FieldError(f"invalid value: {value}", (path,), details)


def err_out_of_bounds(value: object, lower: object, upper: object, path: str) -> FieldError:
    return FieldError(f"expected {lower} <= {value} <= {upper}", (path,))


def err_disallowed(*paths: str) -> FieldError:
    return FieldError(MSG_DISALLOWED, tuple(paths))


def err_missing(*paths: str) -> FieldError:
    return FieldError(MSG_MISSING, tuple(paths))


def err_type(value: object, expected: Iterable[str], path: str) -> FieldError:
    """A value of the wrong JSON type (kubectl: ``invalid type for ...: got "string", expected "map"``)."""
    names = dict.fromkeys(expected)
    if "number" in names:  # an integer is a number
        names.pop("integer", None)
    want = " or ".join(names)
    return FieldError(f'invalid type: got "{wire.json_type(value)}", expected "{want}"', (path,))
