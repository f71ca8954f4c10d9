"""The builtin functions of Go's ``text/template/funcs.go`` (Go 1.22+: ``reflect.Value`` arguments,
``slice``, short-circuit ``and``/``or`` handled by the executor), each raising
:class:`FuncError` with Go's message, which the executor wraps as ``error calling NAME: ...``.

Parameter kinds: ``value`` is Go's ``reflect.Value`` (an invalid value passes as
:data:`NO_VALUE`), ``any`` is ``interface{}`` (an invalid value passes as ``None``), ``string``
must be a string.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from zeroserve.config.gotemplate.printf import sprintf
from zeroserve.config.gotemplate.values import (
    NO_VALUE,
    Byte,
    Struct,
    Value,
    is_print,
    sprint,
    sprint_value,
    sprintln,
    truth,
    type_name,
)


class FuncError(ValueError):
    """The error a builtin returns (Go's second result)."""


@dataclass(frozen=True)
class Signature:
    fn: Callable[..., Value]
    params: tuple[str, ...]
    variadic: str | None = None


# ----------------------------------------------------------------------------- indexing


def _index_arg(index: Value, cap: int) -> int:
    if isinstance(index, int) and not isinstance(index, bool):
        if index < 0 or index > cap:
            raise FuncError(f"index out of range: {index}")
        return int(index)
    if index is NO_VALUE or index is None:
        raise FuncError("cannot index slice/array with nil")
    raise FuncError(f"cannot index slice/array with type {type_name(index)}")


def _as_key(index: Value) -> str:
    if index is NO_VALUE or index is None:
        raise FuncError("value is nil; should be of type string")
    if not isinstance(index, str):
        raise FuncError(f"value has type {type_name(index)}; should be string")
    return index


def index(item: Value, *indexes: Value) -> Value:
    if item is NO_VALUE or item is None:
        raise FuncError("index of untyped nil")
    for i in indexes:
        if isinstance(item, (str, list)):
            seq: bytes | list[Value] = item.encode() if isinstance(item, str) else item
            x = _index_arg(i, len(seq))
            if x == len(seq):
                raise FuncError(f"index out of range: {x}")
            item = Byte(seq[x]) if isinstance(seq, bytes) else seq[x]
        elif isinstance(item, dict):
            item = item.get(_as_key(i), "")
        else:
            raise FuncError(f"can't index item of type {type_name(item)}")
    return item


def slice_(item: Value, *indexes: Value) -> Value:
    if item is NO_VALUE or item is None:
        raise FuncError("slice of untyped nil")
    if len(indexes) > 3:
        raise FuncError(f"too many slice indexes: {len(indexes)}")
    if isinstance(item, str):
        if len(indexes) == 3:
            raise FuncError("cannot 3-index slice a string")
        seq: bytes | list[Value] = item.encode()
    elif isinstance(item, list):
        seq = item
    else:
        raise FuncError(f"can't slice item of type {type_name(item)}")
    idx = [0, len(seq), len(seq)]
    for n, i in enumerate(indexes):
        idx[n] = _index_arg(i, len(seq))
    if idx[0] > idx[1]:
        raise FuncError(f"invalid slice index: {idx[0]} > {idx[1]}")
    if len(indexes) == 3 and idx[1] > idx[2]:
        raise FuncError(f"invalid slice index: {idx[1]} > {idx[2]}")
    part = seq[idx[0] : idx[1]]
    return part.decode(errors="replace") if isinstance(part, bytes) else part


def length(item: Value) -> Value:
    if isinstance(item, str):
        return len(item.encode())
    if isinstance(item, (dict, list)):
        return len(item)
    if item is NO_VALUE or item is None:
        raise FuncError("reflect: call of reflect.Value.Type on zero Value")
    raise FuncError(f"len of type {type_name(item)}")


# ----------------------------------------------------------------------------- comparison

_BOOL, _INT, _UINT, _FLOAT, _STRING = "bool", "int", "uint", "float", "string"


def _kind(v: Value) -> str | None:
    if isinstance(v, bool):
        return _BOOL
    if isinstance(v, Byte):
        return _UINT
    if isinstance(v, int):
        return _INT
    if isinstance(v, float):
        return _FLOAT
    if isinstance(v, str):
        return _STRING
    return None


def eq(arg1: Value, *arg2: Value) -> Value:
    if not arg2:
        raise FuncError("missing argument for comparison")
    k1 = _kind(arg1)
    for arg in arg2:
        k2 = _kind(arg)
        if k1 != k2:
            if {k1, k2} == {_INT, _UINT}:
                same = arg1 == arg
            elif arg1 is not NO_VALUE and arg is not NO_VALUE:
                raise FuncError("incompatible types for comparison")
            else:
                same = False
        elif k1 is None:
            for v in (arg1, arg):
                if isinstance(v, (dict, list, Struct)):
                    raise FuncError(f"non-comparable type {sprint_value(v)}: {type_name(v)}")
            same = arg1 is arg
        else:
            same = arg1 == arg
        if same:
            return True
    return False


def ne(arg1: Value, arg2: Value) -> Value:
    return not eq(arg1, arg2)


def lt(arg1: Value, arg2: Value) -> Value:
    k1, k2 = _kind(arg1), _kind(arg2)
    if k1 is None or k2 is None:
        raise FuncError("invalid type for comparison")
    if k1 != k2 and {k1, k2} != {_INT, _UINT}:
        raise FuncError("incompatible types for comparison")
    if k1 == _BOOL:
        raise FuncError("invalid type for comparison")
    return arg1 < arg2  # type: ignore[operator]


def le(arg1: Value, arg2: Value) -> Value:
    return bool(lt(arg1, arg2)) or bool(eq(arg1, arg2))


def gt(arg1: Value, arg2: Value) -> Value:
    return not le(arg1, arg2)


def ge(arg1: Value, arg2: Value) -> Value:
    return not lt(arg1, arg2)


# ----------------------------------------------------------------------------- escaping


def _eval_args(args: tuple[Value, ...]) -> str:
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return sprint(list(args))


_HTML: Final = {'"': "&#34;", "'": "&#39;", "&": "&amp;", "<": "&lt;", ">": "&gt;", "\x00": "\ufffd"}
_JS: Final = {
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "<": "\\u003C",
    ">": "\\u003E",
    "&": "\\u0026",
    "=": "\\u003D",
}


def html(*args: Value) -> Value:
    return "".join(_HTML.get(c, c) for c in _eval_args(args))


def js(*args: Value) -> Value:
    out: list[str] = []
    for c in _eval_args(args):
        if c in _JS:
            out.append(_JS[c])
        elif c < " ":
            out.append(f"\\u00{ord(c):02X}")
        elif ord(c) >= 0x80 and not is_print(c):
            out.append(f"\\u{ord(c):04X}")
        else:
            out.append(c)
    return "".join(out)


def urlquery(*args: Value) -> Value:
    return urllib.parse.quote_plus(_eval_args(args), safe="")


def not_(arg: Value) -> Value:
    return not truth(arg)


BUILTINS: Final[dict[str, Signature]] = {
    "and": Signature(truth, ("value",), "value"),  # evaluated by the executor (short-circuit)
    "or": Signature(truth, ("value",), "value"),
    "call": Signature(truth, ("value",), "value"),  # evaluated by the executor (needs the callee's node)
    "html": Signature(html, (), "any"),
    "index": Signature(index, ("value",), "value"),
    "slice": Signature(slice_, ("value",), "value"),
    "js": Signature(js, (), "any"),
    "len": Signature(length, ("value",)),
    "not": Signature(not_, ("value",)),
    "print": Signature(lambda *a: sprint(list(a)), (), "any"),
    "printf": Signature(lambda f, *a: sprintf(f, list(a)), ("string",), "any"),
    "println": Signature(lambda *a: sprintln(list(a)), (), "any"),
    "urlquery": Signature(urlquery, (), "any"),
    "eq": Signature(eq, ("value",), "value"),
    "ne": Signature(ne, ("value", "value")),
    "lt": Signature(lt, ("value", "value")),
    "le": Signature(le, ("value", "value")),
    "gt": Signature(gt, ("value", "value")),
    "ge": Signature(ge, ("value", "value")),
}
