"""A Trigger's delivery state over its Broker's log: a low-water mark plus the events acked above it. PURE.

Sequence numbers are per Broker and have no gaps (1, 2, 3…), so "everything up to ``mark`` is done"
and a set of done events above it describe exactly which events a Trigger still owes, however
deliveries finish out of order: one event's retries hold back only the mark, never the events
after it. An event is *done* for a Trigger once delivered (2xx), filtered out, or given up on
(dead-lettered or dropped after its retries).

:meth:`AckState.take_changes` hands the durable log what changed since the last flush: the new mark
and the acks above it; acks at or below the mark need no row.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class AckState:
    namespace: str
    broker: str
    mark: int = 0
    """Every event with ``seq <= mark`` is done."""
    acked: set[int] = field(default_factory=set)
    """Done events above the mark."""
    replay: str = ""
    """The replay request last applied (``eventing.zeroserve.dev/replay-from``)."""
    _unflushed: set[int] = field(default_factory=set)
    _dirty: bool = False

    def done(self, seq: int) -> bool:
        return seq <= self.mark or seq in self.acked

    def ack(self, seq: int) -> None:
        if self.done(seq):
            return
        self._dirty = True
        if seq != self.mark + 1:
            self.acked.add(seq)
            self._unflushed.add(seq)
            return
        self.mark = seq
        while self.mark + 1 in self.acked:
            self.mark += 1
            self.acked.discard(self.mark)

    def owed(self, last: int) -> int:
        """Events up to ``last`` (the Broker's newest) that are not done yet: the backlog (acked
        events are committed ones, so all of them are at most ``last``)."""
        return max(0, last - self.mark - len(self.acked))

    def reset(self, mark: int, replay: str) -> None:
        """Start over after ``mark`` (a replay): every later event is owed again."""
        self.mark, self.replay = mark, replay
        self.acked.clear()
        self._unflushed.clear()
        self._dirty = False

    @property
    def dirty(self) -> bool:
        return self._dirty

    def take_changes(self) -> tuple[int, list[int]]:
        """``(mark, new acks above it)`` since the last call; clears the dirty flag."""
        fresh = sorted(s for s in self._unflushed if s > self.mark)
        self._unflushed.clear()
        self._dirty = False
        return self.mark, fresh
