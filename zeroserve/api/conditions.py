"""Condition sets: a happy condition (``Ready``) computed from its dependents.

Mirrors knative.dev/pkg/apis/condition_set.go (``ConditionSet`` / ``conditionsImpl``):

* ``SetCondition``: a condition whose type, status, severity, reason and message are all unchanged
  keeps its ``lastTransitionTime``; any change stamps ``now``;
* ``MarkFalse`` marks the condition, and the happy one when it is a dependent, False with the
  same reason and message;
* ``MarkUnknown`` marks it Unknown; if some dependent is False, the happy condition is made False
  (with this reason and message) unless it already is; otherwise a dependent's Unknown is copied
  to the happy condition;
* ``MarkTrue`` (on any condition) recomputes happiness: the *most recently changed* False
  dependent, else the most recent Unknown one, else Unknown when a dependent is missing, is
  copied to the happy condition; with none, the happy condition becomes True.

"Most recent" is by ``lastTransitionTime``; conditions stamped by this manager (one reconcile,
one ``now``) are newer than older ones of the same second, in the order they were set, as Go's
nanosecond clock orders them. Conditions outside the set (``Active``) carry severity ``Info`` and
are not dependents. Pure: the wall time is an argument.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from zeroserve.api.meta import Condition, ConditionStatus, Status
from zeroserve.clock import rfc3339

READY = "Ready"
INFO = "Info"


@dataclass(frozen=True)
class ConditionSet:
    happy: str
    dependents: tuple[str, ...] = ()

    def manage(self, status: Status, now: datetime) -> ConditionManager:
        return ConditionManager(self, status, now)

    def is_terminal(self, type_: str) -> bool:
        return type_ == self.happy or type_ in self.dependents


class ConditionManager:
    """Edits ``status.conditions`` in place (kept sorted by type, as Knative does)."""

    def __init__(self, cset: ConditionSet, status: Status, now: datetime) -> None:
        self.cset = cset
        self.status = status
        self.now = rfc3339(now)
        self._changed: dict[str, int] = {}
        """Condition type -> order of its last change by this manager."""
        self._changes = 0

    def get(self, type_: str) -> Condition | None:
        return self.status.get_condition(type_)

    def is_happy(self) -> bool:
        cond = self.get(self.cset.happy)
        return cond is not None and cond.status == "True"

    def initialize(self) -> None:
        """Add Unknown entries for the happy condition and every dependent that is missing
        (True ones when the happy condition is True)."""
        happy = self.get(self.cset.happy)
        if happy is None:
            self._set(self.cset.happy, "Unknown", "", "")
            happy = self.get(self.cset.happy)
        status: ConditionStatus = "True" if happy is not None and happy.status == "True" else "Unknown"
        for dep in self.cset.dependents:
            if self.get(dep) is None:
                self._set(dep, status, "", "")

    def mark_true(self, type_: str, reason: str = "", message: str = "") -> None:
        self._set(type_, "True", reason, message)
        self._recompute(type_)

    def mark_false(self, type_: str, reason: str, message: str) -> None:
        self._set(type_, "False", reason, message)
        if type_ in self.cset.dependents:
            self._set(self.cset.happy, "False", reason, message)

    def mark_unknown(self, type_: str, reason: str, message: str) -> None:
        self._set(type_, "Unknown", reason, message)
        is_dependent = False
        for dep in self.cset.dependents:
            cond = self.get(dep)
            if cond is not None and cond.status == "False":  # failed conditions trump Unknown ones
                happy = self.get(self.cset.happy)
                if happy is None or happy.status != "False":
                    self.mark_false(self.cset.happy, reason, message)
                return
            is_dependent = is_dependent or dep == type_
        if is_dependent:
            self._set(self.cset.happy, "Unknown", reason, message)

    def _recompute(self, type_: str) -> None:
        """``recomputeHappiness``."""
        unhappy = self._find_unhappy_dependent()
        if unhappy is not None:
            self._set(self.cset.happy, unhappy.status, unhappy.reason or "", unhappy.message or "")
        elif type_ != self.cset.happy:
            self._set(self.cset.happy, "True", "", "")

    def _find_unhappy_dependent(self) -> Condition | None:
        """``findUnhappyDependent``: the terminal conditions, most recently changed first."""
        if not self.cset.dependents:
            return None
        terminal = [c for c in self.status.conditions if not c.severity and c.type != self.cset.happy]
        terminal.sort(key=self._recency, reverse=True)
        for wanted in ("False", "Unknown"):
            found = next((c for c in terminal if c.status == wanted), None)
            if found is not None:
                return found
        if len(self.cset.dependents) > len(terminal):  # something was not initialized
            return Condition(type="", status="Unknown")
        return None

    def _recency(self, cond: Condition) -> tuple[datetime, int]:
        return _parse_time(cond.last_transition_time), self._changed.get(cond.type, -1)

    def _set(self, type_: str, status: ConditionStatus, reason: str, message: str) -> None:
        """``SetCondition``: only a real change (status, severity, reason or message) stamps ``now``."""
        old = self.get(type_)
        severity = None if self.cset.is_terminal(type_) else INFO
        if old is not None and _essence(old) == (type_, status, severity or "", reason or "", message or ""):
            return  # most sets change nothing: no Condition is built for them
        new = Condition(
            type=type_,
            status=status,
            severity=severity,
            reason=reason or None,
            message=message or None,
            last_transition_time=self.now,
        )
        self._changes += 1
        self._changed[type_] = self._changes
        others = [c for c in self.status.conditions if c.type != type_]
        self.status.conditions = sorted([*others, new], key=lambda c: c.type)


def _essence(c: Condition) -> tuple[str, str, str, str, str]:
    return c.type, c.status, c.severity or "", c.reason or "", c.message or ""


@lru_cache(maxsize=256)  # a reconcile sorts its conditions by time at each mark: the same few stamps
def _parse_time(stamp: str | None) -> datetime:
    try:
        parsed = datetime.fromisoformat((stamp or "").replace("Z", "+00:00"))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


SERVICE_CONDITIONS = ConditionSet(READY, ("ConfigurationsReady", "RoutesReady"))
CONFIGURATION_CONDITIONS = ConditionSet(READY)
REVISION_CONDITIONS = ConditionSet(READY, ("ResourcesAvailable", "ContainerHealthy"))
ROUTE_CONDITIONS = ConditionSet(READY, ("AllTrafficAssigned", "IngressReady", "CertificateProvisioned"))
