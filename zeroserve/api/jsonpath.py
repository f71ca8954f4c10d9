"""Kubernetes JSONPath, as a CRD's ``additionalPrinterColumns`` evaluate it (client-go ``util/jsonpath``).

A column's ``jsonPath`` is parsed once (:func:`parse`) and evaluated against each object
(:meth:`Path.find`, every match in order; a missing key is no match, as with
``AllowMissingKeys(true)``). The grammar is the part of client-go's that printer columns use:

- ``.field`` (a backslash escapes a terminator: ``.metadata.annotations.a\\.b/c``), ``.*``;
- ``['key']`` / ``["key"]`` (read as ``.key``, as client-go does: dots in it need the backslash
  too), ``[n]`` and ``[-n]``, ``[start:end]``, ``[*]``, unions ``[0,2]``;
- filters ``[?(@.type=='Ready')]`` with ``==``, ``!=``, ``<``, ``>``, ``<=``, ``>=`` against a
  quoted string, a number, ``true``/``false`` or another ``@`` path, and ``[?(@.name)]`` (exists).

Comparing values of different types is an error, as Go's template comparison makes it: the
column's cell is then empty. :func:`text` prints a match as ``PrintResults`` does (maps and lists
as compact JSON, scalars as Go's ``fmt`` prints them). PURE.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

TERMINATORS: Final = frozenset(" \t\r\n.,[]$@{}")
"""Characters that end a field name unless escaped (client-go's ``isTerminator``)."""
OPERATORS: Final = ("==", "!=", "<=", ">=", "<", ">")
_FILTER = re.compile(r"^([^!<>=]+)([!<>=]+)(.+?)$")
_SLICE = re.compile(r"^(-?\d*)(:-?\d*)?(:-?\d*)?$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")


class JSONPathError(ValueError):
    """A path that does not parse, or a comparison that cannot be made."""


Step = Callable[[Any], Iterator[Any]]


@dataclass(frozen=True)
class Path:
    """A parsed JSONPath: the steps applied, in order, to every value matched so far."""

    source: str
    steps: tuple[Step, ...]

    def find(self, obj: Any) -> list[Any]:
        """Every value ``obj`` has at this path (none when a key is missing); JSONPathError when a
        filter compares values of different types."""
        values = [obj]
        for step in self.steps:
            values = [out for value in values for out in step(value)]
        return values

    def first(self, obj: Any) -> Any:
        """The first match, or None (what a printer column shows: ``results[0][0]``)."""
        try:
            found = self.find(obj)
        except JSONPathError:
            return None
        return found[0] if found else None


def parse(source: str) -> Path:
    """Parse a column's ``jsonPath`` (with or without the ``{...}`` around it); JSONPathError."""
    text = source.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    return Path(source, tuple(_Parser(text).steps()))


def text(value: Any) -> str:
    """``value`` as client-go's ``PrintResults`` writes one match."""
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return str(value)


# ---- steps ---------------------------------------------------------------------------------------


def _field(name: str) -> Step:
    def step(value: Any) -> Iterator[Any]:
        if isinstance(value, dict) and name in value:
            yield value[name]

    return step


def _wildcard(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        yield from (value[k] for k in sorted(value))
    elif isinstance(value, list):
        yield from value


def _slice(start: int | None, end: int | None, step_: int | None, single: bool) -> Step:
    def step(value: Any) -> Iterator[Any]:
        if not isinstance(value, list):
            return
        if single:
            assert start is not None
            index = start + len(value) if start < 0 else start
            if 0 <= index < len(value):
                yield value[index]
            return
        yield from value[slice(start, end, step_)]

    return step


def _union(branches: list[Path]) -> Step:
    def step(value: Any) -> Iterator[Any]:
        for branch in branches:
            yield from branch.find(value)

    return step


def _filter(left: Path, op: str, right: Path | None) -> Step:
    def step(value: Any) -> Iterator[Any]:
        if not isinstance(value, list):
            raise JSONPathError(f"{text(value)} is not array or slice and cannot be filtered")
        for item in value:
            lefts = left.find(item)
            if right is None:  # [?(@.x)]: exists
                if lefts:
                    yield item
                continue
            rights = right.find(item)
            if not lefts or not rights:
                continue
            if len(lefts) > 1 or len(rights) > 1:
                raise JSONPathError("can only compare one element at a time")
            if _compare(lefts[0], op, rights[0]):
                yield item

    return step


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "string" if isinstance(value, str) else type(value).__name__


def _compare(left: Any, op: str, right: Any) -> bool:
    if _kind(left) != _kind(right) or _kind(left) not in ("bool", "number", "string"):
        raise JSONPathError("incompatible types for comparison")
    if op == "==":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if _kind(left) == "bool":
        raise JSONPathError("invalid type for comparison")
    return bool({"<": left < right, ">": left > right, "<=": left <= right, ">=": left >= right}[op])


def _literal(value: Any) -> Step:
    def step(_: Any) -> Iterator[Any]:
        yield value

    return step


# ---- parser --------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, message: str) -> JSONPathError:
        return JSONPathError(f"{message} in {self.text!r}")

    def steps(self) -> list[Step]:
        out: list[Step] = []
        if self.text.startswith(("$", "@")):
            self.pos = 1
        while self.pos < len(self.text):
            c = self.text[self.pos]
            if c == ".":
                if self.text.startswith("..", self.pos):
                    raise self.error("recursive descent (..) is not supported")
                self.pos += 1
                out.append(self._field())
            elif c == "[":
                out.append(self._bracket())
            elif c.isspace():
                self.pos += 1
            else:
                raise self.error(f"unexpected {c!r} at {self.pos}")
        return out

    def _field(self) -> Step:
        name: list[str] = []
        while self.pos < len(self.text) and self.text[self.pos] not in TERMINATORS:
            if self.text[self.pos] == "\\" and self.pos + 1 < len(self.text):
                self.pos += 1
            name.append(self.text[self.pos])
            self.pos += 1
        field = "".join(name)
        if not field:
            raise self.error(f"empty field name at {self.pos}")
        return _wildcard if field == "*" else _field(field)

    def _bracket(self) -> Step:
        if self.text.startswith("[?(", self.pos):
            return self._filter()
        end = self._closing(self.pos)
        inner = self.text[self.pos + 1 : end].strip()
        self.pos = end + 1
        if inner == "*":
            return _wildcard
        if "," in inner:
            return _union([parse(f"[{part.strip()}]") for part in inner.split(",")])
        key = re.fullmatch(r"'([^']*)'|\"([^\"]*)\"", inner)
        if key is not None:  # client-go re-reads ['a\.b'] as .a\.b
            sub = parse("." + (key.group(1) if key.group(1) is not None else key.group(2)))
            return sub.steps[0] if len(sub.steps) == 1 else _union([sub])
        return self._slice(inner)

    def _closing(self, start: int) -> int:
        quote = ""
        for i in range(start + 1, len(self.text)):
            c = self.text[i]
            if quote:
                if c == quote and self.text[i - 1] != "\\":
                    quote = ""
            elif c in "'\"":
                quote = c
            elif c == "]":
                return i
        raise self.error("unterminated array")

    def _slice(self, inner: str) -> Step:
        m = _SLICE.match(inner)
        if m is None or inner == "":
            raise self.error(f"invalid array index {inner}")
        parts = [m.group(1), *(g[1:] if g is not None else None for g in (m.group(2), m.group(3)))]
        numbers = [int(p) if p else None for p in parts]
        single = m.group(2) is None
        if single and numbers[0] is None:
            raise self.error(f"invalid array index {inner}")
        return _slice(numbers[0], numbers[1], numbers[2], single)

    def _filter(self) -> Step:
        start = self.pos + len("[?(")
        depth, quote, i = 1, "", start
        while i < len(self.text):
            c = self.text[i]
            if quote:
                if c == quote and self.text[i - 1] != "\\":
                    quote = ""
            elif c in "'\"":
                quote = c
            elif c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
                if depth == 0:
                    break
            i += 1
        if i >= len(self.text) or not self.text.startswith(")]", i):
            raise self.error("unterminated filter")
        self.pos = i + 2
        expression = self.text[start:i].strip()
        m = _FILTER.match(expression)
        if m is None:
            return _filter(self._operand(expression), "exists", None)
        left, op, right = m.group(1).strip(), m.group(2), m.group(3).strip()
        if op not in OPERATORS:
            raise self.error(f"unrecognized filter operator {op}")
        return _filter(self._operand(left), op, self._operand(right))

    def _operand(self, text: str) -> Path:
        if text.startswith("@"):
            return parse(text)
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
            value: Any = text[1:-1].replace("\\" + text[0], text[0])
        elif text in ("true", "false"):
            value = text == "true"
        elif _NUMBER.match(text):
            value = float(text) if any(c in text for c in ".eE") else int(text)
        else:
            raise self.error(f"unrecognized filter operand {text}")
        return Path(text, (_literal(value),))
