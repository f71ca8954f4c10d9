"""Hypothesis fuzzes a real gateway with raw bytes (see tests/gateway/fuzzing.py for what is checked)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given

from tests.fuzz.strategies import fuzz_settings
from tests.gateway.fuzzing import FuzzBench, connections, problems


@pytest.fixture(scope="module")
def bench() -> Iterator[FuzzBench]:
    with FuzzBench().running() as running:
        yield running


@fuzz_settings(examples=150)
@given(connection=connections())
def test_raw_bytes_get_answers_never_a_hang_a_500_or_a_traceback(
    bench: FuzzBench, connection: tuple[bytes, list[int]]
) -> None:
    data, sizes = connection
    outcome = bench.send(data, sizes)
    errors, bench.errors.seen = bench.errors.seen, []
    assert not problems(outcome), (problems(outcome), data, outcome.raw[:500])
    assert not errors, errors
