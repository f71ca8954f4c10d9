"""Go's ``text/template``, the language of Knative's ``domain-template``, ``tag-template`` and
``container-name-template`` (``{{.Name}}.{{.Namespace}}.{{.Domain}}``).

Why our own: PyPI has no maintained implementation (the one package, a CGo wrapper at version
0.0.2, ships a Go runtime and is not kept up). Knative's templates are short expressions over a
struct of strings and string maps, so this package implements the language those need, faithfully
and with Go's error messages, following Go's own layout: ``lex.py`` (``parse/lex.go``),
``parse.py`` (``parse/parse.go``, ``node.go``), ``exec.py`` (``exec.go``), ``funcs.py``
(``funcs.go``), ``printf.py`` (``fmt.Sprintf``) and ``values.py`` (how Go values print).

Supported: text, actions with any spacing and trim markers, comments, fields and map keys
(``.Labels.app``), variables (``$``, ``$x :=``, ``$x =``), pipelines, parenthesized pipelines,
literals, ``if``/``else if``/``else``/``end``, ``with``, ``range`` (lists, maps in key order,
integers) with ``break``/``continue``, and every builtin function (``and or not len index slice
print printf println html js urlquery eq ne lt le gt ge call``). Not supported: ``define``,
``template`` and ``block`` (named sub-templates) and complex numbers. Methods of the data are
called as Go calls them (:class:`Method` on a :class:`Struct` or :class:`TypedMap`): the request-log
template's ``.Request.UserAgent`` and ``.Request.Header.Get "X"``.

Usage: ``Template.parse(name, text).execute(Struct(type_name, fields))``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from zeroserve.config.gotemplate.exec import ExecError, execute
from zeroserve.config.gotemplate.funcs import FuncError
from zeroserve.config.gotemplate.parse import ListNode, ParseError, parse
from zeroserve.config.gotemplate.values import NO_VALUE, Method, Struct, TemplateError, TypedMap, Value, quote


@dataclass(frozen=True)
class Template:
    name: str
    text: str
    root: ListNode

    @staticmethod
    def parse(name: str, text: str) -> Template:
        """Go's ``template.New(name).Parse(text)``; :class:`ParseError` with Go's message."""
        return _parse(name, text)

    def execute(self, data: Value) -> str:
        """Go's ``Execute``: the output, or :class:`ExecError` with Go's message."""
        return execute(self.name, self.text, self.root, data)


@lru_cache(maxsize=64)
def _parse(name: str, text: str) -> Template:
    return Template(name, text, parse(name, text))


__all__ = [
    "NO_VALUE",
    "ExecError",
    "FuncError",
    "Method",
    "ParseError",
    "Struct",
    "Template",
    "TemplateError",
    "TypedMap",
    "Value",
    "quote",
]
