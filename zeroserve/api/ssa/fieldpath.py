"""Field paths, field sets and the ``FieldsV1`` encoding (structured-merge-diff's ``fieldpath``).

A path is a tuple of elements, each selecting a child of a value:

- a field of a map: ``.spec`` (``FIELD``);
- an item of an associative list by its key fields, sorted by name: ``[name="user-container"]``
  (``KEY``; the list's ``x-kubernetes-list-map-keys``);
- an item of a set by its value: ``[="a"]`` (``VALUE``; ``x-kubernetes-list-type: set``);
- an item of an atomic list by index: ``[0]`` (``INDEX``; only in validation messages).

Elements are ordered as SMD orders them (fields, then keys, then values, then indices; values as
``value.Compare``: numbers, strings, booleans, lists, maps, null), which fixes the order of
``FieldsV1`` keys and of conflict messages. :class:`FieldSet` is a set of paths kept as a trie:
``members`` are the elements that are in the set at this level, ``children`` the sets below an
element (a path's parents are not members unless inserted themselves).

``FieldsV1`` is the trie as JSON: ``{"f:spec": {"f:replicas": {}}}``; an element that is both a
member and a parent carries ``".": {}``; keys and values are JSON after their prefix
(``k:{"name":"a"}``, ``v:"x"``), written as Go's encoding/json writes them. PURE.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from typing import Any, Final, NamedTuple

FIELD: Final = 0
KEY: Final = 1
VALUE: Final = 2
INDEX: Final = 3

_NUMBER, _STRING, _BOOL, _LIST, _MAP, _NULL = range(6)

Frozen = tuple[int, Any]
"""A JSON value made hashable and ordered: (rank, payload), ranked numbers < strings < booleans <
lists < maps < null as SMD's ``value.Compare``."""


class FieldsError(ValueError):
    """A ``FieldsV1`` document that does not decode."""


class PathElement(NamedTuple):
    kind: int
    item: Any
    """FIELD: the name; KEY: ((name, Frozen), ...) sorted by name; VALUE: a Frozen; INDEX: an int."""

    def __str__(self) -> str:
        if self.kind == FIELD:
            return f".{self.item}"
        if self.kind == KEY:
            return "[" + ",".join(f"{name}={to_string(thaw(v))}" for name, v in self.item) + "]"
        if self.kind == VALUE:
            return f"[={to_string(thaw(self.item))}]"
        return f"[{self.item}]"


Path = tuple[PathElement, ...]


def field(name: str) -> PathElement:
    return PathElement(FIELD, name)


def key(fields: Mapping[str, Any]) -> PathElement:
    return PathElement(KEY, tuple(sorted((name, freeze(v)) for name, v in fields.items())))


def value(v: Any) -> PathElement:
    return PathElement(VALUE, freeze(v))


def index(i: int) -> PathElement:
    return PathElement(INDEX, i)


def path_string(path: Path) -> str:
    """``.spec.template.spec.containers[name="user-container"].image`` (SMD ``Path.String``)."""
    return "".join(str(pe) for pe in path)


def freeze(v: Any) -> Frozen:
    if v is None:
        return (_NULL, None)
    if isinstance(v, bool):
        return (_BOOL, v)
    if isinstance(v, (int, float)):
        return (_NUMBER, v)
    if isinstance(v, str):
        return (_STRING, v)
    if isinstance(v, list):
        return (_LIST, tuple(freeze(x) for x in v))
    if isinstance(v, dict):
        return (_MAP, tuple(sorted((k, freeze(x)) for k, x in v.items())))
    raise TypeError(f"not a JSON value: {type(v).__name__}")


def thaw(f: Frozen) -> Any:
    rank, payload = f
    if rank == _LIST:
        return [thaw(x) for x in payload]
    if rank == _MAP:
        return {k: thaw(x) for k, x in payload}
    return payload


# ---- Go's renderings ---------------------------------------------------------------------------


def _go_float(x: float) -> str:
    """``%v`` of a float64: the shortest repr, an exponent only below 1e-4 or from 1e21."""
    if math.isfinite(x) and x.is_integer() and abs(x) < 1e21:
        return str(int(x))
    text = repr(x)
    if "e" in text:
        mantissa, exp = text.split("e")
        return f"{mantissa}e{'-' if exp.startswith('-') else '+'}{int(exp.lstrip('+-')):02d}"
    return text


def go_quote(s: str) -> str:
    """``%q``: Go's strconv.Quote (printable characters kept, the rest escaped)."""
    named = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}
    out = ['"']
    for ch in s:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch in named:
            out.append(named[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def to_string(v: Any) -> str:
    """SMD's ``value.ToString`` (conflict paths: ``[name="a"]``, ``[=1]``)."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return _go_float(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return go_quote(v)
    if isinstance(v, list):
        return "[" + ",".join(to_string(x) for x in v) + "]"
    return "".join(f"{k}={to_string(x)}" for k, x in v.items())


def go_json(v: Any, sort_keys: bool = True) -> str:
    """Compact JSON as Go's encoding/json writes it: map keys sorted (a struct's fields keep their
    order: ``sort_keys=False``), ``<``, ``>``, ``&``, U+2028 and U+2029 escaped, integral floats
    without a fraction."""
    text = json.dumps(_go_floats(v), separators=(",", ":"), ensure_ascii=False, sort_keys=sort_keys)
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028")):
        text = text.replace(raw, escaped)
    return text.replace("\u2029", "\\u2029")


def _go_floats(v: Any) -> Any:
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e21:
        return int(v)
    if isinstance(v, list):
        return [_go_floats(x) for x in v]
    if isinstance(v, dict):
        return {k: _go_floats(x) for k, x in v.items()}
    return v


# ---- sets --------------------------------------------------------------------------------------


class FieldSet:
    """A set of paths (see the module doc). Operations return new sets; ``insert`` mutates."""

    __slots__ = ("children", "members")

    def __init__(
        self, members: set[PathElement] | None = None, children: dict[PathElement, FieldSet] | None = None
    ) -> None:
        self.members: set[PathElement] = members if members is not None else set()
        self.children: dict[PathElement, FieldSet] = children if children is not None else {}

    @classmethod
    def of(cls, *paths: Path) -> FieldSet:
        out = cls()
        for p in paths:
            out.insert(p)
        return out

    def insert(self, path: Path) -> None:
        """Add ``path`` (not its parents); the empty path (the whole object) is never owned."""
        if not path:
            return
        node = self
        for pe in path[:-1]:
            child = node.children.get(pe)
            if child is None:
                child = node.children[pe] = FieldSet()
            node = child
        node.members.add(path[-1])

    def has(self, path: Path) -> bool:
        if not path:
            return False
        node: FieldSet | None = self
        for pe in path[:-1]:
            node = node.children.get(pe) if node is not None else None
        return node is not None and path[-1] in node.members

    def empty(self) -> bool:
        return not self.members and not self.children  # children are never empty sets

    def with_prefix(self, pe: PathElement) -> FieldSet:
        """The paths below ``pe``, without it."""
        return self.children.get(pe) or FieldSet()

    def copy(self) -> FieldSet:
        return FieldSet(set(self.members), {pe: c.copy() for pe, c in self.children.items()})

    def union(self, other: FieldSet) -> FieldSet:
        children = {pe: c.copy() for pe, c in self.children.items()}
        for pe, c in other.children.items():
            children[pe] = children[pe].union(c) if pe in children else c.copy()
        return FieldSet(self.members | other.members, children)

    def intersection(self, other: FieldSet) -> FieldSet:
        children = {}
        for pe, c in self.children.items():
            if pe in other.children:
                both = c.intersection(other.children[pe])
                if not both.empty():
                    children[pe] = both
        return FieldSet(self.members & other.members, children)

    def difference(self, other: FieldSet) -> FieldSet:
        """Path by path: a parent minus its child keeps the parent, and the other way round."""
        children = {}
        for pe, c in self.children.items():
            rest = c.difference(other.children[pe]) if pe in other.children else c.copy()
            if not rest.empty():
                children[pe] = rest
        return FieldSet(self.members - other.members, children)

    def recursive_difference(self, other: FieldSet) -> FieldSet:
        """Less every path of ``other`` and everything below them."""
        children = {}
        for pe, c in self.children.items():
            if pe in other.members:
                continue
            rest = c.recursive_difference(other.children[pe]) if pe in other.children else c.copy()
            if not rest.empty():
                children[pe] = rest
        return FieldSet(self.members - other.members, children)

    def paths(self, prefix: Path = ()) -> Iterator[Path]:
        """Every path, in SMD's order: a level's members, then its children's paths."""
        for pe in sorted(self.members):
            yield (*prefix, pe)
        for pe in sorted(self.children):
            yield from self.children[pe].paths((*prefix, pe))

    def __len__(self) -> int:
        return len(self.members) + sum(len(c) for c in self.children.values())

    def __bool__(self) -> bool:
        """Whether any path is in it, without counting them all (``__len__`` walks the whole tree)."""
        return bool(self.members) or any(self.children.values())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FieldSet) and self.members == other.members and self.children == other.children

    def __hash__(self) -> int:  # pragma: no cover - mutable, not meant for sets
        raise TypeError("FieldSet is not hashable")

    def __repr__(self) -> str:
        return f"FieldSet({', '.join(path_string(p) for p in self.paths())})"


# ---- FieldsV1 ----------------------------------------------------------------------------------


def serialize_element(pe: PathElement) -> str:
    if pe.kind == FIELD:
        return f"f:{pe.item}"
    if pe.kind == KEY:
        return "k:" + go_json({name: thaw(v) for name, v in pe.item})
    if pe.kind == VALUE:
        return "v:" + go_json(thaw(pe.item))
    return f"i:{pe.item}"


def to_fields_v1(s: FieldSet) -> dict[str, Any]:
    """The ``fieldsV1`` object of ``s``."""
    return _emit(s, include_self=False)


def _emit(s: FieldSet, include_self: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if include_self:
        out["."] = {}
    for pe in sorted(s.members | s.children.keys()):
        child = s.children.get(pe)
        out[serialize_element(pe)] = _emit(child, pe in s.members) if child is not None else {}
    return out


def deserialize_element(text: str) -> PathElement | None:
    """An element from its ``FieldsV1`` key; None for a prefix SMD does not know (dropped, as SMD
    drops what a later version may define). FieldsError for one that does not parse."""
    if len(text) < 2:
        raise FieldsError(f"invalid path element {text!r}: key must be 2 characters long")
    if text[1] != ":":
        raise FieldsError(f"invalid path element {text!r}: missing colon")
    tag, body = text[0], text[2:]
    if tag == "f":
        return field(body)
    try:
        if tag == "k":
            fields = json.loads(body)
            if not isinstance(fields, dict):
                raise FieldsError(f"invalid key element {text!r}: not a JSON object")
            return key(fields)
        if tag == "v":
            return value(json.loads(body))
        if tag == "i":
            return index(int(body))
    except (ValueError, TypeError) as e:
        if isinstance(e, FieldsError):
            raise
        raise FieldsError(f"invalid path element {text!r}: {e}") from None
    return None


def from_fields_v1(doc: Any) -> FieldSet:
    """The set a ``fieldsV1`` object encodes; FieldsError when it is not one."""
    if not isinstance(doc, dict):
        raise FieldsError("fieldsV1 must be a JSON object")
    children, _ = _read(doc)
    return children or FieldSet()


def _read(doc: dict[str, Any]) -> tuple[FieldSet | None, bool]:
    """(the set below, whether this node is itself a member)."""
    children: FieldSet | None = None
    member = False
    for text, sub in doc.items():
        if not isinstance(sub, dict):
            raise FieldsError(f"the value of {text!r} must be a JSON object")
        if text == ".":
            member = True
            continue
        pe = deserialize_element(text)
        if pe is None:
            continue
        grandchildren, child_member = _read(sub)
        if child_member or grandchildren is not None:
            children = children or FieldSet()
        if child_member and children is not None:
            children.members.add(pe)
        if grandchildren is not None and children is not None:
            current = children.children.get(pe)
            children.children[pe] = current.union(grandchildren) if current is not None else grandchildren
    return children, member or children is None
