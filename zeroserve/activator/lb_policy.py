"""Load-balancing policies of the activator (pure; Knative ``pkg/activator/net/lb_policy.go``).

A policy picks one instance tracker for a request that already holds a slot of the revision's
breaker, or returns None when no tracker can take it right now (a race with a capacity change;
the caller waits again). Which policy a revision uses depends on its ``containerConcurrency``:

* 0 (unlimited): :func:`random_choice_2`, the power of two choices on this activator's in-flight
  count per instance; the chosen tracker's weight is not changed here, the caller counts it;
* 1..3: :func:`first_available`, the first tracker whose breaker has a free slot;
* more: :class:`RoundRobin`, starting after the last chosen index and skipping full trackers.

Policies that take a tracker's slot do so with its non-blocking ``reserve()``; the caller
releases it when the request is over.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

Rand = Callable[[int], int]
"""``rand(n)``: a random integer in ``[0, n)`` (``random.randrange``); injected for tests."""


class Candidate(Protocol):
    """What a policy sees of an instance tracker."""

    @property
    def weight(self) -> int:
        """Requests this activator has in flight to the instance."""
        ...

    def reserve(self) -> bool:
        """Take a slot without waiting; False when the instance is full."""
        ...


T = TypeVar("T", bound=Candidate)
Policy = Callable[[Sequence[T]], T | None]

FIRST_AVAILABLE_MAX_CC = 3
"""Up to this containerConcurrency the first available instance is used, above it round robin."""


def random_choice_2(trackers: Sequence[T], rand: Rand) -> T | None:
    """Power of two choices: draw two distinct trackers, keep the lighter (ties: a coin flip)."""
    n = len(trackers)
    if n == 0:
        return None
    if n == 1:
        return trackers[0]
    first, second = 0, 1
    if n > 2:
        first = rand(n)
        second = rand(n - 1)
        if second >= first:  # draw from [0, n) without ``first``
            second += 1
    pick, alt = trackers[first], trackers[second]
    if pick.weight > alt.weight or (pick.weight == alt.weight and rand(2) == 0):
        return alt
    return pick


def first_available(trackers: Sequence[T]) -> T | None:
    """The first tracker with a free slot (the slot is taken)."""
    for tracker in trackers:
        if tracker.reserve():
            return tracker
    return None


class RoundRobin:
    """Round robin over the trackers, skipping full ones; remembers where it stopped."""

    def __init__(self) -> None:
        self.index = 0

    def __call__(self, trackers: Sequence[T]) -> T | None:
        n = len(trackers)
        if self.index >= n:  # the list shrank
            self.index = 0
        for i in range(n):
            p = (self.index + i) % n
            if trackers[p].reserve():
                self.index = p + 1
                return trackers[p]
        return None


def policy_for(container_concurrency: int, rand: Rand) -> Policy[T]:
    """Knative's choice of policy by ``containerConcurrency`` (0: unlimited)."""
    if container_concurrency <= 0:
        return lambda trackers: random_choice_2(trackers, rand)
    if container_concurrency <= FIRST_AVAILABLE_MAX_CC:
        return first_available
    return RoundRobin()
