"""When a zygote's next spare is forked: after the runtime is quiet, not during another cold start (pure)."""

from __future__ import annotations

import math

from zeroserve.runtime.local import SPARE_DELAY, SPARE_MAX_WAIT, spare_wait


def test_a_quiet_runtime_forks_at_once() -> None:
    assert spare_wait(now=100.0, wanted_since=99.9, last_start=-math.inf) == 0.0
    assert spare_wait(now=100.0, wanted_since=99.9, last_start=100.0 - SPARE_DELAY) == 0.0


def test_an_instance_started_just_now_anywhere_holds_the_fork_for_the_delay() -> None:
    assert math.isclose(spare_wait(now=100.0, wanted_since=99.9, last_start=99.98), SPARE_DELAY - 0.02)
    assert math.isclose(spare_wait(now=100.0, wanted_since=99.9, last_start=100.0), SPARE_DELAY)


def test_a_runtime_that_never_goes_quiet_still_forks_after_the_longest_wait() -> None:
    wanted = 100.0
    assert math.isclose(
        spare_wait(now=wanted + SPARE_MAX_WAIT - 0.05, wanted_since=wanted, last_start=wanted + SPARE_MAX_WAIT - 0.06),
        0.05,
    )
    assert spare_wait(now=wanted + SPARE_MAX_WAIT, wanted_since=wanted, last_start=wanted + SPARE_MAX_WAIT) == 0.0
