"""Go's ``fmt.Sprintf`` for the template's ``printf``: flags ``+-# 0``, width, precision (``*`` too),
the verbs ``v s q d b o x X c U t e E f F g G T %``, and Go's complaints written into the output
(``%!d(string=x)``, ``%!s(MISSING)``, ``%!(EXTRA int=1)``, ``%!(NOVERB)``) rather than raised.
Explicit argument indexes (``%[1]s``) are not supported: they print ``%!`` forms.
"""

from __future__ import annotations

from dataclasses import dataclass

from zeroserve.config.gotemplate.values import (
    NO_VALUE,
    Byte,
    Struct,
    Value,
    format_float,
    quote,
    sprint_value,
    type_name,
)


@dataclass
class _Spec:
    minus: bool = False
    plus: bool = False
    sharp: bool = False
    space: bool = False
    zero: bool = False
    width: int | None = None
    prec: int | None = None


def sprintf(fmt: str, args: list[Value]) -> str:
    out: list[str] = []
    argi = 0
    i, n = 0, len(fmt)
    while i < n:
        pct = fmt.find("%", i)
        if pct < 0:
            out.append(fmt[i:])
            break
        out.append(fmt[i:pct])
        i = pct + 1
        spec = _Spec()
        while i < n and fmt[i] in "#0+- ":
            c = fmt[i]
            spec.sharp |= c == "#"
            spec.zero |= c == "0" and not spec.minus
            spec.plus |= c == "+"
            spec.minus |= c == "-"
            spec.space |= c == " "
            spec.zero &= not spec.minus
            i += 1
        spec.width, i, argi = _number(fmt, i, args, argi, out, "WID")
        if spec.width is not None and spec.width < 0:
            spec.minus, spec.width = True, -spec.width
        if i < n and fmt[i] == ".":
            spec.prec, i, argi = _number(fmt, i + 1, args, argi, out, "PREC")
            spec.prec = 0 if spec.prec is None or spec.prec < 0 else spec.prec
        if i >= n:
            out.append("%!(NOVERB)")
            break
        verb = fmt[i]
        i += 1
        if verb == "%":
            out.append("%")
        elif argi >= len(args):
            out.append(f"%!{verb}(MISSING)")
        else:
            out.append(_pad(format_arg(args[argi], verb, spec), spec, args[argi], verb))
            argi += 1
    if argi < len(args):
        extra = ", ".join("<nil>" if a is None else f"{type_name(a)}={sprint_value(a)}" for a in args[argi:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def _number(fmt: str, i: int, args: list[Value], argi: int, out: list[str], what: str) -> tuple[int | None, int, int]:
    if i < len(fmt) and fmt[i] == "*":
        arg = args[argi] if argi < len(args) else NO_VALUE
        if isinstance(arg, int) and not isinstance(arg, bool):
            return arg, i + 1, argi + 1
        out.append(f"%!(BAD{'WIDTH' if what == 'WID' else 'PREC'})")
        return None, i + 1, argi + (argi < len(args))
    j = i
    while j < len(fmt) and fmt[j].isdigit() and fmt[j].isascii():
        j += 1
    return (int(fmt[i:j]) if j > i else None), j, argi


def _bad(verb: str, arg: Value) -> str:
    if arg is None or arg is NO_VALUE:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({type_name(arg)}={sprint_value(arg)})"


def format_arg(arg: Value, verb: str, spec: _Spec) -> str:
    """One argument under one verb (before width padding)."""
    if verb == "T":
        return type_name(arg) if arg is not None and arg is not NO_VALUE else "<nil>"
    if arg is None or arg is NO_VALUE:
        return "<nil>" if verb == "v" else _bad(verb, arg)
    if isinstance(arg, bool):
        return ("true" if arg else "false") if verb in "tv" else _bad(verb, arg)
    if isinstance(arg, int):
        return _int(arg, verb, spec)
    if isinstance(arg, float):
        return _float(arg, verb, spec)
    if isinstance(arg, str):
        return _str(arg, verb, spec)
    if isinstance(arg, dict):
        return "map[" + " ".join(f"{k}:{format_arg(arg[k], verb, spec)}" for k in sorted(arg)) + "]"
    if isinstance(arg, list):
        return "[" + " ".join(format_arg(x, verb, spec) for x in arg) + "]"
    if isinstance(arg, Struct):
        stringer = arg.methods.get("String")
        if stringer is not None and not stringer.params and verb in "vsqxX":  # fmt's handleMethods
            return format_arg(stringer.fn(), verb, spec)
        return "{" + " ".join(format_arg(x, verb, spec) for x in arg.fields.values()) + "}"
    return _bad(verb, arg)


def _sign(negative: bool, spec: _Spec) -> str:
    return "-" if negative else "+" if spec.plus else " " if spec.space else ""


def _int(x: int, verb: str, spec: _Spec) -> str:
    bases = {"d": "d", "v": "d", "b": "b", "o": "o", "O": "o", "x": "x", "X": "X"}
    if verb in bases:
        digits = format(abs(x), bases[verb])
        if spec.prec is not None:
            digits = "" if spec.prec == 0 and x == 0 else digits.zfill(spec.prec)
        prefix = "0o" if verb == "O" else ""
        if spec.sharp:
            prefix = {"b": "0b", "o": "0", "x": "0x", "X": "0X"}.get(verb, prefix)
        return _sign(x < 0, spec) + prefix + digits
    if verb == "c":
        return chr(x) if 0 <= x <= 0x10FFFF else "\ufffd"
    if verb == "q":
        return quote(chr(x) if 0 <= x <= 0x10FFFF else "\ufffd", "'")
    if verb == "U":
        return f"U+{x:04X}"
    if verb in "eEfFgG" and isinstance(x, Byte):
        return _bad(verb, x)
    return _bad(verb, x)


def _float(x: float, verb: str, spec: _Spec) -> str:
    if verb in "vgG" and spec.prec is None:
        text = format_float(x)
        text = text.upper() if verb == "G" else text
    elif verb in "eEfFgG":
        prec = 6 if spec.prec is None else spec.prec
        text = format(abs(x), f".{prec}{verb}").replace("inf", "Inf").replace("nan", "NaN")
        text = ("-" if x < 0 else "") + text
    else:
        return _bad(verb, x)
    if text[0] != "-" and text not in ("NaN",):
        text = _sign(False, spec) + text
    return text


def _str(s: str, verb: str, spec: _Spec) -> str:
    if spec.prec is not None and verb in "sqv":
        s = s[: spec.prec]
    if verb in "sv":
        return s
    if verb == "q":
        return "`" + s + "`" if spec.sharp and "`" not in s and all(c >= " " for c in s) else quote(s)
    if verb in "xX":
        data = s.encode("utf-8", "surrogatepass")
        if spec.prec is not None:
            data = data[: spec.prec]
        text = data.hex(" ") if spec.space else data.hex()
        return text.upper() if verb == "X" else text
    return _bad(verb, s)


def _pad(text: str, spec: _Spec, arg: Value, verb: str) -> str:
    if spec.width is None or len(text) >= spec.width:
        return text
    fill = spec.width - len(text)
    if spec.minus:
        return text + " " * fill
    numeric = isinstance(arg, (int, float)) and not isinstance(arg, bool) and verb not in "cqUT"
    if spec.zero and (not numeric or spec.prec is None or isinstance(arg, float)):
        sign = text[0] if numeric and text[:1] in "+- " else ""
        return sign + "0" * fill + text[len(sign) :]
    return " " * fill + text
