"""What may travel on the wire at all: JSON values that Python, SQLite and the kernel can hold.

Two entry points, both pure:

- :func:`loads` turns a request body into a JSON value the way Kubernetes' decoder would accept
  it: ``NaN``/``Infinity`` are not JSON, a number that overflows a float64 is refused, and so is
  an integer literal of more than :data:`MAX_INT_DIGITS` digits (Python would otherwise spend
  quadratic time on it, or refuse it past 4300 digits with its own wording).
- :func:`errors` walks a decoded value (from JSON or from YAML, see :mod:`zeroserve.api.loading`)
  and reports, with field paths, what is not a plain JSON value: a string or key that is not
  valid Unicode (a lone surrogate cannot be encoded as UTF-8: SQLite, the kernel and every peer
  would refuse it later, far from the cause), a non-finite number, a YAML-only type
  (``!!binary``, ``!!set``...), a map key that is not a string, and nesting deeper than
  :data:`MAX_DEPTH`.

Depth is bounded because every layer above (pydantic, deep copies, three-way merges, ``json.dumps``)
recurses once or more per level on Python's stack; 100 levels is ten times what a Knative resource
needs (``spec.template.spec.containers[0].readinessProbe.httpGet.httpHeaders[0].name`` is 9).
Kubernetes' own decoders stop at 10000 (``exceeded max depth of 10000``); a Go stack is bigger.
"""

from __future__ import annotations

import json
import math
from typing import Any, Final

from zeroserve.errors import BadRequest, FieldError

MAX_DEPTH: Final = 100
"""Maps and lists nested deeper than this are refused (the top-level object is depth 1)."""
MAX_INT_DIGITS: Final = 100
"""An integer literal longer than this is refused (an int64 has 19 digits, a float64's range 309)."""
MAX_ERRORS: Final = 20
""":func:`errors` stops after this many (a document of ten thousand bad strings needs no more)."""

_YAML_TAGS: Final[dict[type, str]] = {bytes: "!!binary", set: "!!set", frozenset: "!!set", tuple: "!!omap or !!pairs"}


def json_type(value: object) -> str:
    """The JSON (OpenAPI) name of ``value``'s type, as kubectl's validation names it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "map"
    return _YAML_TAGS.get(type(value), type(value).__name__)


def shown(text: str, limit: int = 64) -> str:
    """``text`` as it can be shown in one line of an error: escaped and quoted unless plainly printable."""
    short = text if len(text) <= limit else text[:limit] + "..."
    return short if short.isprintable() and short.strip() == short and short else json.dumps(short)


def shown_value(value: object) -> str:
    """Any JSON scalar as it can be shown in an error (strings through :func:`shown`)."""
    return shown(value) if isinstance(value, str) else str(value)


def escaped(text: str) -> str:
    """``text`` with what a terminal should not print raw (controls, surrogates) escaped, unquoted."""
    return text if text.isprintable() else json.dumps(text)[1:-1]


def encodable(text: str) -> bool:
    """Whether ``text`` has a UTF-8 form (it has unless it holds a lone surrogate)."""
    return _surrogate(text) is None


def _surrogate(text: str) -> str | None:
    try:
        text.encode()
    except UnicodeEncodeError as e:
        return f"\\u{ord(text[e.start]):04x}"
    return None


def _key_path(path: str, key: str) -> str:
    key = escaped(key)  # a path is one line of an error, whatever the key holds
    return f"{path}.{key}" if path else key


def _at(message: str, path: str) -> FieldError:
    return FieldError(message, (path,) if path else ())


def _problem(value: object, path: str) -> FieldError | None:
    """What is wrong with one scalar (or foreign) value; None when it is a fine JSON scalar."""
    if isinstance(value, str):
        bad = _surrogate(value)
        return _at(f"not valid UTF-8 (lone surrogate {bad})", path) if bad else None
    if isinstance(value, float):
        return None if math.isfinite(value) else _at(f"not a finite number ({value})", path)
    if value is None or isinstance(value, (bool, int)):
        return None
    return _at(f"unsupported YAML type {json_type(value)}", path)


def errors(value: Any, path: str = "") -> list[FieldError]:
    """Every reason ``value`` is not a plain JSON value Python, SQLite and the kernel take (at most
    :data:`MAX_ERRORS`), paths relative to ``value``. Iterative: any depth is safe to walk."""
    out: list[FieldError] = []
    stack: list[tuple[Any, str, int]] = [(value, path, 1)]
    while stack and len(out) < MAX_ERRORS:
        item, where, depth = stack.pop()
        if isinstance(item, (dict, list)) and depth > MAX_DEPTH:
            out.append(_at(f"exceeded max depth of {MAX_DEPTH}", _short(where)))
            continue
        if isinstance(item, dict):
            children: list[tuple[Any, str, int]] = []
            for key, child in item.items():
                if not isinstance(key, str):
                    out.append(_at(f"unsupported map key {json.dumps(key, default=repr)}", where))
                    continue
                if bad := _surrogate(key):
                    out.append(_at(f"not valid UTF-8 (lone surrogate {bad}) in a key", where))
                    continue
                children.append((child, _key_path(where, key), depth + 1))
            stack.extend(reversed(children))
        elif isinstance(item, list):
            stack.extend((child, f"{where}[{i}]", depth + 1) for i, child in reversed(list(enumerate(item))))
        elif (problem := _problem(item, where)) is not None:
            out.append(problem)
    return out


def _int(literal: str) -> int:
    digits = len(literal.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise ValueError(f"an integer of {digits} digits is out of range")
    return int(literal)


def _float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise ValueError(f"the number {shown(literal, 32)} is out of range")
    return value


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def loads(raw: bytes | str, what: str = "the request body") -> Any:
    """Decode JSON as Kubernetes does, raising BadRequest ``"<what> is not valid JSON: ..."``;
    nesting past :data:`MAX_DEPTH` is refused here too, before anything recurses over it."""
    try:
        value = json.loads(raw, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except RecursionError:
        raise BadRequest(f"{what} exceeded max depth of {MAX_DEPTH}") from None
    except ValueError as e:  # UnicodeDecodeError is one
        raise BadRequest(f"{what} is not valid JSON: {e}") from None
    deep = _too_deep(value)
    if deep is not None:
        raise BadRequest(f"{what} exceeded max depth of {MAX_DEPTH}: {deep}")
    return value


def _short(path: str, limit: int = 60) -> str:
    return path if len(path) <= limit else path[:limit] + "..."


def _too_deep(value: Any) -> str | None:
    """The path (shortened) of a map or list nested deeper than MAX_DEPTH, else None."""
    stack: list[tuple[Any, str, int]] = [(value, "", 1)]
    while stack:
        item, where, depth = stack.pop()
        if not isinstance(item, (dict, list)):
            continue
        if depth > MAX_DEPTH:
            return _short(where)
        if isinstance(item, dict):
            stack.extend((child, _key_path(where, str(key)), depth + 1) for key, child in item.items())
        else:
            stack.extend((child, f"{where}[{i}]", depth + 1) for i, child in enumerate(item))
    return None
