"""Why a revision has the scale it has: the last decisions, kept for ``zeroserve autoscaler explain``.

Knative users read the autoscaler's debug logs to learn why a revision did (not) scale
(knative/serving#13459). We keep the last :data:`TICKS_KEPT` decisions per revision as
:class:`TickRecord`\\ s (observed stable/panic load, target, ready instances, desired count, panic
mode, excess burst capacity and the decider's reasons) and render them as a JSON document the API
serves under ``revisions/{name}/autoscaler``. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from zeroserve.autoscaler.collector import DeciderKey
from zeroserve.autoscaler.scaling import ScaleResult

TICKS_KEPT = 30


@dataclass(frozen=True, slots=True)
class Decision:
    """A decider's current output, as the PA reconciler reads it (Knative ``Decider.Status``)."""

    desired_scale: int
    """-1 until the first valid decision."""
    excess_burst_capacity: int
    last: ScaleResult | None = None
    """The last valid result, with its reasons."""
    cls: str = "kpa"
    """``kpa`` or ``hpa``: which decider produced it."""

    @property
    def observed_stable(self) -> float | None:
        return None if self.last is None else self.last.observed_stable

    @property
    def observed_panic(self) -> float | None:
        return None if self.last is None else self.last.observed_panic

    @property
    def in_panic(self) -> bool:
        return self.last is not None and self.last.in_panic


@dataclass(frozen=True, slots=True)
class TickRecord:
    """One decision (valid or not) of one revision's decider."""

    time: float
    """Monotonic seconds of the tick."""
    wall: str
    """RFC 3339 time of the tick, for people."""
    valid: bool
    desired: int
    """What the decider wants (the previous desired scale when the tick was invalid)."""
    excess_burst_capacity: int
    target: float
    metric: str
    observed_stable: float | None = None
    observed_panic: float | None = None
    ready: int | None = None
    panic_mode: bool = False
    reasons: tuple[str, ...] = field(default=())

    def to_wire(self) -> dict[str, object]:
        return {
            "time": self.wall,
            "valid": self.valid,
            "metric": self.metric,
            "observedStable": self.observed_stable,
            "observedPanic": self.observed_panic,
            "target": self.target,
            "ready": self.ready,
            "desired": self.desired,
            "panicMode": self.panic_mode,
            "excessBurstCapacity": self.excess_burst_capacity,
            "reasons": list(self.reasons),
        }


class TickLog:
    """The last ``size`` TickRecords of every revision."""

    def __init__(self, size: int = TICKS_KEPT) -> None:
        self._size = size
        self._ticks: dict[DeciderKey, list[TickRecord]] = {}
        """A list, not a deque (~760 bytes even empty, for each revision); its first record goes
        when one past ``size`` comes (a move of 30 pointers)."""

    def append(self, key: DeciderKey, record: TickRecord) -> None:
        ticks = self._ticks.get(key)
        if ticks is None:
            ticks = self._ticks[key] = []
        ticks.append(record)
        if len(ticks) > self._size:
            del ticks[0]

    def get(self, key: DeciderKey) -> list[TickRecord]:
        return list(self._ticks.get(key, ()))

    def forget(self, key: DeciderKey) -> None:
        self._ticks.pop(key, None)


class Explainable(Protocol):
    """What ``explain_document`` reads (the Multiscaler)."""

    def get(self, key: DeciderKey) -> Decision | None: ...

    def explain(self, key: DeciderKey) -> list[TickRecord]: ...


def summary(decision: Decision, ticks: list[TickRecord]) -> str:
    """One sentence saying why the desired scale is what it is."""
    if decision.desired_scale < 0:
        why = ticks[-1].reasons if ticks else ()
        return "no decision yet" + (f" ({', '.join(why)})" if why else "")
    last = next((t for t in reversed(ticks) if t.valid), None)
    if last is None or not last.reasons:
        return f"desired {decision.desired_scale}: observed load / target"
    return f"desired {decision.desired_scale}: {', '.join(last.reasons)}"


def explain_document(source: Explainable, key: DeciderKey) -> dict[str, object] | None:
    """The ``revisions/{name}/autoscaler`` document, or None when the revision has no decider."""
    decision = source.get(key)
    if decision is None:
        return None
    ticks = source.explain(key)
    return {
        "namespace": key.namespace,
        "revision": key.revision,
        "class": decision.cls,
        "desiredScale": decision.desired_scale,
        "excessBurstCapacity": decision.excess_burst_capacity,
        "panicMode": decision.in_panic,
        "summary": summary(decision, ticks),
        "ticks": [t.to_wire() for t in ticks],
    }
