"""What may travel on the wire: JSON decoding as Kubernetes does it, and plain-JSON checks with paths."""

from __future__ import annotations

from typing import Any

import pytest

from zeroserve.api import wire
from zeroserve.errors import BadRequest, FieldError


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def test_errors_name_every_problem_with_its_path() -> None:
    value = {"a": ["\udc80", float("nan"), b"x", {1: 2}, {"\ud800": 1}], "b": {"c\r": {"d": float("inf")}}}
    assert wire.errors(value) == [
        FieldError("not valid UTF-8 (lone surrogate \\udc80)", ("a[0]",)),
        FieldError("not a finite number (nan)", ("a[1]",)),
        FieldError("unsupported YAML type !!binary", ("a[2]",)),
        FieldError("unsupported map key 1", ("a[3]",)),
        FieldError("not valid UTF-8 (lone surrogate \\ud800) in a key", ("a[4]",)),
        FieldError("not a finite number (inf)", ("b.c\\r.d",)),
    ]


def test_depth_is_bounded_and_walking_is_iterative() -> None:
    assert wire.errors({"x": _nested(98)}) == []
    (err,) = wire.errors({"x": _nested(100_000)})
    assert err.message == "exceeded max depth of 100" and err.paths[0].startswith("x[0][0]")


def test_plain_json_passes() -> None:
    assert wire.errors({"a": [1, 2.5, True, None, "é ☕", {"b": []}]}) == []


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param(b"[" * 990 + b"]" * 990, "the request body exceeded max depth of 100", id="deep"),
        pytest.param(b"NaN", "the request body is not valid JSON: NaN is not a JSON value", id="nan"),
        pytest.param(b"-Infinity", "the request body is not valid JSON: -Infinity is not a JSON value", id="inf"),
        pytest.param(b"[1e400]", "the request body is not valid JSON: the number 1e400 is out of range", id="overflow"),
        pytest.param(
            b"9" * 101, "the request body is not valid JSON: an integer of 101 digits is out of range", id="int"
        ),
        pytest.param(
            b"\xff", "the request body is not valid JSON: 'utf-8' codec can't decode byte 0xff", id="not-utf8"
        ),
        pytest.param(b"{", "the request body is not valid JSON: Expecting property name", id="syntax"),
    ],
)
def test_loads_refuses(raw: bytes, message: str) -> None:
    with pytest.raises(BadRequest) as info:
        wire.loads(raw)
    assert info.value.message.startswith(message)


def test_loads_keeps_what_admission_reports_with_a_path() -> None:
    assert wire.loads(b'{"a": "\\udc80", "b": 9223372036854775808}') == {"a": "\udc80", "b": 2**63}


def test_shown_and_escaped() -> None:
    assert wire.shown("abc") == "abc"
    assert wire.shown("a\x00b") == '"a\\u0000b"'
    assert wire.shown("") == '""'
    assert wire.shown("x" * 100).endswith('..."') is False and wire.shown("x" * 100).endswith("...")
    assert wire.escaped("a\x1b[31m") == "a\\u001b[31m"
