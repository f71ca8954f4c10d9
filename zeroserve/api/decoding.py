"""Decoding a wire object into a model, with pydantic's errors rewritten as Knative's.

pydantic reports a wrong type as ``Input should be a valid dictionary`` at a location such as
``('spec', 'traffic', 0, 'percent', 'constrained-int')``; users see what Kubernetes and Knative
say instead: ``invalid type: got "string", expected "integer": spec.traffic[0].percent``,
``expected -2147483648 <= 2147483648 <= 2147483647: ...containerPort``, ``must not set the
field(s)`` and ``missing field(s)``. A union (``int | str``) reports one pydantic error per
member: they become one error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from zeroserve.api import wire
from zeroserve.api.base import INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN, Obj
from zeroserve.api.fielderrors import (
    err_disallowed,
    err_invalid_value,
    err_missing,
    err_out_of_bounds,
    err_type,
    join,
    merge,
)
from zeroserve.errors import FieldError

M = TypeVar("M", bound=BaseModel)

_UNION_TAG = re.compile(r"^(int|str|float|bool|none|constrained-\w+|[A-Z]\w*|\w+\[.*\]|function-\w+.*|literal\[.*\])$")

_EXPECTED: dict[str, str] = {
    "string_type": "string",
    "int_type": "integer",
    "float_type": "number",
    "bool_type": "boolean",
    "dict_type": "map",
    "model_type": "map",
    "model_attributes_type": "map",
    "list_type": "array",
}
"""pydantic's type errors -> the JSON type the field wants, in kubectl's words."""
_BOUNDS = {INT32_MAX: (INT32_MIN, INT32_MAX), INT32_MIN: (INT32_MIN, INT32_MAX), INT64_MAX: (INT64_MIN, INT64_MAX)}
_BOUNDS[INT64_MIN] = (INT64_MIN, INT64_MAX)


def loc_to_path(loc: Sequence[int | str]) -> str:
    """A pydantic error location as a Knative path: ``spec.containers[0].env[1].name``."""
    parts: list[str] = []
    for i, item in enumerate(loc):
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif i > 0 and _UNION_TAG.match(item):
            continue
        else:
            parts.append(item)
    return join(*parts)


def _field_error(path: str, errs: Sequence[Mapping[str, Any]]) -> FieldError:
    """One Knative error for every pydantic error at ``path`` (a union reports one per member)."""
    kinds = {e["type"] for e in errs}
    value = errs[0].get("input")
    if "extra_forbidden" in kinds:
        return err_disallowed(path)
    if "missing" in kinds:
        return err_missing(path)
    for e in errs:
        bound = (e.get("ctx") or {}).get("le", (e.get("ctx") or {}).get("ge"))
        if e["type"] in ("less_than_equal", "greater_than_equal") and bound in _BOUNDS:
            lower, upper = _BOUNDS[bound]
            return err_out_of_bounds(e.get("input"), lower, upper, path)
    literal = next((e for e in errs if e["type"] == "literal_error"), None)
    if literal is not None:
        options = (literal.get("ctx") or {}).get("expected", "")
        return err_invalid_value(wire.shown_value(value), path, f"expected {options}")
    expected = [_EXPECTED[e["type"]] for e in errs if e["type"] in _EXPECTED]
    if expected:
        return err_type(value, expected, path)
    scalar = isinstance(value, (str, int, float))
    return err_invalid_value(wire.shown_value(value) if scalar else wire.json_type(value), path)


def field_errors(exc: ValidationError) -> list[FieldError]:
    """pydantic errors -> Knative's (pydantic's own wording never reaches a user)."""
    by_path: dict[str, list[Mapping[str, Any]]] = {}
    for e in exc.errors(include_url=False):
        by_path.setdefault(loc_to_path(e["loc"]), []).append(e)
    return [_field_error(path, errs) for path, errs in by_path.items()]


def parse(cls: type[M], obj: Obj) -> tuple[M | None, list[FieldError]]:
    """Parse ``obj`` as ``cls``; on failure every problem as a FieldError (merged)."""
    try:
        return cls.model_validate(obj), []
    except ValidationError as exc:
        return None, merge(field_errors(exc))
