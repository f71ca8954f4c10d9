"""The values a template sees and how Go prints them (``fmt.Sprint``, ``%q``, type names).

Go's templates walk Go values by reflection; ours are Python values standing for the Go types
Knative passes in:

=====================  =================================================================
Go                     Python
=====================  =================================================================
``string``             ``str``
``int`` / ``int64``    ``int`` (``bool`` is not an int here)
``uint8`` (a byte)     :class:`Byte` (``index`` of a string yields one)
``float64``            ``float``
``map[string]string``  ``dict`` (a nil map is ``{}``: Go reads both the same way)
a named map type       :class:`TypedMap` (``http.Header``: its type name and its methods)
``[]string``           ``list``
a struct               :class:`Struct` (its Go type name, its exported fields in order, its
                       methods: ``.Request.UserAgent``, ``.Request.Header.Get "X"``)
``nil`` interface      ``None``
invalid value          :data:`NO_VALUE` (a missing map key read as ``.Labels.x``)
=====================  =================================================================
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final, TypeAlias


class TemplateError(ValueError):
    """A template that does not parse or does not execute; ``str()`` is Go's message."""


class _Invalid:
    """Go's invalid ``reflect.Value``: printed ``<no value>``, false in ``if``."""

    _instance: _Invalid | None = None

    def __new__(cls) -> _Invalid:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NO_VALUE"


NO_VALUE: Final = _Invalid()


class Byte(int):
    """A ``uint8`` (what ``index`` of a string returns)."""


@dataclass(frozen=True)
class Method:
    """A method of a Go value: ``fn`` takes the arguments (``params``: their kinds, ``string`` or
    ``value``) and returns the result, or raises ``FuncError`` (Go's error result)."""

    fn: Callable[..., Value]
    params: tuple[str, ...] = ()


NO_METHODS: Final[Mapping[str, Method]] = {}


@dataclass(frozen=True)
class Struct:
    """A Go struct value: ``type_name`` as ``%T`` prints it, fields in declaration order, and the
    methods of its (pointer) type; a ``String`` method without parameters is how it prints
    (``fmt.Stringer``, as ``*url.URL``)."""

    type_name: str
    fields: Mapping[str, Value] = field(default_factory=dict)
    methods: Mapping[str, Method] = field(default_factory=lambda: NO_METHODS)


class TypedMap(dict[str, "Value"]):
    """A value of a named map type with methods (``http.Header``: ``map[string][]string`` with
    ``Get``); read as a map otherwise. Go looks a name up among the methods first."""

    def __init__(self, type_name: str, items: Mapping[str, Value], methods: Mapping[str, Method]) -> None:
        super().__init__(items)
        self.type_name = type_name
        self.methods = methods


Value: TypeAlias = "str | int | float | bool | dict[str, Value] | list[Value] | Struct | _Invalid | None"


def methods_of(v: Value) -> Mapping[str, Method]:
    """The methods Go finds on ``v`` (``MethodByName``)."""
    if isinstance(v, (Struct, TypedMap)):
        return v.methods
    return NO_METHODS


def type_name(v: Value) -> str:
    """Go's ``%T`` (and ``reflect.Type.String``) of the value."""
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, Byte):
        return "uint8"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, TypedMap):
        return v.type_name
    if isinstance(v, dict):
        return "map[string]string"
    if isinstance(v, list):
        return "[]string"
    if isinstance(v, Struct):
        return v.type_name
    return "<nil>"


def truth(v: Value) -> bool:
    """``isTrue``: the zero value of its type is false; structs are always true."""
    if v is None or v is NO_VALUE:
        return False
    if isinstance(v, Struct):
        return True
    return bool(v)


# ----------------------------------------------------------------------------- printing


def format_float(x: float) -> str:
    """Go's ``strconv.FormatFloat(x, 'g', -1, 64)`` (``%v``): the shortest digits that read back as
    ``x``, in exponent form when the exponent is below -4 or at least 6 (``1e+06``)."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    sign = "-" if math.copysign(1.0, x) < 0 else ""
    if x == 0:
        return sign + "0"
    mantissa, _, exp_text = repr(abs(x)).partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = whole + frac
    point = len(whole) + (int(exp_text) if exp_text else 0)  # value = 0.<digits> * 10**point
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    exp = point - 1
    if exp < -4 or exp >= 6:
        body = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{body}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"


def sprint_value(v: Value) -> str:
    """``fmt.Sprint`` of one value (``%v``)."""
    if v is NO_VALUE:
        return "<no value>"
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return format_float(v)
    if isinstance(v, (int, str)):
        return str(v)
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{sprint_value(v[k])}" for k in sorted(v)) + "]"
    if isinstance(v, list):
        return "[" + " ".join(sprint_value(x) for x in v) + "]"
    if isinstance(v, Struct):
        stringer = v.methods.get("String")
        if stringer is not None and not stringer.params:
            return sprint_value(stringer.fn())
        return "{" + " ".join(sprint_value(x) for x in v.fields.values()) + "}"
    return "<no value>"


def sprint(args: list[Value]) -> str:
    """``fmt.Sprint``: a space between operands when neither is a string."""
    out: list[str] = []
    for i, arg in enumerate(args):
        if i > 0 and not isinstance(arg, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(sprint_value(arg))
    return "".join(out)


def sprintln(args: list[Value]) -> str:
    return " ".join(sprint_value(a) for a in args) + "\n"


_ESCAPES: Final = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def is_print(ch: str) -> bool:
    """Go's ``strconv.IsPrint``: letters, marks, numbers, punctuation, symbols and U+0020."""
    return ch == " " or unicodedata.category(ch)[0] in "LMNPS"


def quote(s: str, quote_char: str = '"') -> str:
    """Go's ``strconv.Quote`` (``%q``)."""
    out = [quote_char]
    for ch in s:
        if ch == quote_char or ch == "\\":
            out.append("\\" + ch)
        elif ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif is_print(ch):
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append(quote_char)
    return "".join(out)


def rune_u(ch: str) -> str:
    """Go's ``%#U``: ``U+007D '}'``."""
    code = f"U+{ord(ch):04X}"
    return f"{code} '{ch}'" if is_print(ch) else code
