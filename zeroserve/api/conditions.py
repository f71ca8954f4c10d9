"""Condition sets: a happy condition (``Ready``) computed from its dependents.

Mirrors knative.dev/pkg/apis/condition_set.go (``ConditionSet`` / ``ConditionManager``):

* marking a dependent False marks the happy condition False with the same reason and message;
* marking a dependent Unknown marks it Unknown, unless another dependent is already False;
* marking a dependent True recomputes: the first False dependent, else the first Unknown one
  (a missing dependent counts as Unknown), else True.

Conditions outside the set (``Active``) carry severity ``Info`` and never affect ``Ready``.
``lastTransitionTime`` changes only when a condition's status changes. Pure: the wall time is
an argument.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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

    def get(self, type_: str) -> Condition | None:
        return self.status.get_condition(type_)

    def is_happy(self) -> bool:
        cond = self.get(self.cset.happy)
        return cond is not None and cond.status == "True"

    def initialize(self) -> None:
        """Add Unknown entries for the happy condition and every dependent that is missing."""
        happy = self.get(self.cset.happy)
        if happy is None:
            self._set(self.cset.happy, "Unknown", "", "")
            happy = self.get(self.cset.happy)
        for dep in self.cset.dependents:
            if self.get(dep) is None:
                status: ConditionStatus = "True" if happy is not None and happy.status == "True" else "Unknown"
                self._set(dep, status, "", "")

    def mark_true(self, type_: str, reason: str = "", message: str = "") -> None:
        self._set(type_, "True", reason, message)
        if type_ in self.cset.dependents:
            self._recompute()

    def mark_false(self, type_: str, reason: str, message: str) -> None:
        self._set(type_, "False", reason, message)
        if type_ in self.cset.dependents:
            self._set(self.cset.happy, "False", reason, message)

    def mark_unknown(self, type_: str, reason: str, message: str) -> None:
        self._set(type_, "Unknown", reason, message)
        if type_ not in self.cset.dependents:
            return
        for dep in self.cset.dependents:
            cond = self.get(dep)
            if cond is not None and cond.status == "False":
                return
        self._set(self.cset.happy, "Unknown", reason, message)

    def _recompute(self) -> None:
        conds = [self.get(d) for d in self.cset.dependents]
        unhappy = next((c for c in conds if c is not None and c.status == "False"), None)
        if unhappy is None and None in conds:
            self._set(self.cset.happy, "Unknown", "", "")
            return
        unhappy = unhappy or next((c for c in conds if c is not None and c.status == "Unknown"), None)
        if unhappy is None:
            self._set(self.cset.happy, "True", "", "")
        else:
            self._set(self.cset.happy, unhappy.status, unhappy.reason or "", unhappy.message or "")

    def _set(self, type_: str, status: ConditionStatus, reason: str, message: str) -> None:
        old = self.get(type_)
        new = Condition(
            type=type_,
            status=status,
            severity=None if self.cset.is_terminal(type_) else INFO,
            reason=reason or None,
            message=message or None,
            last_transition_time=self.now,
        )
        if old is not None and old.status == status:
            new.last_transition_time = old.last_transition_time
        others = [c for c in self.status.conditions if c.type != type_]
        self.status.conditions = sorted([*others, new], key=lambda c: c.type)


SERVICE_CONDITIONS = ConditionSet(READY, ("ConfigurationsReady", "RoutesReady"))
CONFIGURATION_CONDITIONS = ConditionSet(READY)
REVISION_CONDITIONS = ConditionSet(READY, ("ResourcesAvailable", "ContainerHealthy"))
ROUTE_CONDITIONS = ConditionSet(READY, ("AllTrafficAssigned", "IngressReady", "CertificateProvisioned"))
