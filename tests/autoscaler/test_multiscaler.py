"""The multiscaler, with the scenarios of Knative's pkg/autoscaler/scaling/multiscaler_test.go.

Ticks are driven explicitly with a FakeClock; the one test of the loop waits on on_change.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace

import pytest
from prometheus_client import CollectorRegistry

from zeroserve.autoscaler.collector import Collector, DeciderKey, MetricSpec
from zeroserve.autoscaler.explain import explain_document
from zeroserve.autoscaler.history import History
from zeroserve.autoscaler.hpa import HpaSpec
from zeroserve.autoscaler.metrics import Stat, StatMessage
from zeroserve.autoscaler.multiscaler import NO_USAGE_SOURCE, Multiscaler
from zeroserve.autoscaler.scaling import NO_DATA, DeciderSpec
from zeroserve.autoscaler.scraper import Scraper
from zeroserve.clock import FakeClock

KEY = DeciderKey("ns", "rev-00001")
SPEC = DeciderSpec(
    target_value=1.0,
    total_value=1.0,
    target_burst_capacity=0.0,
    panic_threshold=2.0,
    max_scale_up_rate=10.0,
    max_scale_down_rate=2.0,
    stable_window=60.0,
    reachable=True,
    scaling_metric="concurrency",
    initial_scale=1,
)


@dataclass(frozen=True)
class Ep:
    host: str
    admin_port: int | None


class Endpoints:
    def __init__(self) -> None:
        self.ready: dict[DeciderKey, list[Ep]] = {}

    def set(self, key: DeciderKey, n: int) -> None:
        self.ready[key] = [Ep(f"10.0.0.{i}", 9000 + i) for i in range(n)]

    def endpoints(self, namespace: str, revision: str) -> list[Ep]:
        return self.ready.get(DeciderKey(namespace, revision), [])


class Stats:
    """A StatsClient answering every instance with the same stat."""

    def __init__(self, stat: Stat) -> None:
        self.stat = stat
        self.calls = 0

    async def fetch(self, host: str, port: int) -> Stat:
        self.calls += 1
        return self.stat


class Harness:
    def __init__(self, *, stats: Stats | None = None, registry: CollectorRegistry | None = None) -> None:
        self.clock = FakeClock(start=1_000_000.0)
        self.endpoints = Endpoints()
        self.changes: list[DeciderKey] = []
        scraper = Scraper(self.endpoints, stats) if stats is not None else None
        self.ms = Multiscaler(
            Collector(), self.endpoints, self.clock, self.changes.append, scraper=scraper, registry=registry
        )


def activator(conc: float, key: DeciderKey = KEY) -> StatMessage:
    """The activator's report: its load is its own, not marked proxied."""
    return StatMessage(key.namespace, key.revision, Stat("activator", conc, 0.0, conc, 0.0))


@pytest.mark.parametrize(
    ("tbc", "initial", "total", "want_ebc"),
    [
        pytest.param(0.0, 1, 1.0, 0, id="tbc-0"),
        pytest.param(-1.0, 1, 1.0, -1, id="tbc-minus-1"),
        pytest.param(211.0, 1, 100.0, -111, id="default-211"),
        pytest.param(10.0, 3, 5.0, 5, id="initial-3"),
        pytest.param(10.5, 1, 5.0, -5, id="truncated-toward-zero"),
    ],
)
def test_watch_creates_decider_at_minus_one(tbc: float, initial: int, total: float, want_ebc: int) -> None:
    h = Harness()
    spec = replace(SPEC, target_burst_capacity=tbc, initial_scale=initial, total_value=total)
    d = h.ms.watch(KEY, spec)
    assert (d.desired_scale, d.excess_burst_capacity) == (-1, want_ebc)
    assert h.ms.get(KEY) == d
    assert h.ms.get(DeciderKey("ns", "other")) is None


def test_tick_without_data_is_invalid_and_changes_nothing() -> None:
    h = Harness()
    h.ms.watch(KEY, SPEC)
    result = h.ms.tick(KEY)
    assert result is not None and not result.scale_valid
    assert h.ms.get(KEY).desired_scale == -1  # type: ignore[union-attr]
    assert h.changes == []
    [record] = h.ms.explain(KEY)
    assert not record.valid and record.reasons == (NO_DATA,)


def test_tick_with_data_decides_and_informs_once() -> None:
    h = Harness()
    h.endpoints.set(KEY, 1)
    h.ms.watch(KEY, SPEC)
    h.ms.record(activator(5.0))  # desired is -1: recorded, no poke
    assert h.changes == []
    h.ms.tick(KEY)
    assert h.ms.get(KEY).desired_scale == 5  # type: ignore[union-attr]
    assert h.changes == [KEY]
    h.ms.tick(KEY)  # same decision: no new notification
    assert h.changes == [KEY]


def test_poke_ticks_at_once_when_at_zero() -> None:
    h = Harness()
    h.ms.watch(KEY, SPEC, MetricSpec(60.0, 6.0, scraped=False))
    h.ms.tick(KEY)  # no scrape target: empty window is 0 -> desired 0
    assert h.ms.get(KEY).desired_scale == 0  # type: ignore[union-attr]
    assert h.changes == [KEY]
    h.ms.record(activator(0.0))  # no load: no poke
    assert len(h.ms.explain(KEY)) == 1
    h.clock.step(0.5)
    h.ms.record(activator(1.0))
    assert h.ms.get(KEY).desired_scale == 1  # type: ignore[union-attr]
    assert h.changes == [KEY, KEY]
    assert len(h.ms.explain(KEY)) == 2


def test_poke_ticks_at_once_for_a_revision_never_started() -> None:
    """initial-scale 0: the decider has decided nothing yet (-1) and no instance is ready. The
    activator's first stat decides at once (Knative waits for the next 2 s tick: issue 19)."""
    h = Harness()
    h.ms.watch(KEY, SPEC)
    h.ms.tick(KEY)  # no data yet: invalid, still -1
    assert h.ms.get(KEY).desired_scale == -1  # type: ignore[union-attr]
    h.clock.step(0.5)
    h.ms.record(activator(1.0))  # no tick called: the poke decided
    assert h.ms.get(KEY).desired_scale == 1  # type: ignore[union-attr]
    assert h.changes == [KEY]
    assert [r.valid for r in h.ms.explain(KEY)] == [False, True]


def test_a_decider_without_data_rests_until_a_stat_comes() -> None:
    """Idle cost (issue 19): after a tick found no data, tick_all decides nothing for the revision
    (no tick record) but keeps its plot going; a recorded stat wakes it, and the next round decides."""
    h = Harness()
    history = History()
    h.ms = Multiscaler(Collector(), h.endpoints, h.clock, h.changes.append, history=history)
    other = DeciderKey("ns", "busy-00001")
    h.ms.watch(KEY, SPEC)
    h.ms.watch(other, SPEC)
    h.ms.tick_all()  # both: no data
    for _ in range(3):
        h.clock.step(2.0)
        h.ms.record(StatMessage(other.namespace, other.revision, Stat("pod", 0.0, 0.0, 0.0, 0.0)))
        h.ms.tick_all()
    assert [r.reasons for r in h.ms.explain(KEY)] == [(NO_DATA,)]  # rested: no decision made
    assert len(h.ms.explain(other)) == 4  # a stat each round: decided each round
    points = history.points(KEY)
    assert len(points) == 4 and points[-1].time > points[0].time  # the plot goes on
    assert {(p.desired, p.reasons) for p in points} == {(-1, (NO_DATA,))}
    h.endpoints.set(KEY, 1)
    h.ms.record(StatMessage(KEY.namespace, KEY.revision, Stat("pod", 3.0, 0.0, 3.0, 0.0)))
    h.clock.step(2.0)
    h.ms.tick_all()
    assert h.ms.get(KEY).desired_scale == 3  # type: ignore[union-attr]
    assert len(h.ms.explain(KEY)) == 2


def test_a_new_spec_wakes_a_resting_decider() -> None:
    """Without a scrape target an empty window is 0, not no data: the same revision then decides 0."""
    h = Harness()
    h.ms.watch(KEY, SPEC)
    h.ms.tick_all()
    h.ms.tick_all()
    assert len(h.ms.explain(KEY)) == 1
    h.ms.watch(KEY, SPEC, MetricSpec(60.0, 6.0, scraped=False))
    h.ms.tick_all()
    assert h.ms.get(KEY).desired_scale == 0  # type: ignore[union-attr]
    assert len(h.ms.explain(KEY)) == 2


def test_no_poke_when_not_at_zero() -> None:
    h = Harness()
    h.endpoints.set(KEY, 1)
    h.ms.watch(KEY, SPEC)
    h.ms.record(activator(1.0))
    h.ms.tick(KEY)
    ticks = len(h.ms.explain(KEY))
    h.ms.record(activator(3.0))
    assert len(h.ms.explain(KEY)) == ticks


def test_ebc_sign_flip_informs_without_desired_change() -> None:
    h = Harness()
    spec = replace(SPEC, target_burst_capacity=2.0, total_value=10.0, target_value=10.0)
    h.endpoints.set(KEY, 1)
    h.ms.watch(KEY, spec)
    h.ms.record(activator(5.0))
    h.ms.tick(KEY)  # desired 1, ebc = floor(1*10 - 2 - 5) = 3
    assert (h.ms.get(KEY).desired_scale, h.ms.get(KEY).excess_burst_capacity) == (1, 3)  # type: ignore[union-attr]
    assert h.changes == [KEY]
    h.clock.step(1)
    h.ms.record(activator(9.0))  # panic window average (5+9)/2 = 7 -> ebc 1: same sign, no event
    h.ms.tick(KEY)
    assert h.changes == [KEY]
    h.clock.step(1)
    h.ms.record(activator(30.0))  # (5+9+30)/3 -> ebc negative: flip; desired goes up too
    h.ms.tick(KEY)
    assert h.ms.get(KEY).excess_burst_capacity < 0  # type: ignore[union-attr]
    assert h.changes == [KEY, KEY]


def test_update_keeps_decider_state() -> None:
    h = Harness()
    h.endpoints.set(KEY, 1)
    calm = replace(SPEC, panic_threshold=100.0)
    h.ms.watch(KEY, calm)
    h.ms.record(activator(4.0))
    h.ms.tick(KEY)
    d = h.ms.watch(KEY, replace(calm, target_value=2.0))
    assert d.desired_scale == 4
    h.ms.tick(KEY)
    assert h.ms.get(KEY).desired_scale == 2  # type: ignore[union-attr]


def test_forget_drops_everything() -> None:
    h = Harness()
    h.ms.watch(KEY, SPEC)
    h.ms.forget(KEY)
    assert h.ms.get(KEY) is None and h.ms.tick(KEY) is None and h.ms.explain(KEY) == []
    h.ms.record(activator(1.0))  # unknown: ignored
    assert h.ms.keys() == []


async def test_scrape_records_revision_stat_minus_proxied() -> None:
    stats = Stats(Stat("pod", average_concurrent_requests=3.0, average_proxied_concurrent_requests=1.0))
    h = Harness(stats=stats)
    h.endpoints.set(KEY, 2)
    h.ms.watch(KEY, SPEC)
    assert await h.ms.scrape(KEY) is True
    assert stats.calls == 2
    h.ms.tick(KEY)
    last = h.ms.get(KEY).last  # type: ignore[union-attr]
    assert last is not None and last.observed_stable == 4.0  # (3-1) x 2 instances
    assert h.ms.get(KEY).desired_scale == 4  # type: ignore[union-attr]


async def test_scrape_without_instances_records_nothing() -> None:
    h = Harness(stats=Stats(Stat("pod", 1.0)))
    h.ms.watch(KEY, SPEC)
    assert await h.ms.scrape(KEY) is False
    assert not h.ms.tick(KEY).scale_valid  # type: ignore[union-attr]


class ServingEndpoints(Endpoints):
    """A source that also lists the revisions with a ready instance (as the local runtime does)."""

    def __init__(self) -> None:
        super().__init__()
        self.listed: list[tuple[str, str]] = []

    def serving(self) -> list[tuple[str, str]]:
        return self.listed


async def test_a_scrape_round_asks_only_the_revisions_the_source_lists_with_instances() -> None:
    stats = Stats(Stat("pod", 1.0))
    source = ServingEndpoints()
    other = DeciderKey("ns", "other-00001")
    ms = Multiscaler(Collector(), source, FakeClock(), lambda _k: None, scraper=Scraper(source, stats))
    for key in (KEY, other):
        ms.watch(key, SPEC)
        source.set(key, 1)
    source.listed = [(KEY.namespace, KEY.revision), ("ns", "not-watched")]
    async with asyncio.TaskGroup() as tg:
        ms._scrape_round(tg)
    assert stats.calls == 1, "only KEY: the other is not listed, the unwatched one has no decider"
    source.listed.append((other.namespace, other.revision))
    async with asyncio.TaskGroup() as tg:
        ms._scrape_round(tg)
    assert stats.calls == 3


def test_gauges_on_the_given_registry() -> None:
    registry = CollectorRegistry()
    h = Harness(registry=registry)
    h.endpoints.set(KEY, 2)
    h.ms.watch(KEY, SPEC)
    h.ms.record(activator(3.0))
    h.ms.tick(KEY)
    labels = {"namespace": "ns", "revision": "rev-00001"}
    assert registry.get_sample_value("zeroserve_autoscaler_desired_pods", labels) == 3.0
    assert registry.get_sample_value("zeroserve_autoscaler_ready_pods", labels) == 2.0
    assert registry.get_sample_value("zeroserve_autoscaler_panic_mode", labels) == 1.0  # started with 2 ready
    metric = {**labels, "metric": "concurrency"}
    assert registry.get_sample_value("zeroserve_autoscaler_stable_observed", metric) == 3.0
    assert registry.get_sample_value("zeroserve_autoscaler_target", metric) == 1.0
    h.ms.forget(KEY)
    assert registry.get_sample_value("zeroserve_autoscaler_desired_pods", labels) is None
    assert registry.get_sample_value("zeroserve_autoscaler_stable_observed", metric) is None


def test_explain_document() -> None:
    h = Harness()
    h.endpoints.set(KEY, 1)
    h.ms.watch(KEY, SPEC)
    assert explain_document(h.ms, DeciderKey("ns", "nope")) is None
    h.ms.tick(KEY)
    h.ms.record(activator(30.0))
    h.ms.tick(KEY)
    doc = explain_document(h.ms, KEY)
    assert doc is not None
    assert doc["desiredScale"] == 10  # ceil(max_scale_up_rate 10 x 1 ready)
    assert doc["panicMode"] is True
    assert "rate limited up" in str(doc["summary"])
    ticks = doc["ticks"]
    assert isinstance(ticks, list) and len(ticks) == 2
    assert ticks[0]["valid"] is False and ticks[1]["observedPanic"] == 30.0 and ticks[1]["ready"] == 1


def test_explain_keeps_last_thirty() -> None:
    h = Harness()
    h.ms.watch(KEY, SPEC)
    for _ in range(40):
        h.clock.step(2)
        h.ms.tick(KEY)
    ticks = h.ms.explain(KEY)
    assert len(ticks) == 30 and ticks[-1].time == h.clock.monotonic()


@dataclass(frozen=True)
class U:
    memory_bytes: int | None
    cpu_seconds: float | None


class Usage:
    def __init__(self) -> None:
        self.samples: list[U] = []

    def usage(self, key: DeciderKey) -> list[U]:
        return self.samples


def test_hpa_decider_through_the_multiscaler() -> None:
    clock = FakeClock()
    changes: list[DeciderKey] = []
    usage = Usage()
    ms = Multiscaler(Collector(), Endpoints(), clock, changes.append, usage=usage)
    ms.watch_hpa(KEY, HpaSpec(metric="memory", target=100.0))
    usage.samples = [U(300 * 1024 * 1024, None)]
    ms.tick(KEY)
    d = ms.get(KEY)
    assert d is not None and d.cls == "hpa" and d.desired_scale == 3 and changes == [KEY]


def test_hpa_without_usage_source_is_invalid() -> None:
    h = Harness()
    h.ms.watch_hpa(KEY, HpaSpec())
    result = h.ms.tick(KEY)
    assert result is not None and not result.scale_valid and result.reasons == (NO_USAGE_SOURCE,)


async def test_run_loop_ticks_and_scrapes() -> None:
    stats = Stats(Stat("pod", average_concurrent_requests=2.0))
    endpoints = Endpoints()
    endpoints.set(KEY, 1)
    changed = asyncio.Event()
    ms = Multiscaler(
        Collector(),
        endpoints,
        FakeClock(),
        lambda key: changed.set(),
        scraper=Scraper(endpoints, stats),
        tick_interval=0.01,
        scrape_interval=0.005,
    )
    ms.watch(KEY, SPEC)
    async with ms:
        await asyncio.wait_for(changed.wait(), timeout=10)
    assert stats.calls >= 1
    # The fake clock stands still, so every scrape so far landed in one bucket: 2 per scrape.
    desired = ms.get(KEY).desired_scale  # type: ignore[union-attr]
    assert desired > 0 and desired % 2 == 0
