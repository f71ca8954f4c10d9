"""Core v1 Events, pure: kube-apiserver's validation of v1 events (legacyValidateEvent + the path
segment name) and the cells of its Event table (printEvent)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from zeroserve.api import admission, printers
from zeroserve.api.base import Obj
from zeroserve.api.corevalidation import KubeInvalid
from zeroserve.api.kinds import EVENT
from zeroserve.config import Config

NOW = datetime(2026, 1, 1, 1, 0, 0, tzinfo=UTC)


def event(**more: Any) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "hello.17a", "namespace": "default"},
        "involvedObject": {"kind": "Service", "name": "hello", "namespace": "default"},
        "reason": "Created",
        "message": "m",
        **more,
    }


def admit(obj: Obj) -> Obj:
    return admission.admit(EVENT, obj, None, Config())


def test_a_record_style_event_is_admitted_as_sent() -> None:
    obj = event(count=2, firstTimestamp="2026-01-01T00:00:00Z", source={"component": "c"})
    assert admit(obj) == obj


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        pytest.param(
            event(involvedObject={"kind": "Service", "name": "x", "namespace": "prod"}),
            'involvedObject.namespace: Invalid value: "prod": does not match event.namespace',
            id="namespace-mismatch",
        ),
        pytest.param(
            event(metadata={"name": "..", "namespace": "default"}),
            "metadata.name: Invalid value: \"..\": may not be '..'",
            id="dot-dot-name",
        ),
        pytest.param(
            event(metadata={"name": "a/b%c", "namespace": "default"}),
            "[metadata.name: Invalid value: \"a/b%c\": may not contain '%', "
            "metadata.name: Invalid value: \"a/b%c\": may not contain '/']",
            id="slash-and-percent",
        ),
        pytest.param(
            event(eventTime="2026-01-01T00:00:00.000001Z", reportingComponent="c", reportingInstance="i"),
            "action: Required value",
            id="new-style-needs-an-action",
        ),
        pytest.param(
            event(
                eventTime="2026-01-01T00:00:00.000001Z",
                reportingComponent="c",
                reportingInstance="i",
                action="a",
                reason="r" * 129,
            ),
            'reason: Invalid value: "": can have at most 128 characters',
            id="new-style-reason-too-long",
        ),
        pytest.param(
            event(lastTimestamp="yesterday"),
            'lastTimestamp: Invalid value: "yesterday": must be an RFC 3339 time (2006-01-02T15:04:05Z)',
            id="bad-time",
        ),
        pytest.param(event(count="2"), 'count: invalid type: got "string", expected "integer"', id="count-not-an-int"),
    ],
)
def test_refusals(obj: Obj, message: str) -> None:
    with pytest.raises(KubeInvalid) as refused:
        admit(obj)
    assert message in refused.value.message


def test_a_cluster_scoped_objects_event_lives_in_default() -> None:
    obj = event(involvedObject={"kind": "Namespace", "name": "prod"})
    assert admit(obj)["involvedObject"] == {"kind": "Namespace", "name": "prod"}


@pytest.mark.parametrize(
    ("obj", "seen"),
    [
        pytest.param(
            event(firstTimestamp="2026-01-01T00:00:00Z", lastTimestamp="2026-01-01T00:55:00Z", count=4),
            ("60m", "5m", 4),
            id="record-style",
        ),
        pytest.param(event(firstTimestamp="2026-01-01T00:59:30Z"), ("30s", "30s", 1), id="singleton"),
        pytest.param(
            event(
                eventTime="2026-01-01T00:49:59.500000Z", series={"count": 7, "lastObservedTime": "2026-01-01T00:59:00Z"}
            ),
            ("10m", "60s", 7),
            id="events-k8s-io-series",
        ),
        pytest.param(event(), ("<unknown>", "<unknown>", 1), id="no-times"),
    ],
)
def test_first_seen_last_seen_and_count(obj: Obj, seen: tuple[str, str, int]) -> None:
    assert printers.event_seen(obj, NOW) == seen


def test_object_and_source_cells() -> None:
    assert printers.event_object(event()) == "service/hello"
    assert printers.event_object(event(involvedObject={"kind": "Node"})) == "node"
    assert printers.event_source(event(source={"component": "kubelet", "host": "n1"})) == "kubelet, n1"
    assert printers.event_source(event(reportingComponent="c", reportingInstance="i")) == "c, i"
