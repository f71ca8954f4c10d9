"""Index entries that hold one value alone and a frozenset only for more: most entries of the
store's label index and of the controller's indexes (an owner's dependents, a route's marked objects,
the routes naming a target) hold one value, and a set for each was ~200 bytes (issue 19: RSS per
idle Service). Each change replaces the entry: a reader holding the old one (the loop, while the
SQLite thread moves rows) sees it as it was."""

from __future__ import annotations

from collections.abc import Hashable
from typing import TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V", bound=Hashable)


def members(held: V | frozenset[V] | None) -> frozenset[V]:
    """What an index entry of :func:`hold` holds: nothing, one value, or a frozenset of them."""
    if held is None:
        return frozenset()
    return held if isinstance(held, frozenset) else frozenset((held,))


def packed(values: set[V] | frozenset[V]) -> V | frozenset[V]:
    """What an entry holds for ``values`` (not empty): the one value alone, else a frozenset."""
    return next(iter(values)) if len(values) == 1 else frozenset(values)


def hold(index: dict[K, V | frozenset[V]], key: K, value: V) -> None:
    """Add ``value`` under ``key``: held alone while it is the only one, in a frozenset once there
    are more (most entries of the controller's indexes hold one value: a set for each is ~200
    bytes)."""
    held = index.get(key)
    if held is None:
        index[key] = value
    elif held != value and not (isinstance(held, frozenset) and value in held):
        index[key] = members(held) | {value}


def release(index: dict[K, V | frozenset[V]], key: K, value: V) -> None:
    """Remove ``value`` from under ``key`` (the entry goes with its last value)."""
    rest = members(index.get(key)) - {value}
    if not rest:
        index.pop(key, None)
    else:
        index[key] = packed(rest)
