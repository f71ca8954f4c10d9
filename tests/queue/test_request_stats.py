"""RequestStats scenarios ported from Knative networking's pkg/http/stats/request_test.go."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from zeroserve.queue.stats import RequestStats

Event = tuple[str, int]
"""("in" | "out" | "in_p" | "out_p" | "report", milliseconds since the start)."""

Want = tuple[float, float, float, float]
"""(average concurrency, average proxied concurrency, requests/s, proxied requests/s)."""


SCENARIOS = [
    pytest.param([("report", 1000)], [(0, 0, 0, 0)], id="no requests"),
    pytest.param([("in", 0), ("out", 1000), ("report", 1000)], [(1, 0, 1, 0)], id="1 request, entire time"),
    pytest.param([("in", 0), ("out", 3000), ("report", 6000)], [(0.5, 0, 1, 0)], id="1 request, half the time"),
    pytest.param([("in", 0), ("out", 1), ("report", 1000)], [(1 / 1000, 0, 1, 0)], id="very short request"),
    pytest.param(
        [("in", 0), ("out", 300), ("in", 300), ("out", 600), ("in", 600), ("out", 1000), ("report", 1000)],
        [(1, 0, 3, 0)],
        id="3 requests, fill entire time",
    ),
    pytest.param(
        [("in", 0), ("in", 100), ("out", 600), ("out", 1000), ("report", 1000)],
        [(1.5, 0, 2, 0)],
        id="interleaved requests",
    ),
    pytest.param(
        [("in", 0), ("report", 1000), ("out", 1500), ("report", 2000)],
        [(1, 0, 1, 0), (0.5, 0, 0, 0)],
        id="request across reporting",
    ),
    pytest.param(
        [("in", 0), ("report", 1000), ("report", 2000), ("report", 3000), ("out", 3500), ("report", 4000)],
        [(1, 0, 1, 0), (1, 0, 0, 0), (1, 0, 0, 0), (0.5, 0, 0, 0)],
        id="request across multiple reportings",
    ),
    pytest.param(
        [("in_p", 0), ("out_p", 1000), ("report", 1000)], [(1, 1, 1, 1)], id="1 request, proxied, entire time"
    ),
    pytest.param(
        [("in_p", 0), ("out_p", 500), ("report", 1000)], [(0.5, 0.5, 1, 1)], id="1 request, proxied, half the time"
    ),
    pytest.param(
        [("in_p", 0), ("in", 0), ("out_p", 500), ("out", 1000), ("report", 1000)],
        [(1.5, 0.5, 2, 1)],
        id="2 requests, proxied and non proxied",
    ),
    pytest.param(
        [("in", 500), ("in", 499), ("out", 1000), ("out", 999), ("report", 1000)],
        [(1, 0, 2, 0)],
        id="ignore 'negative' requests",
    ),
]


@pytest.mark.parametrize(("events", "want"), SCENARIOS)
def test_request_stats(events: list[Event], want: list[Want]) -> None:
    stats = RequestStats(0.0)
    handlers: dict[str, Callable[[float], None]] = {
        "in": lambda t: stats.req_in(t, False),
        "out": lambda t: stats.req_out(t, False),
        "in_p": lambda t: stats.req_in(t, True),
        "out_p": lambda t: stats.req_out(t, True),
    }
    reports: list[Want] = []
    for kind, ms in events:
        if kind == "report":
            stat = stats.report(ms / 1000)
            reports.append(
                (
                    stat.average_concurrent_requests,
                    stat.average_proxied_concurrent_requests,
                    stat.request_count,
                    stat.proxied_request_count,
                )
            )
        else:
            handlers[kind](ms / 1000)
    assert reports == [pytest.approx(w) for w in want]


def test_report_names_the_pod_and_its_uptime() -> None:
    stats = RequestStats(100.0, pod_name="hello-00001-abc")
    stat = stats.report(102.5)
    assert stat.pod_name == "hello-00001-abc"
    assert stat.process_uptime == pytest.approx(2.5)
    assert stat.timestamp == 0  # pure: the server stamps wall time


def test_counts_are_per_second_of_the_report_period() -> None:
    stats = RequestStats(0.0, report_period=2.0)
    for _ in range(4):
        stats.req_in(0.5, False)
        stats.req_out(0.5, False)
    assert stats.report(2.0).request_count == 2.0
