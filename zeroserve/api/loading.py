"""Reading resources from YAML or JSON text (``zeroserve apply -f``), as ``kubectl`` reads them.

Multi-document YAML (``---``) is split, empty documents are skipped and a ``kind: List`` (or
``*List``) expands into its ``items``. JSON is YAML, so one parser serves both.

What comes out is plain JSON, as Kubernetes' ``sigs.k8s.io/yaml`` makes it: timestamps stay the
strings they were written as (``2024-01-01`` is not a date), map keys that YAML reads as numbers or
booleans become strings (``1: a`` is ``"1": a``), and whatever has no JSON form is an error with its
path (``!!binary``, ``!!set``, ``.inf``, a ``null`` key, a lone surrogate: see
:func:`zeroserve.api.wire.errors`). Hostile text is bounded before anything expands or recurses
over it: nesting past :data:`~zeroserve.api.wire.MAX_DEPTH`, an anchor that contains itself, an
alias "bomb" that would expand past :data:`MAX_EXPANDED_NODES` and integers of more than
:data:`~zeroserve.api.wire.MAX_INT_DIGITS` digits are refused while parsing (go-yaml's wording:
``document contains excessive aliasing``, ``anchor "a" value contains itself``).

Every problem is one line ``<source>: ...``; all of a file's documents are checked before the
BadRequest (one line per problem) is raised.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Final

import yaml

from zeroserve.api import wire
from zeroserve.api.base import Obj
from zeroserve.errors import BadRequest, FieldError

MAX_EXPANDED_NODES: Final = 100_000
"""A document whose aliases expand it past this many nodes (and past twice its size) is refused."""


@dataclass(frozen=True)
class Document:
    """One resource of a file; ``where`` names it before its name is known (``document 1: items[0]``)."""

    where: str
    obj: Obj


def _node_children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _check_aliases(root: yaml.Node, anchors: dict[int, str]) -> None:
    """Refuse a self-containing anchor and an expansion past MAX_EXPANDED_NODES (iterative DFS)."""
    size: dict[int, int] = {}
    entered: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            entered.discard(key)
            size[key] = 1 + sum(size[id(c)] for c in _node_children(node))
            continue
        if key in size:
            continue
        if key in entered:
            message = f'anchor "{anchors.get(key, "?")}" value contains itself'
            raise yaml.composer.ComposerError(None, None, message, node.start_mark)
        entered.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in _node_children(node) if id(c) not in size)
    if size[id(root)] > max(MAX_EXPANDED_NODES, 2 * len(size)):
        raise yaml.composer.ComposerError(None, None, "document contains excessive aliasing", root.start_mark)


class _Loader(yaml.SafeLoader):
    """SafeLoader with Kubernetes' reading of scalars and bounds on depth, aliases and integers."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > wire.MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise yaml.composer.ComposerError(None, None, f"exceeded max depth of {wire.MAX_DEPTH}", mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_document(self) -> yaml.Node | None:
        """Composer.compose_document, with the alias check before the anchors are forgotten."""
        self.get_event()  # type: ignore[no-untyped-call]
        node = self.compose_node(None, None)  # type: ignore[arg-type]  # PyYAML passes None for the root
        self.get_event()  # type: ignore[no-untyped-call]
        if node is not None:
            _check_aliases(node, {id(n): name for name, n in self.anchors.items()})
        self.anchors = {}
        return node

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Hashable, Any]:
        """SafeConstructor's, but keys become JSON strings as they are read (``1`` and ``true`` are
        two keys, not one Python ``1``), and a key written twice is refused (go-yaml: ``mapping key
        "x" already defined at line N``) where PyYAML keeps the last. Keys merged in with ``<<`` may
        be overridden."""
        if not isinstance(node, yaml.MappingNode):  # a !!set or !!map tag on a list or scalar
            message = f"expected a mapping node, but found {getattr(node, 'id', 'another node')}"
            raise yaml.constructor.ConstructorError(None, None, message, node.start_mark)
        seen: dict[Hashable, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = _map_key(self.construct_object(key_node, deep=True))
            if key in seen:
                message = f'mapping key "{wire.escaped(str(key))}" already defined at line {seen[key]}'
                raise yaml.constructor.ConstructorError(None, None, message, key_node.start_mark)
            seen[key] = key_node.start_mark.line + 1
        self.flatten_mapping(node)
        mapping: dict[Hashable, Any] = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, Hashable):
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark, "found unhashable key", key_node.start_mark
                )
            mapping[_map_key(key)] = self.construct_object(value_node, deep=deep)
        return mapping

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        text = str(node.value).replace("_", "").lstrip("+-")
        if len(text) > wire.MAX_INT_DIGITS:
            message = f"an integer of {len(text)} digits is out of range"
            raise yaml.constructor.ConstructorError(None, None, message, node.start_mark)
        return super().construct_yaml_int(node)

    def construct_timestamp_text(self, node: yaml.ScalarNode) -> str:
        """A timestamp stays the text it was written as (``sigs.k8s.io/yaml`` into JSON)."""
        return self.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_timestamp_text)


def _yaml_error(e: yaml.YAMLError, text: str) -> str:
    """One line: what is wrong and where (PyYAML's own text spans several)."""
    if isinstance(e, yaml.MarkedYAMLError):
        what = ", ".join(p for p in (e.context, e.problem) if p)
        mark = e.problem_mark or e.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        return f"invalid YAML: {what}{where}"
    if isinstance(e, yaml.reader.ReaderError):
        line = text.count("\n", 0, e.position) + 1
        column = e.position - (text.rfind("\n", 0, e.position) + 1) + 1
        return f"invalid YAML: unacceptable character #x{e.character:04x} (line {line}, column {column})"
    return f"invalid YAML: {str(e).splitlines()[0] if str(e) else type(e).__name__}"


def _map_key(key: Any) -> Any:
    """A YAML key as ``sigs.k8s.io/yaml`` writes it to JSON (other keys are left for wire.errors)."""
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, (int, float)):
        return str(key)
    return key


def _as_tree(root: Any) -> Any:
    """A tree copy of ``root`` (a DAG when aliases are used); iterative."""
    out: list[Any] = [None]
    stack: list[tuple[Any, Any, Any]] = [(root, out, 0)]
    while stack:
        src, target, slot = stack.pop()
        if isinstance(src, dict):
            mapping: dict[Any, Any] = {}
            target[slot] = mapping
            for key, value in src.items():
                mapping[key] = None
                stack.append((value, mapping, key))
        elif isinstance(src, list):
            items: list[Any] = [None] * len(src)
            target[slot] = items
            stack.extend((value, items, i) for i, value in enumerate(src))
        else:
            target[slot] = src
    return out[0]


def _type_error(value: object, expected: str, path: str) -> FieldError:
    return FieldError(f'invalid type: got "{wire.json_type(value)}", expected "{expected}"', (path,))


def _check(doc: Any) -> list[str]:
    """What stops ``doc`` from being a resource at all (relative messages, no source)."""
    if not isinstance(doc, dict):
        return [f"expected a mapping (an object with apiVersion and kind), got {wire.json_type(doc)}"]
    missing = [k for k in ("apiVersion", "kind") if doc.get(k) in (None, "")]
    if missing:
        return [f"missing {' and '.join(missing)}"]
    return [str(_type_error(doc[k], "string", k)) for k in ("apiVersion", "kind") if not isinstance(doc[k], str)]


def _is_list(doc: Obj) -> bool:
    return str(doc.get("kind", "")).endswith("List") and isinstance(doc.get("items"), list)


def load_manifest(text: str, source: str = "-") -> list[Document]:
    """Every resource in ``text``; BadRequest with one line ``<source>: ...`` per problem."""
    try:
        raw = list(yaml.load_all(text, Loader=_Loader))
    except yaml.YAMLError as e:
        raise BadRequest(f"{source}: {_yaml_error(e, text)}") from None
    except RecursionError:  # a Python stack smaller than MAX_DEPTH needs (not with the defaults)
        raise BadRequest(f"{source}: invalid YAML: exceeded max depth of {wire.MAX_DEPTH}") from None
    out: list[Document] = []
    problems: list[str] = []
    for i, loaded in enumerate(raw):
        if loaded is None:
            continue
        doc = _as_tree(loaded)
        where = f"{source}: document {i}"
        bad = [str(e) for e in wire.errors(doc)] or _check(doc)
        if not bad and _is_list(doc):
            for j, item in enumerate(doc["items"]):
                problems.extend(f"{where}: items[{j}]: {p}" for p in _check(item))
                out.append(Document(f"document {i}: items[{j}]", item))
        elif not bad:
            out.append(Document(f"document {i}", doc))
        problems.extend(f"{where}: {p}" for p in bad)
    if problems:
        raise BadRequest("\n".join(problems))
    return out


def load_documents(text: str, source: str = "-") -> list[Obj]:
    """The resources of :func:`load_manifest`, without where each came from."""
    return [d.obj for d in load_manifest(text, source)]
