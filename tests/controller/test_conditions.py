from __future__ import annotations

from datetime import UTC, datetime, timedelta

from zeroserve.api.conditions import REVISION_CONDITIONS, ROUTE_CONDITIONS, SERVICE_CONDITIONS
from zeroserve.api.meta import Status

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = T0 + timedelta(seconds=30)


def _c(status: Status, type_: str) -> tuple[str, str | None, str | None]:
    c = status.get_condition(type_)
    assert c is not None
    return c.status, c.reason, c.message


def test_initialize_adds_unknown_happy_and_dependents() -> None:
    st = Status()
    SERVICE_CONDITIONS.manage(st, T0).initialize()
    assert [c.type for c in st.conditions] == ["ConfigurationsReady", "Ready", "RoutesReady"]
    assert all(c.status == "Unknown" for c in st.conditions)


def test_ready_true_only_when_all_dependents_true() -> None:
    st = Status()
    cm = REVISION_CONDITIONS.manage(st, T0)
    cm.initialize()
    cm.mark_true("ResourcesAvailable")
    assert _c(st, "Ready")[0] == "Unknown"
    cm.mark_true("ContainerHealthy")
    assert _c(st, "Ready") == ("True", None, None)
    assert cm.is_happy()


def test_false_dependent_wins_over_later_unknown() -> None:
    st = Status()
    cm = REVISION_CONDITIONS.manage(st, T0)
    cm.initialize()
    cm.mark_false("ContainerHealthy", "ExitCode1", "Container failed with: boom")
    cm.mark_unknown("ResourcesAvailable", "Deploying", "")
    assert _c(st, "Ready") == ("False", "ExitCode1", "Container failed with: boom")
    cm.mark_true("ContainerHealthy")
    assert _c(st, "Ready") == ("Unknown", "Deploying", None)


def test_missing_dependent_counts_as_unknown() -> None:
    st = Status()
    cm = ROUTE_CONDITIONS.manage(st, T0)
    cm.mark_true("AllTrafficAssigned")
    cm.mark_true("IngressReady")
    assert _c(st, "Ready")[0] == "Unknown"
    cm.mark_true("CertificateProvisioned", "TLSNotEnabled", "x")
    assert _c(st, "Ready")[0] == "True"


def test_last_transition_time_changes_with_status_reason_or_message() -> None:
    """condition_set.go SetCondition: only an unchanged condition keeps its time."""
    st = Status()
    REVISION_CONDITIONS.manage(st, T0).mark_unknown("ResourcesAvailable", "Deploying", "")
    first = st.get_condition("ResourcesAvailable")
    assert first is not None and first.last_transition_time == "2026-01-01T00:00:00Z"
    cm = REVISION_CONDITIONS.manage(st, T1)
    cm.mark_unknown("ResourcesAvailable", "Deploying", "")
    same = st.get_condition("ResourcesAvailable")
    assert same is not None and same.last_transition_time == "2026-01-01T00:00:00Z"
    cm.mark_unknown("ResourcesAvailable", "Other", "changed message")
    changed = st.get_condition("ResourcesAvailable")
    assert changed is not None and changed.last_transition_time == "2026-01-01T00:00:30Z" and changed.reason == "Other"


def test_non_terminal_condition_is_info_and_does_not_touch_ready() -> None:
    st = Status()
    cm = REVISION_CONDITIONS.manage(st, T0)
    cm.initialize()
    cm.mark_true("ResourcesAvailable")
    cm.mark_true("ContainerHealthy")
    cm.mark_false("Active", "NoTraffic", "The target is not receiving traffic.")
    active = st.get_condition("Active")
    assert active is not None and active.severity == "Info"
    assert _c(st, "Ready")[0] == "True"
