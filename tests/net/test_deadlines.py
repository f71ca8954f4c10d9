"""The timer wheel, on a fake scheduler: when deadlines fire, and how few loop timers they take."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable

import pytest

from zeroserve.net.deadlines import FINEST, Deadlines, Expiring


class FakeScheduler:
    """A loop's clock and timers: ``run_until`` fires due timers in order, moving the clock."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self._timers: list[tuple[float, int, Callable[..., object], tuple[object, ...]]] = []
        self._seq = itertools.count()

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Callable[..., object], *args: object) -> None:
        heapq.heappush(self._timers, (when, next(self._seq), callback, args))

    @property
    def pending(self) -> int:
        return len(self._timers)

    def run_until(self, until: float) -> None:
        while self._timers and self._timers[0][0] <= until:
            when, _, callback, args = heapq.heappop(self._timers)
            self.now = max(self.now, when)
            callback(*args)
        self.now = max(self.now, until)


Log = list[tuple[str, float]]


class Item:
    def __init__(self, name: str, log: list[tuple[str, float]]) -> None:
        self.name = name
        self.log = log
        self.due = 0.0
        self.bucket: set[Expiring] | None = None
        self.then: Callable[[float], None] | None = None

    def expired(self, now: float) -> None:
        self.log.append((self.name, now))
        if self.then is not None:
            self.then(now)


@pytest.fixture
def clock() -> FakeScheduler:
    return FakeScheduler()


@pytest.mark.parametrize("delay", [0.001, 0.004, 0.3, 1.0, 7.5, 300.0, 3600.0])
def test_a_deadline_fires_once_at_its_time_or_at_most_one_finest_span_later(clock: FakeScheduler, delay: float) -> None:
    wheel, log = Deadlines(clock), Log()
    item = Item("a", log)
    wheel.add(item, clock.now + delay)
    due = clock.now + delay
    clock.run_until(due - FINEST / 2)
    assert log == []
    clock.run_until(due + 10 * delay)
    assert len(log) == 1
    assert due <= log[0][1] <= due + FINEST + 1e-9
    assert item.bucket is None and len(wheel) == 0 and wheel.timers == 0


def test_a_removed_deadline_never_fires(clock: FakeScheduler) -> None:
    wheel, log = Deadlines(clock), Log()
    item = Item("a", log)
    wheel.add(item, clock.now + 2.0)
    Deadlines.remove(item)
    assert len(wheel) == 0
    clock.run_until(clock.now + 10)
    assert log == []


def test_thousands_of_long_deadlines_share_a_handful_of_loop_timers(clock: FakeScheduler) -> None:
    """20,000 requests over one second, each with the default 300 s timeout."""
    wheel, log = Deadlines(clock), Log()
    items = []
    for i in range(20_000):
        clock.now += 1 / 20_000
        item = Item(str(i), log)
        wheel.add(item, clock.now + 300.0)
        items.append(item)
    assert len(wheel) == 20_000
    assert clock.pending <= 2
    for item in items[:19_990]:  # most requests end well before their timeout
        Deadlines.remove(item)
    clock.run_until(clock.now + 301.0)
    assert sorted(int(name) for name, _ in log) == list(range(19_990, 20_000))
    assert all(t >= 1000.0 + 300.0 for _, t in log)


def test_adding_again_replaces_the_deadline(clock: FakeScheduler) -> None:
    wheel, log = Deadlines(clock), Log()
    item = Item("a", log)
    wheel.add(item, clock.now + 1.0)
    wheel.add(item, clock.now + 5.0)
    assert len(wheel) == 1
    clock.run_until(clock.now + 4.9)
    assert log == []
    clock.run_until(clock.now + 1.0)
    assert [name for name, _ in log] == ["a"]


def test_an_entry_re_added_by_its_callback_waits_again(clock: FakeScheduler) -> None:
    """As the idle timeout does when there was activity: look again one period later."""
    wheel, log = Deadlines(clock), Log()
    item = Item("idle", log)
    rounds = iter(range(2))
    item.then = lambda now: wheel.add(item, now + 0.5, now) if next(rounds, None) is not None else None
    start = clock.now
    wheel.add(item, start + 0.5)
    clock.run_until(start + 5)
    assert [round(t - start, 2) for _, t in log] == [0.5, 1.0, 1.5]


def test_an_entry_removed_by_an_earlier_callback_of_the_same_bucket_does_not_fire(clock: FakeScheduler) -> None:
    wheel, log = Deadlines(clock), Log()
    first, second = Item("first", log), Item("second", log)
    due = clock.now + 0.25
    wheel.add(first, due)
    wheel.add(second, due)

    def remove_both(now: float) -> None:
        Deadlines.remove(first)
        Deadlines.remove(second)

    first.then = second.then = remove_both
    clock.run_until(due + 1)
    assert len(log) == 1
