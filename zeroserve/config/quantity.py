"""Kubernetes resource quantities (``500m``, ``0.5``, ``64Mi``, ``1e3``), parsed and range-checked.

The grammar is ``k8s.io/apimachinery/pkg/api/resource`` ``ParseQuantity``: a signed decimal number
then at most one suffix, binary (``Ki`` .. ``Ei``), decimal (``n u m k M G T P E``) or a decimal
exponent (``e3``, ``E-2``); a JSON number is read as the same literal. Kubernetes refuses a
negative request or limit (``must be greater than or equal to 0``, ``ValidateNonnegativeQuantity``).
It accepts any magnitude, but the kubelet and the cgroup files take an int64 of milli-units at
most, so zeroserve refuses more (:data:`MAX_MILLI`): ``cpu: 1e400`` would otherwise reach the
runtime as a number no cgroup file holds.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Final, Literal

INT64_MAX: Final = 2**63 - 1
PATTERN: Final = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
"""The regular expression Kubernetes quotes when a quantity does not parse."""
MAX_MILLI: Final = INT64_MAX
"""The largest quantity, in milli-units (``Quantity.MilliValue`` is an int64)."""

_NUMBER = re.compile(r"^([+-]?)(\d+\.?\d*|\.\d+)(.*)$")
_EXPONENT = re.compile(r"^[eE]([+-]?\d+)$")
_BINARY: Final = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL: Final = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_MAX_DIGITS: Final = len(str(MAX_MILLI))


class QuantityError(ValueError):
    """Not a quantity, negative, or out of range; ``str()`` is Kubernetes' explanation."""


def _literal(value: str | int | float) -> str:
    if isinstance(value, bool):
        raise QuantityError(f"quantities must match the regular expression '{PATTERN}'")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise QuantityError(f"must be less than or equal to {MAX_MILLI}m")
        return repr(value)
    return str(value)


def parse(value: str | int | float) -> Fraction:
    """The exact value of a quantity (a string, or a JSON number read as its literal)."""
    text = _literal(value)
    match = _NUMBER.match(text)
    if match is None:
        raise QuantityError(f"quantities must match the regular expression '{PATTERN}'")
    sign, number, suffix = match.groups()
    if suffix in _BINARY:
        scale = Fraction(2) ** _BINARY[suffix]
    elif suffix in _DECIMAL:
        scale = Fraction(10) ** _DECIMAL[suffix]
    elif exp := _EXPONENT.match(suffix):
        power = int(exp.group(1))
        whole = len(number.split(".")[0].lstrip("0"))
        if whole + power > _MAX_DIGITS:  # too large to matter how much: no need to compute it
            raise QuantityError(f"must be less than or equal to {MAX_MILLI}m")
        scale = Fraction(10) ** max(power, -(_MAX_DIGITS + 9))  # below a nano it rounds up anyway
    else:
        raise QuantityError("unable to parse quantity's suffix")
    amount = Fraction(number) * scale
    return -amount if sign == "-" else amount


def check_non_negative(value: str | int | float) -> Fraction:
    """``parse``, then Kubernetes' rule for requests and limits and the int64 milli-unit bound."""
    amount = parse(value)
    if amount < 0:
        raise QuantityError("must be greater than or equal to 0")
    if amount * 1000 > MAX_MILLI:
        raise QuantityError(f"must be less than or equal to {MAX_MILLI}m")
    return amount


Format = Literal["BinarySI", "DecimalSI", "DecimalExponent"]
_DECIMAL_SUFFIX: Final = {power: suffix for suffix, power in _DECIMAL.items()}
_BINARY_SUFFIX: Final = ("", *_BINARY)


def format_quantity(value: Fraction, fmt: Format = "DecimalSI") -> str:
    """Go's ``Quantity.String()``: the canonical form of ``value`` (rounded up to a nano) in ``fmt``.
    BinarySI is kept for whole numbers from 1024 up (``256Mi``, ``1536Ki``), else DecimalSI is
    used: the mantissa stripped of its zeros, the exponent a multiple of 3 (``50m``, ``2k``, ``1500``)."""
    if fmt == "BinarySI" and value.denominator == 1 and abs(value) >= 1024:
        amount, power = int(value), 0
        while amount % 1024 == 0 and power < len(_BINARY):
            amount, power = amount // 1024, power + 1
        return f"{amount}{_BINARY_SUFFIX[power]}"
    amount, exponent = math.ceil(value * 10**9), -9
    if amount == 0:
        return "0"
    while amount % 10 == 0:
        amount, exponent = amount // 10, exponent + 1
    shift = exponent % 3
    amount, exponent = amount * 10**shift, exponent - shift
    if fmt == "DecimalExponent" or exponent not in _DECIMAL_SUFFIX:
        return f"{amount}e{exponent}" if exponent else str(amount)
    return f"{amount}{_DECIMAL_SUFFIX[exponent]}"


def canonical(value: str | int | float) -> str:
    """A quantity as Kubernetes writes it back (``ParseQuantity`` then ``String()``): ``0.5`` is
    ``500m``, ``1.5Gi`` is ``1536Mi``, ``1e3`` stays ``1e3``; QuantityError when it does not parse."""
    amount = parse(value)
    suffix = _NUMBER.match(_literal(value)).group(3)  # type: ignore[union-attr]  # parse matched it
    fmt: Format = "BinarySI" if suffix in _BINARY else "DecimalExponent" if _EXPONENT.match(suffix) else "DecimalSI"
    return format_quantity(amount, fmt)
