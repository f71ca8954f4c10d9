"""Operations on a value of a known :class:`~zeroserve.api.ssa.typeschema.Type` (structured-merge-diff's
``typed`` package): :func:`validate`, :func:`to_field_set`, :func:`merge`, :func:`compare`,
:func:`remove_items` and :func:`ensure_named_fields`.

Values are JSON (dicts, lists, scalars, None for ``null``); :data:`ABSENT` stands for a value that
is not there at all, which is not ``null``. A granular map's fields and an associative list's items
are tracked one by one; a scalar, an atomic list or an atomic map is one leaf. PURE.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final, Literal

from zeroserve.api import jsoncodec
from zeroserve.api.ssa.fieldpath import (
    FIELD,
    KEY,
    FieldSet,
    Path,
    PathElement,
    field,
    freeze,
    index,
    key,
    value,
)
from zeroserve.api.ssa.typeschema import UNTYPED, Type


class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Final[Any] = _Absent()
"""No value (a field that is not set), as opposed to ``None`` (a field set to ``null``)."""

Atom = Literal["map", "list", "scalar"]


class TypedError(ValueError):
    """A value its type does not describe (SMD's ValidationErrors): one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        text = problems[0] if len(problems) == 1 else "errors:\n" + "\n".join(f"  {p}" for p in problems)
        super().__init__(text)


def equal(a: Any, b: Any) -> bool:
    """SMD's ``value.Equals``: deep, ``1 == 1.0``, ``true != 1``. Python's ``==`` is coarser (it
    holds ``True == 1`` as well): values it finds unequal are unequal here too, found in C (a status
    write compares conditions that changed), and only values it finds equal are frozen to tell."""
    if a is b:
        return True
    if a != b:
        return False
    return freeze(a) == freeze(b)


def _atom(t: Type, v: Any) -> Atom | None:
    """Which part of ``t`` describes ``v`` (SMD ``deduceAtom`` + ``handleAtom``: a null takes the
    map, else the scalar, else the list); None when no part does."""
    if isinstance(v, dict):
        return "map" if t.map is not None else None
    if isinstance(v, list):
        return "list" if t.list is not None else None
    if v is None:
        return "map" if t.map is not None else "scalar" if t.scalar is not None else "list" if t.list else None
    return "scalar" if t.scalar is not None else None


def _field_type(t: Type, name: str) -> Type | None:
    assert t.map is not None
    return t.map.fields.get(name) or t.map.element


def item_element(t: Type, item: Any) -> PathElement:
    """The element that names ``item`` of the associative list ``t``; ValueError when it has none."""
    assert t.list is not None
    keys = t.list.keys
    if keys:
        if item is None:
            raise ValueError("associative list with keys may not have a null element")
        if not isinstance(item, dict):
            raise ValueError("associative list with keys may not have non-map elements")
        fields = {k: item[k] for k in keys if k in item}
        if not fields:
            quoted = " ".join(f'"{k}"' for k in keys)
            raise ValueError(
                f"associative list with keys has an element that omits all key fields [{quoted}] "
                "(and doesn't have default values for any key fields)"
            )
        return key(fields)
    if isinstance(item, dict):
        raise ValueError("associative list without keys has an element that's a map type")
    if isinstance(item, list):
        raise ValueError("not supported: associative list with lists as elements")
    if item is None:
        raise ValueError("associative list without keys has an element that's an explicit null")
    return value(item)


# ---- validate ----------------------------------------------------------------------------------


_JSON_TYPES: Final = {dict: "map", list: "list", str: "string", bool: "boolean", int: "number", float: "number"}


def _kind_of(v: Any) -> str:
    return "null" if v is None else _JSON_TYPES.get(type(v), type(v).__name__)


def validate(t: Type, v: Any, allow_duplicates: bool = False) -> None:
    """Raise TypedError unless ``t`` describes ``v``: every problem, with its path."""
    problems: list[str] = []
    _validate(t, v, "", allow_duplicates, problems)
    if problems:
        raise TypedError(problems)


def _at(path: str, message: str) -> str:
    return f"{path}: {message}" if path else message


def _validate(t: Type, v: Any, path: str, dups: bool, out: list[str]) -> None:
    atom = _atom(t, v)
    if atom is None:
        want = "map" if t.map is not None else "list" if t.list is not None else "scalar"
        out.append(_at(path, f"expected {want}, got {_kind_of(v)}"))
    elif atom == "scalar":
        problem = _scalar_problem(t, v)
        if problem:
            out.append(_at(path, problem))
    elif atom == "list" and isinstance(v, list):
        _validate_list(t, v, path, dups, out)
    elif atom == "map" and isinstance(v, dict):
        assert t.map is not None
        for name, child in v.items():
            ft = _field_type(t, name)
            if ft is None:
                out.append(_at(f"{path}.{name}", "field not declared in schema"))
                return
            _validate(ft, child, f"{path}.{name}", dups, out)


def _scalar_problem(t: Type, v: Any) -> str:
    if v is None:
        return ""
    if t.scalar == "numeric" and (isinstance(v, bool) or not isinstance(v, (int, float))):
        return f"expected numeric (int or float), got {_kind_of(v)}"
    if t.scalar == "string" and not isinstance(v, str):
        return f"expected string, got {_kind_of(v)}"
    if t.scalar == "boolean" and not isinstance(v, bool):
        return f"expected boolean, got {_kind_of(v)}"
    return ""


def _validate_list(t: Type, v: list[Any], path: str, dups: bool, out: list[str]) -> None:
    lt = t.list
    assert lt is not None
    seen: set[PathElement] = set()
    for i, child in enumerate(v):
        pe = index(i)
        if lt.associative:
            try:
                pe = item_element(t, child)
            except ValueError as e:
                out.append(_at(path, f"element {i}: {e}"))
                return
            if pe in seen and not dups:
                out.append(_at(path, f"duplicate entries for key {pe}"))
            seen.add(pe)
        _validate(lt.element, child, f"{path}{pe}", dups, out)


# ---- field sets --------------------------------------------------------------------------------


def to_field_set(t: Type, v: Any) -> FieldSet:
    """The fields ``v`` sets: its leaves, its associative lists' items, its maps' undeclared keys and
    its fields that are null or an empty map (SMD ``ToFieldSet``)."""
    out = FieldSet()
    if v is not ABSENT:
        _fields(t, v, (), out)
    return out


def _fields(t: Type, v: Any, path: Path, out: FieldSet) -> None:
    atom = _atom(t, v)
    if atom is None or atom == "scalar":
        out.insert(path)
    elif atom == "list":
        lt = t.list
        assert lt is not None
        if not lt.associative:
            out.insert(path)
        elif isinstance(v, list):
            _list_fields(t, v, path, out)
    else:
        mt = t.map
        assert mt is not None
        if mt.atomic:
            out.insert(path)
        elif isinstance(v, dict):
            for name, child in v.items():
                here = (*path, field(name))
                _fields(_field_type(t, name) or UNTYPED, child, here, out)
                if child is None or child == {} or name not in mt.fields:
                    out.insert(here)


def _list_fields(t: Type, v: list[Any], path: Path, out: FieldSet) -> None:
    assert t.list is not None
    elements = [item_element(t, item) for item in v]
    seen: set[PathElement] = set()
    duplicates: set[PathElement] = set()
    for pe in elements:
        if pe in seen and pe not in duplicates:
            out.insert((*path, pe))
            duplicates.add(pe)
        seen.add(pe)
    for pe, item in zip(elements, v, strict=True):
        if pe in duplicates:
            continue
        here = (*path, pe)
        _fields(t.list.element, item, here, out)
        out.insert(here)


def ensure_named_fields(t: Type | None, s: FieldSet) -> FieldSet:
    """``s`` plus every declared field that is a parent of one of its paths (SMD
    ``EnsureNamedFieldsAreMembers``: a map's own keys are not added, a struct's fields are)."""
    members = set(s.members)
    mt = t.map if t is not None else None
    children: dict[PathElement, FieldSet] = {}
    for pe, child in s.children.items():
        child_type: Type | None = None
        if pe.kind == FIELD and mt is not None:
            if pe.item in mt.fields:
                members.add(pe)
            child_type = mt.fields.get(pe.item) or mt.element
        elif pe.kind == KEY and t is not None and t.list is not None:
            child_type = t.list.element
        children[pe] = ensure_named_fields(child_type, child)
    return FieldSet(members, children)


# ---- merge -------------------------------------------------------------------------------------


def merge(t: Type, lhs: Any, rhs: Any) -> Any:
    """``rhs`` merged over ``lhs``: granular maps and associative lists merge item by item (new
    items where ``rhs`` puts them, the rest of ``lhs`` around them), every leaf takes ``rhs``'s
    value (SMD ``Merge`` with ``ruleKeepRHS``). ABSENT when both are."""
    if lhs is ABSENT and rhs is ABSENT:
        return ABSENT
    left = _atom(t, lhs) if lhs is not ABSENT else None
    right = _atom(t, rhs) if rhs is not ABSENT else None
    atom = left if rhs is ABSENT else right if lhs is ABSENT or left == right else None
    if atom == "list":
        assert t.list is not None
        lv, rv = _as_list(lhs), _as_list(rhs)
        if t.list.associative and (lv or rv):
            return _merge_list(t, lv, rv)
    elif atom == "map":
        assert t.map is not None
        lm, rm = _as_map(lhs), _as_map(rhs)
        if not t.map.atomic and (lm or rm):
            out = {}
            for name in [*lm, *(k for k in rm if k not in lm)]:
                merged = merge(_field_type(t, name) or UNTYPED, lm.get(name, ABSENT), rm.get(name, ABSENT))
                if merged is not ABSENT:
                    out[name] = merged
            return out if out else ABSENT
    return rhs if rhs is not ABSENT else lhs


def _as_list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


def _as_map(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _index(t: Type, items: list[Any], allow_duplicates: bool) -> tuple[list[PathElement], dict[PathElement, Any]]:
    elements: list[PathElement] = []
    observed: dict[PathElement, Any] = {}
    for item in items:
        pe = item_element(t, item)
        if pe in observed:
            if not allow_duplicates:
                raise ValueError(f"duplicate entries for key {pe}")
            observed[pe] = None  # duplicated items are not merged with the new value
        else:
            observed[pe] = item
        elements.append(pe)
    return elements, observed


def _merge_list(t: Type, lhs: list[Any], rhs: list[Any]) -> Any:
    """SMD's ``visitListItems``: items of both sides in one list, ``rhs``'s shared items in its order."""
    assert t.list is not None
    element = t.list.element
    r_pes, r_seen = _index(t, rhs, allow_duplicates=False)
    l_pes, l_seen = _index(t, lhs, allow_duplicates=True)
    shared: Iterator[PathElement] = iter([pe for pe in r_pes if pe in l_seen])
    next_shared = next(shared, None)
    merged_rhs: set[PathElement] = set()
    out: list[Any] = []

    def add(item: Any) -> None:
        if item is not ABSENT:
            out.append(item)

    li = ri = 0
    while li < len(l_pes) or ri < len(r_pes):
        if li < len(l_pes) and ri < len(r_pes):
            pe = l_pes[li]
            if pe == r_pes[ri]:
                merged_rhs.add(pe)
                add(merge(element, l_seen[pe], r_seen[pe]))
                li, ri = li + 1, ri + 1
                next_shared = next(shared, None)
                continue
            if pe in r_seen and next_shared is not None and next_shared != pe:
                li += 1
                continue
        if li < len(l_pes):
            pe = l_pes[li]
            if pe not in r_seen:
                add(merge(element, lhs[li], ABSENT))
                li += 1
                continue
            if pe in merged_rhs:
                li += 1
        if ri < len(r_pes):
            pe = r_pes[ri]
            merged_rhs.add(pe)
            add(merge(element, l_seen.get(pe, ABSENT), r_seen[pe]))
            ri += 1
            if next_shared is not None and next_shared == pe:
                next_shared = next(shared, None)
    return out if out else ABSENT


# ---- compare -----------------------------------------------------------------------------------


@dataclass
class Comparison:
    removed: FieldSet
    modified: FieldSet
    added: FieldSet

    def same(self) -> bool:
        return self.removed.empty() and self.modified.empty() and self.added.empty()

    def excluding(self, fields: FieldSet | None) -> Comparison:
        """Without ``fields`` and everything below them (SMD ``ExcludeFields``)."""
        if fields is None or fields.empty():
            return self
        return Comparison(
            self.removed.recursive_difference(fields),
            self.modified.recursive_difference(fields),
            self.added.recursive_difference(fields),
        )


def compare(t: Type, lhs: Any, rhs: Any) -> Comparison:
    """What changed from ``lhs`` to ``rhs``: leaves removed, modified and added, and granular maps,
    lists and items that appeared or went as a whole (SMD ``Compare``)."""
    c = Comparison(FieldSet(), FieldSet(), FieldSet())
    _compare(t, lhs, rhs, (), c)
    return c


def _leaf(lhs: Any, rhs: Any, path: Path, c: Comparison) -> None:
    if lhs is ABSENT:
        c.added.insert(path)
    elif rhs is ABSENT:
        c.removed.insert(path)
    elif not equal(lhs, rhs):
        c.modified.insert(path)


def _same_container(lhs: Any, rhs: Any) -> bool:
    """Whether ``lhs`` and ``rhs`` are maps or lists that encode to the same JSON (keys in any
    order): such a subtree adds, modifies and removes nothing, and one encoding (in C) costs less
    than walking it. False also for containers SMD holds equal that encode apart (1 and 1.0)."""
    if type(lhs) is not type(rhs) or not isinstance(lhs, (dict, list)):
        return False
    return jsoncodec.dumps(lhs, sort_keys=True) == jsoncodec.dumps(rhs, sort_keys=True)


def _compare(t: Type, lhs: Any, rhs: Any, path: Path, c: Comparison) -> None:
    if _same_container(lhs, rhs):
        return
    left = _atom(t, lhs) if lhs is not ABSENT else None
    right = _atom(t, rhs) if rhs is not ABSENT else None
    if lhs is not ABSENT and rhs is not ABSENT and left != right:  # the value changed its type
        if left in ("map", "list"):
            _compare_children(t, left, lhs, ABSENT, path, c)
        _leaf(lhs, rhs, path, c)
        return
    atom = left if rhs is ABSENT else right
    if atom in ("map", "list") and _compare_children(t, atom, lhs, rhs, path, c):
        if lhs is ABSENT:
            c.added.insert(path)
        elif rhs is ABSENT:
            c.removed.insert(path)
        return
    _leaf(lhs, rhs, path, c)


def _compare_children(t: Type, atom: Atom | None, lhs: Any, rhs: Any, path: Path, c: Comparison) -> bool:
    """Compare a granular map's or associative list's children; False when it is one leaf."""
    if atom == "map":
        assert t.map is not None
        lm, rm = _as_map(lhs), _as_map(rhs)
        if t.map.atomic or not (lm or rm):
            return False
        for name in [*lm, *(k for k in rm if k not in lm)]:
            ft = _field_type(t, name) or UNTYPED
            _compare(ft, lm.get(name, ABSENT), rm.get(name, ABSENT), (*path, field(name)), c)
        return True
    assert t.list is not None
    lv, rv = _as_list(lhs), _as_list(rhs)
    if not t.list.associative or not (lv or rv):
        return False
    _compare_list(t, lv, rv, path, c)
    return True


def _compare_list(t: Type, lhs: list[Any], rhs: list[Any], path: Path, c: Comparison) -> None:
    assert t.list is not None
    element = t.list.element
    order: list[PathElement] = []
    lvals: dict[PathElement, list[Any]] = {}
    rvals: dict[PathElement, list[Any]] = {}
    for item in lhs:
        pe = item_element(t, item)
        if pe not in lvals:
            order.append(pe)
        lvals.setdefault(pe, []).append(item)
    for item in rhs:
        pe = item_element(t, item)
        if pe not in rvals and pe not in lvals:
            order.append(pe)
        rvals.setdefault(pe, []).append(item)
    for pe in order:
        ls, rs = lvals.get(pe, []), rvals.get(pe, [])
        here = (*path, pe)
        if len(ls) <= 1 and len(rs) <= 1:
            _compare(element, ls[0] if ls else ABSENT, rs[0] if rs else ABSENT, here, c)
        elif len(ls) >= 2 and len(rs) >= 2:
            if len(ls) != len(rs) or not all(equal(a, b) for a, b in zip(ls, rs, strict=True)):
                c.modified.insert(here)
        elif len(ls) >= 2:
            if rs:
                _compare(element, ABSENT, rs[0], here, c)
            c.removed.insert(here)
        else:
            if ls:
                _compare(element, ls[0], ABSENT, here, c)
            c.added.insert(here)


# ---- remove ------------------------------------------------------------------------------------


def remove_items(t: Type, v: Any, items: FieldSet) -> Any:
    """``v`` without the fields and items in ``items`` (with everything below them). As SMD's
    ``RemoveItems``, a granular map or list left empty becomes ``null``."""
    if v is ABSENT:
        return ABSENT
    atom = _atom(t, v)
    if atom == "list":
        lt = t.list
        assert lt is not None
        if not isinstance(v, list) or not v or not lt.associative:
            return None
        kept = []
        for item in v:
            pe = item_element(t, item)
            if items.has((pe,)):
                continue
            below = items.children.get(pe)
            kept.append(remove_items(lt.element, item, below) if below is not None else item)
        return kept or None
    if atom == "map":
        mt = t.map
        assert mt is not None
        if not isinstance(v, dict) or not v or mt.atomic:
            return None
        out = {}
        for name, child in v.items():
            pe = field(name)
            if items.has((pe,)):
                continue
            below = items.children.get(pe)
            out[name] = remove_items(_field_type(t, name) or UNTYPED, child, below) if below is not None else child
        return out or None
    return v
