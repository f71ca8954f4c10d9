"""Scrape sample size and extrapolation (sample_size_test.go, stats_scraper_test.go); the Stat wire type."""

from __future__ import annotations

import pytest

from zeroserve.autoscaler.metrics import Stat, StatMessage
from zeroserve.autoscaler.sample import (
    SAMPLE_SIZE,
    SCRAPER_POD_NAME,
    average_stats,
    extrapolate,
    population_mean_sample_size,
)


@pytest.mark.parametrize(
    ("population", "want"),
    [
        pytest.param(0, 0, id="0"),
        pytest.param(-1, 0, id="negative"),
        pytest.param(1, 1, id="1"),
        pytest.param(2, 2, id="2"),
        pytest.param(3, 3, id="3"),
        pytest.param(4, 4, id="4"),
        pytest.param(5, 4, id="5"),
        pytest.param(10, 7, id="10"),
        pytest.param(100, 14, id="100"),
        pytest.param(1000, 16, id="1000"),
    ],
)
def test_population_mean_sample_size(population: float, want: float) -> None:
    assert population_mean_sample_size(population) == want


def test_sample_size_constant() -> None:
    assert pytest.approx(15.3664) == SAMPLE_SIZE


def _stat(conc: float, proxied: float = 0.0, rps: float = 0.0, proxied_rps: float = 0.0) -> Stat:
    return Stat("pod", conc, proxied, rps, proxied_rps, process_uptime=42.0, timestamp=7)


def test_extrapolate_all_pods_sampled() -> None:
    got = extrapolate([_stat(1, 0.5, 2, 1), _stat(2, 0.5, 4, 1), _stat(3, 1, 6, 2)], 3)
    assert got == Stat(SCRAPER_POD_NAME, 6.0, 2.0, 12.0, 4.0)


def test_extrapolate_sample_of_ten() -> None:
    # 10 ready pods -> 7 sampled, each at concurrency 2: revision total 2 * 7 / 7 * 10 = 20
    stats = [_stat(2, 0, 3) for _ in range(7)]
    got = extrapolate(stats, 10)
    assert got.average_concurrent_requests == pytest.approx(20.0)
    assert got.request_count == pytest.approx(30.0)
    assert (got.process_uptime, got.timestamp) == (0.0, 0)


def test_average_stats_divides_then_multiplies() -> None:
    got = average_stats([_stat(1.0), _stat(2.0)], 3.0, 7.0)
    assert got.average_concurrent_requests == 3.0 / 3.0 * 7.0


def test_extrapolate_needs_population() -> None:
    with pytest.raises(ValueError):
        extrapolate([], 0)


def test_stat_load_excludes_proxied() -> None:
    s = _stat(5, 2, 10, 4)
    assert (s.concurrency, s.rps) == (3, 6)


def test_stat_wire_round_trip() -> None:
    s = Stat("p-1", 1.5, 0.5, 3.0, 1.0, 12.25, 1_700_000_000)
    wire = s.to_wire()
    assert wire["averageConcurrentRequests"] == 1.5
    assert Stat.from_wire(dict(wire)) == s
    msg = StatMessage("default", "hello-00001", s)
    assert StatMessage.from_wire(dict(msg.to_wire())) == msg


def test_stat_from_wire_defaults_and_string_timestamp() -> None:
    assert Stat.from_wire({"timestamp": "12"}) == Stat(timestamp=12)
    assert Stat.from_wire({}) == Stat()


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"requestCount": "1"}, id="string-number"),
        pytest.param({"requestCount": True}, id="bool"),
        pytest.param({"requestCount": float("nan")}, id="nan"),
        pytest.param({"podName": 3}, id="pod-name"),
        pytest.param({"timestamp": 1.5}, id="float-timestamp"),
    ],
)
def test_stat_from_wire_rejects(data: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Stat.from_wire(data)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"namespace": "", "name": "x", "stat": {}}, id="empty-namespace"),
        pytest.param({"namespace": "a", "name": "x"}, id="no-stat"),
    ],
)
def test_stat_message_from_wire_rejects(data: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        StatMessage.from_wire(data)
