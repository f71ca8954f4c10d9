"""``Timeouts`` of a request held before it is sent (a breaker, the activator): they count from when
it arrived, as Knative's timeout handler wraps the breaker (``pkg/queue/sharedmain/handlers.go``)
and the throttler (``cmd/activator/main.go``)."""

from __future__ import annotations

import dataclasses

import pytest

from zeroserve.net.proxy import Timeouts


def test_anchored_is_replace_of_since_and_keeps_the_first_anchor() -> None:
    base = Timeouts(connect=1.0, response_start=2.0, idle=3.0, total=300.0, message="request timeout")
    held = base.anchored(100.0)
    assert held == dataclasses.replace(base, since=100.0)
    assert held.anchored(105.0) is held  # the clock that started first counts


@pytest.mark.parametrize(
    ("timeouts", "first"),
    [
        pytest.param(Timeouts(), None, id="none"),
        pytest.param(Timeouts(total=300.0), 300.0, id="total"),
        pytest.param(Timeouts(response_start=1.0, total=300.0), 1.0, id="response-start"),
        pytest.param(Timeouts(response_start=5.0, idle=2.0, total=300.0), 2.0, id="idle"),
    ],
)
def test_a_held_request_times_out_at_the_soonest_limit(timeouts: Timeouts, first: float | None) -> None:
    assert timeouts.first == first
    assert timeouts.held_until is None  # not anchored
    assert timeouts.anchored(10.0).held_until == (None if first is None else 10.0 + first)
