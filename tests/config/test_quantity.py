"""Kubernetes quantities: parsed as ParseQuantity reads them, refused when negative or absurd."""

from __future__ import annotations

from fractions import Fraction

import pytest

from zeroserve.config import quantity


@pytest.mark.parametrize(
    ("text", "value"),
    [
        pytest.param("500m", Fraction(1, 2), id="milli"),
        pytest.param("0.5", Fraction(1, 2), id="decimal"),
        pytest.param(".5", Fraction(1, 2), id="leading-dot"),
        pytest.param("1.", Fraction(1), id="trailing-dot"),
        pytest.param("64Mi", Fraction(64 * 2**20), id="binary"),
        pytest.param("1G", Fraction(10**9), id="decimal-si"),
        pytest.param("129e6", Fraction(129 * 10**6), id="exponent"),
        pytest.param("1E-3", Fraction(1, 1000), id="negative-exponent"),
        pytest.param("100n", Fraction(1, 10**7), id="nano"),
        pytest.param("+3", Fraction(3), id="plus"),
        pytest.param(2, Fraction(2), id="json-integer"),
        pytest.param(0.25, Fraction(1, 4), id="json-number"),
    ],
)
def test_parse(text: str | int | float, value: Fraction) -> None:
    assert quantity.check_non_negative(text) == value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("-1", "must be greater than or equal to 0", id="negative"),
        pytest.param(-0.5, "must be greater than or equal to 0", id="negative-number"),
        pytest.param("1e400", "must be less than or equal to 9223372036854775807m", id="absurd-exponent"),
        pytest.param("1e2147483647", "must be less than or equal to 9223372036854775807m", id="no-time-spent-on-it"),
        pytest.param(
            "10000000000000000000", "must be less than or equal to 9223372036854775807m", id="past-int64-milli"
        ),
        pytest.param(float("inf"), "must be less than or equal to 9223372036854775807m", id="inf"),
        pytest.param("lots", "quantities must match the regular expression", id="words"),
        pytest.param("", "quantities must match the regular expression", id="empty"),
        pytest.param("1Ki5", "unable to parse quantity's suffix", id="bad-suffix"),
        pytest.param(True, "quantities must match the regular expression", id="boolean"),
    ],
)
def test_refused(text: str | int | float, message: str) -> None:
    with pytest.raises(quantity.QuantityError) as info:
        quantity.check_non_negative(text)
    assert str(info.value).startswith(message)


@pytest.mark.parametrize(
    ("value", "fmt", "text"),
    [
        (Fraction(1, 20), "BinarySI", "50m"),  # not whole: DecimalSI
        (Fraction(1), "BinarySI", "1"),  # under 1024: DecimalSI
        (Fraction(3, 2), "BinarySI", "1500m"),
        (Fraction(268435456), "BinarySI", "256Mi"),
        (Fraction(1572864), "BinarySI", "1536Ki"),
        (Fraction(1500), "BinarySI", "1500"),
        (Fraction(1073741824, 5), "BinarySI", "214748364800m"),
        (Fraction(2000), "DecimalSI", "2k"),
        (Fraction(1500), "DecimalSI", "1500"),
        (Fraction(0), "DecimalSI", "0"),
        (Fraction(1, 3), "DecimalSI", "333333334n"),  # rounded up to a nano, as Kubernetes
        (Fraction(10**21), "DecimalSI", "1e21"),  # past E
        (Fraction(2000), "DecimalExponent", "2e3"),
    ],
)
def test_format_quantity_is_gos_canonical_form(value: Fraction, fmt: quantity.Format, text: str) -> None:
    assert quantity.format_quantity(value, fmt) == text


@pytest.mark.parametrize(
    ("text", "canonical"),
    [("0.5", "500m"), ("1.5Gi", "1536Mi"), ("1e3", "1e3"), ("1000m", "1"), ("1024", "1024"), ("2048Ki", "2Mi")],
)
def test_canonical_is_what_kubernetes_writes_back(text: str, canonical: str) -> None:
    assert quantity.canonical(text) == canonical


def test_canonical_refuses_what_does_not_parse() -> None:
    with pytest.raises(quantity.QuantityError):
        quantity.canonical("ten")
