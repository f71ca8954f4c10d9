"""Condition sets as knative.dev/pkg apis/condition_set.go (issue 12 item 6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from zeroserve.api.conditions import REVISION_CONDITIONS, ROUTE_CONDITIONS, ConditionSet
from zeroserve.api.meta import Condition, Status

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = T0 + timedelta(seconds=30)
T2 = T0 + timedelta(seconds=60)


def _ready(st: Status) -> tuple[str, str | None, str | None]:
    c = st.get_condition("Ready")
    assert c is not None
    return c.status, c.reason, c.message


def _time(st: Status, type_: str) -> str | None:
    c = st.get_condition(type_)
    assert c is not None
    return c.last_transition_time


@pytest.mark.parametrize(
    ("change", "moves"),
    [
        pytest.param(("Unknown", "Deploying", "m"), False, id="unchanged"),
        pytest.param(("Unknown", "Deploying", "other message"), True, id="message"),
        pytest.param(("Unknown", "Other", "m"), True, id="reason"),
        pytest.param(("False", "Deploying", "m"), True, id="status"),
    ],
)
def test_last_transition_time_moves_on_any_change(change: tuple[str, str, str], moves: bool) -> None:
    st = Status()
    REVISION_CONDITIONS.manage(st, T0).mark_unknown("ResourcesAvailable", "Deploying", "m")
    status, reason, message = change
    cm = REVISION_CONDITIONS.manage(st, T1)
    (cm.mark_false if status == "False" else cm.mark_unknown)("ResourcesAvailable", reason, message)
    assert _time(st, "ResourcesAvailable") == ("2026-01-01T00:00:30Z" if moves else "2026-01-01T00:00:00Z")


def test_severity_change_moves_the_time() -> None:
    st = Status(conditions=[Condition(type="Active", status="True", severity=None, last_transition_time="x")])
    REVISION_CONDITIONS.manage(st, T1).mark_true("Active")
    active = st.get_condition("Active")
    assert active is not None and active.severity == "Info" and active.last_transition_time == "2026-01-01T00:00:30Z"


def test_ready_takes_the_most_recent_false_dependent() -> None:
    """findUnhappyDependent sorts the terminal conditions by lastTransitionTime, newest first."""
    st = Status()
    ROUTE_CONDITIONS.manage(st, T0).initialize()
    ROUTE_CONDITIONS.manage(st, T0).mark_false("AllTrafficAssigned", "Old", "older failure")
    ROUTE_CONDITIONS.manage(st, T1).mark_false("IngressReady", "New", "newer failure")
    ROUTE_CONDITIONS.manage(st, T2).mark_true("CertificateProvisioned")
    assert _ready(st) == ("False", "New", "newer failure")


def test_within_one_reconcile_the_later_mark_is_the_more_recent() -> None:
    """Go stamps time.Now() per SetCondition: two marks in one reconcile are ordered."""
    st = Status()
    cm = ROUTE_CONDITIONS.manage(st, T0)
    cm.initialize()
    cm.mark_false("AllTrafficAssigned", "First", "first")
    cm.mark_false("IngressReady", "Second", "second")
    cm.mark_true("CertificateProvisioned")
    assert _ready(st) == ("False", "Second", "second")


def test_false_beats_a_more_recent_unknown_and_unknown_beats_missing() -> None:
    st = Status()
    cm = REVISION_CONDITIONS.manage(st, T0)
    cm.mark_false("ContainerHealthy", "ExitCode1", "boom")
    REVISION_CONDITIONS.manage(st, T1).mark_unknown("ResourcesAvailable", "Deploying", "")
    assert _ready(st) == ("False", "ExitCode1", "boom")
    st = Status()
    cm = ROUTE_CONDITIONS.manage(st, T0)
    cm.mark_unknown("IngressReady", "IngressNotConfigured", "not yet")
    cm.mark_true("AllTrafficAssigned")  # CertificateProvisioned missing: the Unknown one still wins
    assert _ready(st) == ("Unknown", "IngressNotConfigured", "not yet")


def test_unknown_with_a_false_dependent_makes_ready_false_with_its_reason() -> None:
    """MarkUnknown: a False dependent trumps; Ready is made False if it is not (with this reason)."""
    st = Status(
        conditions=[
            Condition(
                type="ContainerHealthy", status="False", reason="Crash", last_transition_time="2026-01-01T00:00:00Z"
            ),
            Condition(type="Ready", status="True", last_transition_time="2026-01-01T00:00:00Z"),
        ]
    )
    REVISION_CONDITIONS.manage(st, T1).mark_unknown("ResourcesAvailable", "Deploying", "rolling")
    assert _ready(st) == ("False", "Deploying", "rolling")


def test_mark_true_on_any_condition_recomputes_ready() -> None:
    """MarkTrue calls recomputeHappiness for every condition, not only dependents."""
    st = Status()
    cm = REVISION_CONDITIONS.manage(st, T0)
    cm.initialize()
    cm.mark_true("ResourcesAvailable")
    cm.mark_true("ContainerHealthy")
    st.conditions = [c for c in st.conditions if c.type != "Ready"]
    cm.mark_true("Active")
    assert _ready(st) == ("True", None, None)


def test_a_set_without_dependents_turns_happy_on_any_true() -> None:
    st = Status()
    cm = ConditionSet("Ready").manage(st, T0)
    cm.initialize()
    cm.mark_true("Other")
    assert _ready(st) == ("True", None, None)
