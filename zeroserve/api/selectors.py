"""Kubernetes label and field selectors: parse once, match many times (pure).

The label grammar is apimachinery's ``labels.Parse``::

    selector    := requirement ("," requirement)*
    requirement := key ("=" | "==" | "!=") value
                 | key ("in" | "notin") "(" value ("," value)* ")"
                 | key | "!" key

Requirements are ANDed. ``a!=b`` and ``a notin (b)`` also match objects without label ``a``.
Field selectors take the same ``=``/``==``/``!=`` forms over a fixed set of field paths.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from zeroserve.errors import BadRequest

Operator = Literal["=", "!=", "in", "notin", "exists", "!"]

_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)
_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
_TOKEN = re.compile(r"\s*(==|!=|=|\(|\)|,|!|[^\s=!(),]+)")


@dataclass(frozen=True)
class Requirement:
    key: str
    op: Operator
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        match self.op:
            case "exists":
                return present
            case "!":
                return not present
            case "=" | "in":
                return present and labels[self.key] in self.values
            case "!=" | "notin":
                return not present or labels[self.key] not in self.values


@dataclass(frozen=True)
class Selector:
    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(r.matches(labels) for r in self.requirements)

    def __bool__(self) -> bool:
        return bool(self.requirements)


EVERYTHING = Selector()


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:  # pragma: no cover - the pattern matches any non-blank character
            raise BadRequest(f"unable to parse requirement: {text!r}")
        out.append(m.group(1))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    def fail(self, why: str) -> BadRequest:
        return BadRequest(f"unable to parse requirement: {why} in selector {self.text!r}")

    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> str:
        tok = self.peek()
        if tok is None:
            raise self.fail("unexpected end")
        self.i += 1
        return tok

    def key(self) -> str:
        tok = self.take()
        if not _KEY.match(tok) or tok in ("in", "notin"):
            raise self.fail(f"invalid label key {tok!r}")
        return tok

    def value(self) -> str:
        tok = self.peek()
        if tok in (None, ",", ")"):
            return ""
        self.i += 1
        assert tok is not None
        if not _VALUE.match(tok):
            raise self.fail(f"invalid label value {tok!r}")
        return tok

    def value_set(self) -> frozenset[str]:
        if self.take() != "(":
            raise self.fail("expected '('")
        values = {self.value()}
        while (tok := self.take()) == ",":
            values.add(self.value())
        if tok != ")":
            raise self.fail(f"expected ')' but found {tok!r}")
        return frozenset(values)

    def requirement(self) -> Requirement:
        if self.peek() == "!":
            self.i += 1
            return Requirement(self.key(), "!")
        key = self.key()
        op = self.peek()
        if op in (None, ","):
            return Requirement(key, "exists")
        self.i += 1
        if op in ("=", "=="):
            return Requirement(key, "=", frozenset({self.value()}))
        if op == "!=":
            return Requirement(key, "!=", frozenset({self.value()}))
        if op == "in":
            return Requirement(key, "in", self.value_set())
        if op == "notin":
            return Requirement(key, "notin", self.value_set())
        raise self.fail(f"unexpected {op!r} after key {key!r}")

    def selector(self) -> Selector:
        reqs: list[Requirement] = []
        while self.peek() is not None:
            reqs.append(self.requirement())
            tok = self.peek()
            if tok is None:
                break
            if tok != ",":
                raise self.fail(f"expected ',' but found {tok!r}")
            self.i += 1
            if self.peek() is None:
                raise self.fail("trailing ','")
        return Selector(tuple(reqs))


@lru_cache(maxsize=1024)
def parse(text: str | None) -> Selector:
    """A label selector; None or blank selects everything. Raises BadRequest on bad syntax.
    Remembered (selectors are immutable): the controller lists by the same few each reconcile."""
    if text is None or not text.strip():
        return EVERYTHING
    return _Parser(text).selector()


def _split_terms(text: str) -> list[str]:
    """apimachinery ``splitTerms``: split on commas that are not escaped with a backslash."""
    terms, start, escaped = [], 0, False
    for i, c in enumerate(text):
        if escaped:
            escaped = False
        elif c == "\\":
            escaped = True
        elif c == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def _unescape(value: str) -> str:
    """apimachinery ``UnescapeValue``: ``\\\\``, ``\\,`` and ``\\=`` stand for themselves; a bare ``,``
    or ``=`` or another escape is an error."""
    out: list[str] = []
    escaped = False
    for c in value:
        if escaped:
            if c not in "\\,=":
                raise BadRequest(f"invalid field selector: invalid escape sequence: \\{c} in {value!r}")
            out.append(c)
            escaped = False
        elif c == "\\":
            escaped = True
        elif c in ",=":
            raise BadRequest(f"invalid field selector: unescaped {c!r} in value {value!r}")
        else:
            out.append(c)
    if escaped:
        raise BadRequest(f"invalid field selector: invalid escape sequence at the end of {value!r}")
    return "".join(out)


def parse_fields(text: str | None, supported: Iterable[str]) -> Selector:
    """A field selector over ``supported`` paths (``metadata.name=x,metadata.namespace!=y``), as
    apimachinery's ``fields.ParseSelector`` reads it: ``=``, ``==`` or ``!=`` per term, values with
    ``\\,``, ``\\=`` and ``\\\\`` escaped (client-go escapes them so)."""
    if text is None or not text.strip():
        return EVERYTHING
    allowed = set(supported)
    reqs: list[Requirement] = []
    for term in _split_terms(text):
        if not term.strip():
            continue
        m = re.fullmatch(r"\s*([^=!\s]+)\s*(!=|==|=)(.*)", term)
        if m is None:
            raise BadRequest(f"invalid field selector: {text!r}; can't understand {term.strip()!r}")
        field, op, raw = m.groups()
        if field not in allowed:
            raise BadRequest(f"field label not supported: {field}; supported: {', '.join(sorted(allowed))}")
        value = _unescape(raw.strip())
        reqs.append(Requirement(field, "!=" if op == "!=" else "=", frozenset({value})))
    return Selector(tuple(reqs))
