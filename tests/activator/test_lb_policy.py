from __future__ import annotations

import itertools
import random
from collections.abc import Iterator

import pytest

from zeroserve.activator import lb_policy


class FakeTracker:
    def __init__(self, name: str, slots: int = 0, weight: int = 0) -> None:
        self.name = name
        self.slots = slots
        self.used = 0
        self.weight = weight

    def reserve(self) -> bool:
        if self.used >= self.slots:
            return False
        self.used += 1
        return True

    def __repr__(self) -> str:
        return self.name


def trackers(n: int, slots: int = 0) -> list[FakeTracker]:
    return [FakeTracker(f"t{i}", slots) for i in range(n)]


def scripted(values: list[int]) -> lb_policy.Rand:
    it: Iterator[int] = iter(values)

    def rand(n: int) -> int:
        value = next(it)
        assert 0 <= value < n
        return value

    return rand


def test_random_choice_2_empty_and_single():
    assert lb_policy.random_choice_2([], random.randrange) is None
    only = trackers(1)
    assert lb_policy.random_choice_2(only, scripted([])) is only[0]


def test_random_choice_2_two_trackers_prefers_lighter_without_drawing_indices():
    ts = trackers(2)
    ts[0].weight = 3
    assert lb_policy.random_choice_2(ts, scripted([])) is ts[1]
    ts[1].weight = 5
    assert lb_policy.random_choice_2(ts, scripted([])) is ts[0]


@pytest.mark.parametrize(
    ("coin", "want"),
    [pytest.param(0, 1, id="coin-0-takes-alt"), pytest.param(1, 0, id="coin-1-keeps-pick")],
)
def test_random_choice_2_tie_is_a_coin_flip(coin: int, want: int):
    ts = trackers(2)
    assert lb_policy.random_choice_2(ts, scripted([coin])) is ts[want]


def test_random_choice_2_second_draw_skips_the_first():
    ts = trackers(4)
    ts[2].weight = 1  # first draw: 2; second draw 2 -> shifted to 3 (never 2 again)
    assert lb_policy.random_choice_2(ts, scripted([2, 2])) is ts[3]
    ts[3].weight = 9
    assert lb_policy.random_choice_2(ts, scripted([2, 2])) is ts[2]
    # second draw below the first is taken as is
    assert lb_policy.random_choice_2(ts, scripted([3, 0])) is ts[0]


def test_random_choice_2_spreads_load_when_caller_counts_weight():
    ts = trackers(5)
    rng = random.Random(7)
    for _ in range(1000):
        pick = lb_policy.random_choice_2(ts, rng.randrange)
        assert pick is not None
        pick.weight += 1
    weights = [t.weight for t in ts]
    assert max(weights) - min(weights) <= 2, weights


def test_first_available_one_slot():
    ts = trackers(1, slots=1)
    assert lb_policy.first_available(ts) is ts[0]
    assert lb_policy.first_available(ts) is None


def test_first_available_takes_the_first_with_room():
    ts = trackers(2, slots=1)
    assert lb_policy.first_available(ts) is ts[0]
    assert lb_policy.first_available(ts) is ts[1]
    assert lb_policy.first_available(ts) is None
    assert [t.used for t in ts] == [1, 1]


def test_round_robin_cc1():
    rr = lb_policy.RoundRobin()
    ts = trackers(3, slots=1)
    assert rr(ts) is ts[0]
    assert rr(ts) is ts[1]
    # a shorter list resets the index to 0, which is full
    assert rr(ts[:1]) is None
    assert rr(ts) is ts[2]
    assert rr(ts) is None
    ts[2].used = 0  # its request finished
    assert rr(ts) is ts[2]


def test_round_robin_cc2_skips_full():
    rr = lb_policy.RoundRobin()
    ts = trackers(3, slots=2)
    assert rr(ts) is ts[0]
    assert rr(ts) is ts[1]
    assert rr(ts[:1]) is ts[0]
    assert rr(ts) is ts[1]
    assert rr(ts) is ts[2]
    # 0 and 1 are full now: 2 again
    assert rr(ts) is ts[2]
    assert rr(ts) is None


def test_round_robin_empty():
    assert lb_policy.RoundRobin()([]) is None


@pytest.mark.parametrize(
    ("cc", "kind"),
    [
        pytest.param(0, "p2c", id="cc0"),
        pytest.param(1, "first", id="cc1"),
        pytest.param(3, "first", id="cc3"),
        pytest.param(4, "rr", id="cc4"),
        pytest.param(100, "rr", id="cc100"),
    ],
)
def test_policy_for(cc: int, kind: str):
    policy: lb_policy.Policy[FakeTracker] = lb_policy.policy_for(cc, scripted([1] * 10))
    ts = trackers(3, slots=1)
    picks = [policy(ts) for _ in range(3)]
    if kind == "p2c":
        # reserves nothing and never returns None
        assert all(p is not None for p in picks)
        assert [t.used for t in ts] == [0, 0, 0]
    elif kind == "first":
        assert picks == ts
        assert policy(ts) is None
    else:
        assert isinstance(policy, lb_policy.RoundRobin)
        assert picks == ts


def test_round_robin_distributes_evenly_with_free_slots():
    rr = lb_policy.RoundRobin()
    ts = trackers(4, slots=10**6)
    counts = {t.name: 0 for t in ts}
    for _ in itertools.repeat(None, 400):
        pick = rr(ts)
        assert pick is not None
        counts[pick.name] += 1
    assert set(counts.values()) == {100}
