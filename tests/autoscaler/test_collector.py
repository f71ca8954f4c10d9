"""The metric collector, with the scenarios of Knative's pkg/autoscaler/metrics/collector_test.go."""

from __future__ import annotations

import pytest

from zeroserve.api import annotations as ann
from zeroserve.autoscaler.aggregation import WeightedBuckets
from zeroserve.autoscaler.collector import (
    Collection,
    Collector,
    DeciderKey,
    MetricSpec,
    NotCollecting,
    default_metric_spec,
    metric_spec,
)
from zeroserve.autoscaler.metrics import Stat
from zeroserve.autoscaler.scaling import NoData
from zeroserve.config import AutoscalerConfig

KEY = DeciderKey("test-namespace", "test-revision")
NOW = 1_700_000_000.0
SPEC = MetricSpec(stable_window=60.0, panic_window=6.0)


def stat(conc: float = 0.0, rps: float = 0.0, proxied_conc: float = 0.0, proxied_rps: float = 0.0) -> Stat:
    return Stat(
        pod_name="pod",
        average_concurrent_requests=conc,
        average_proxied_concurrent_requests=proxied_conc,
        request_count=rps,
        proxied_request_count=proxied_rps,
    )


def test_unknown_revision_is_not_collecting() -> None:
    c = Collector()
    with pytest.raises(NotCollecting):
        c.stable_and_panic_concurrency(KEY, NOW)
    with pytest.raises(NotCollecting):
        c.stable_and_panic_rps(KEY, NOW)
    assert c.record(KEY, NOW, stat(5)) is False


def test_no_data_error_when_scraped_and_empty() -> None:
    c = Collector()
    c.create_or_update(KEY, SPEC)
    with pytest.raises(NoData):
        c.stable_and_panic_concurrency(KEY, NOW)
    with pytest.raises(NoData):
        c.stable_and_panic_rps(KEY, NOW)


def test_no_scrape_target_empty_is_zero_then_records() -> None:
    c = Collector()
    c.create_or_update(KEY, MetricSpec(60.0, 6.0, scraped=False))
    assert c.stable_and_panic_concurrency(KEY, NOW) == (0.0, 0.0)
    assert c.stable_and_panic_rps(KEY, NOW) == (0.0, 0.0)
    c.record(KEY, NOW, stat(conc=10.0, rps=30.0))
    assert c.stable_and_panic_concurrency(KEY, NOW) == (10.0, 10.0)
    assert c.stable_and_panic_rps(KEY, NOW) == (30.0, 30.0)


def test_record_drops_outdated_and_subtracts_proxied() -> None:
    c = Collector()
    c.create_or_update(KEY, SPEC)
    c.record(KEY, NOW - 70, stat(conc=100, rps=100))
    c.record(KEY, NOW, stat(conc=20, proxied_conc=10, rps=30, proxied_rps=20))
    stable, panic = c.stable_and_panic_concurrency(KEY, NOW)
    assert stable == pytest.approx(10.0, abs=1e-3) and panic == pytest.approx(10.0, abs=1e-3)
    stable, panic = c.stable_and_panic_rps(KEY, NOW)
    assert stable == pytest.approx(10.0, abs=1e-3) and panic == pytest.approx(10.0, abs=1e-3)


def test_records_in_one_second_add_up() -> None:
    """Three scrapes in the same bucket (Knative's fake clock that does not move): 3 x 10."""
    c = Collector()
    c.create_or_update(KEY, SPEC)
    for _ in range(3):
        c.record(KEY, NOW + 0.1, stat(conc=10, rps=20))
    assert c.stable_and_panic_concurrency(KEY, NOW + 0.5) == (30.0, 30.0)
    assert c.stable_and_panic_rps(KEY, NOW + 0.5) == (60.0, 60.0)


def test_moving_time_averages_over_seconds_written() -> None:
    """Scraper + activator each second: the buckets hold sums, the window averages them."""
    c = Collector()
    c.create_or_update(KEY, SPEC)
    for s in range(10):
        c.record(KEY, NOW + s, stat(conc=10))  # scraper
        if s >= 5:
            c.record(KEY, NOW + s, stat(conc=4))  # activator, last five seconds
    stable, panic = c.stable_and_panic_concurrency(KEY, NOW + 9)
    assert stable == (10 * 10 + 5 * 4) / 10
    assert panic == pytest.approx((6 * 10 + 5 * 4) / 6, abs=1e-6)


def test_window_expiry_gives_no_data() -> None:
    c = Collector()
    c.create_or_update(KEY, SPEC)
    c.record(KEY, NOW, stat(conc=10))
    assert c.stable_and_panic_concurrency(KEY, NOW + 60)[0] == 0.0  # trailing silence, still in window
    with pytest.raises(NoData):
        c.stable_and_panic_concurrency(KEY, NOW + 61)


def test_update_resizes_and_keeps_data() -> None:
    c = Collector()
    first = c.create_or_update(KEY, SPEC)
    c.record(KEY, NOW, stat(conc=10))
    again = c.create_or_update(KEY, MetricSpec(30.0, 3.0))
    assert again is first
    assert len(first.concurrency) == 30 and len(first.concurrency_panic) == 3
    # Knative's ResizeWindow treats the resized window as full: the kept value over all buckets.
    assert c.stable_and_panic_concurrency(KEY, NOW) == (round(10 / 30, 6), round(10 / 3, 6))


def test_algorithm_change_starts_over() -> None:
    c = Collector()
    c.create_or_update(KEY, SPEC)
    c.record(KEY, NOW, stat(conc=10))
    collection = c.create_or_update(KEY, MetricSpec(60.0, 6.0, aggregation="weighted-exponential"))
    assert isinstance(collection.concurrency, WeightedBuckets)
    with pytest.raises(NoData):
        c.stable_and_panic_concurrency(KEY, NOW)


def test_delete_forgets() -> None:
    c = Collector()
    c.create_or_update(KEY, SPEC)
    c.delete(KEY)
    assert c.get(KEY) is None and c.watched() == []


@pytest.mark.parametrize(
    ("annotations", "want"),
    [
        pytest.param({}, MetricSpec(60.0, 6.0, "linear"), id="defaults"),
        pytest.param({ann.WINDOW: "6s"}, MetricSpec(6.0, 1.0, "linear"), id="short-window-panic-clamped"),
        pytest.param(
            {ann.WINDOW: "60s", ann.PANIC_WINDOW_PERCENTAGE: "51"}, MetricSpec(60.0, 31.0, "linear"), id="51pct"
        ),
        pytest.param(
            {ann.METRIC_AGGREGATION_ALGORITHM: "weightedExponential"},
            MetricSpec(60.0, 6.0, "weighted-exponential"),
            id="weighted",
        ),
    ],
)
def test_metric_spec_from_annotations(annotations: dict[str, str], want: MetricSpec) -> None:
    assert metric_spec(annotations, AutoscalerConfig()) == want


@pytest.mark.parametrize(("stable", "panic"), [(60.0, 6.0), (6.0, 1.0), (25.0, 3.0), (15.0, 2.0), (5.0, 1.0)])
def test_default_metric_spec_panic_window(stable: float, panic: float) -> None:
    assert default_metric_spec(stable).panic_window == panic


def test_collection_is_a_metric_client_for_rps() -> None:
    col = Collection(SPEC)
    col.record(NOW, stat(rps=50, proxied_rps=10))
    assert col.stable_and_panic_rps(NOW) == (40.0, 40.0)
