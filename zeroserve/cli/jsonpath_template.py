"""kubectl's ``-o jsonpath=TEMPLATE``: client-go's JSONPath template over an object or a List.

Text outside braces is printed as it is; inside them: a path (``{.metadata.name}``, ``{.items[*].
metadata.name}``, ``{$.kind}``), a quoted string (``{"\\n"}``, ``{'\\t'}``, escapes as Go's
``strconv.Unquote``), and ``{range PATH}...{end}``, which prints its body once per match with that
match as ``@`` (paths in the body start from it; ``$`` is still the whole object). Several matches of
one path print separated by spaces; a missing key prints nothing (kubectl's default
``--allow-missing-template-keys``). The paths themselves are :mod:`zeroserve.api.jsonpath`'s.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from zeroserve.api import jsonpath


@dataclass(frozen=True)
class _Text:
    text: str


@dataclass(frozen=True)
class _Expr:
    path: jsonpath.Path
    from_root: bool


@dataclass
class _Range:
    path: jsonpath.Path
    from_root: bool
    body: list[_Node] = field(default_factory=list)


_Node = _Text | _Expr | _Range


@dataclass(frozen=True)
class Template:
    source: str
    nodes: tuple[_Node, ...]

    def render(self, obj: Any) -> str:
        """The template's text for ``obj``; JSONPathError when a filter compares unlike values."""
        return _render(self.nodes, obj, obj)


def parse(source: str) -> Template:
    """Parse a ``-o jsonpath=`` template; JSONPathError says what is wrong with it."""
    root: list[_Node] = []
    stack: list[list[_Node]] = [root]
    pos = 0
    while pos < len(source):
        start = source.find("{", pos)
        if start < 0:
            stack[-1].append(_Text(source[pos:]))
            break
        if start > pos:
            stack[-1].append(_Text(source[pos:start]))
        end = _closing(source, start)
        inner = source[start + 1 : end].strip()
        pos = end + 1
        if inner == "end":
            if len(stack) == 1:
                raise jsonpath.JSONPathError(f"not in range, nothing to end in {source!r}")
            stack.pop()
        elif inner.startswith("range ") or inner == "range":
            node = _Range(*_path(inner[len("range") :].strip(), source))
            stack[-1].append(node)
            stack.append(node.body)
        elif inner[:1] in ("'", '"'):
            stack[-1].append(_Text(_unquote(inner, source)))
        else:
            stack[-1].append(_Expr(*_path(inner, source)))
    if len(stack) > 1:
        raise jsonpath.JSONPathError(f"unclosed range in {source!r}")
    return Template(source, tuple(root))


def _closing(source: str, start: int) -> int:
    quote = ""
    for i in range(start + 1, len(source)):
        c = source[i]
        if quote:
            if c == quote and source[i - 1] != "\\":
                quote = ""
        elif c in "'\"":
            quote = c
        elif c == "}":
            return i
    raise jsonpath.JSONPathError(f"unclosed action in {source!r}")


def _path(text: str, source: str) -> tuple[jsonpath.Path, bool]:
    if not text:
        raise jsonpath.JSONPathError(f"empty action in {source!r}")
    return jsonpath.parse(text), text.startswith("$")


def _unquote(text: str, source: str) -> str:
    if len(text) < 2 or text[-1] != text[0]:
        raise jsonpath.JSONPathError(f"unterminated string {text} in {source!r}")
    body = text[1:-1]
    if text[0] == "'":
        body = body.replace('"', '\\"')
    try:
        value = json.loads(f'"{body}"', strict=False)
    except ValueError:
        raise jsonpath.JSONPathError(f"invalid string {text} in {source!r}") from None
    return str(value)


def _render(nodes: tuple[_Node, ...] | list[_Node], root: Any, current: Any) -> str:
    out: list[str] = []
    for node in nodes:
        if isinstance(node, _Text):
            out.append(node.text)
        elif isinstance(node, _Expr):
            found = node.path.find(root if node.from_root else current)
            out.append(" ".join(jsonpath.text(v) for v in found))
        else:
            for value in node.path.find(root if node.from_root else current):
                out.append(_render(node.body, root, value))
    return "".join(out)
