"""A ContainerSource through ``zeroserve up``: its command runs as a process kept running with
``K_SINK`` (and ``K_CE_OVERRIDES``) set, the events it POSTs there reach a Service (woken at zero),
its SinkBinding ``NAME-sinkbinding`` is Ready, and deleting the source stops the process."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import Up
from tests.e2e.test_eventing_e2e import ksvc, ready, received, service, start_up
from tests.support.polling import wait_for
from zeroserve.api.kinds import CONTAINERSOURCE, SERVICE, SINKBINDING
from zeroserve.errors import NotFound


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    server = start_up(tmp_path)
    try:
        yield server
    finally:
        if server.proc is not None:  # stop() closes the log of one that died too
            server.stop()


def processes_with(marker: str) -> list[int]:
    """Pids whose command line holds ``marker`` (the adapter's own event type)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            continue
    return found


def test_containersource_delivers_from_its_process_and_stops_when_deleted(up: Up) -> None:
    c = up.client()
    c.create(SERVICE, service("heard"))
    ready(up, SERVICE, "heard")
    marker = f"dev.example.beat-{uuid.uuid4().hex[:8]}"
    command = ["python3", "examples/sink-producer/app.py", "--period", "0.3", "--type", marker]
    c.create(
        CONTAINERSOURCE,
        {
            "apiVersion": "sources.knative.dev/v1",
            "kind": "ContainerSource",
            "metadata": {"name": "beats", "namespace": "default"},
            "spec": {
                "template": {"spec": {"containers": [{"command": command}]}},
                "sink": ksvc("heard"),
                "ceOverrides": {"extensions": {"team": "e2e"}},
            },
        },
    )
    source = ready(up, CONTAINERSOURCE, "beats")
    assert source["status"]["sinkUri"] == "http://heard.default.svc.cluster.local"
    assert {c["type"] for c in source["status"]["conditions"]} == {"Ready", "SinkBindingReady", "ReceiveAdapterReady"}
    binding = ready(up, SINKBINDING, "beats-sinkbinding")
    assert binding["spec"]["subject"]["kind"] == "ContainerSource"

    got = wait_for(lambda: (r := received(up, "heard")) and len(r) >= 2 and r, 15, "two events from the adapter")
    headers = got[0]["headers"]
    assert (headers["ce-type"], headers["ce-source"], headers["ce-team"]) == (marker, "/sink-producer", "e2e")
    assert [r["body"] for r in got[:2]] == ['{"n": 1}', '{"n": 2}']
    assert processes_with(marker), "the adapter runs as a process"

    c.delete(CONTAINERSOURCE, "default", "beats")
    wait_for(lambda: not processes_with(marker), 10, "the adapter's process gone")

    def binding_gone() -> bool:
        try:
            c.get(SINKBINDING, "default", "beats-sinkbinding")
        except NotFound:
            return True
        return False

    wait_for(binding_gone, 10, "its SinkBinding deleted with it")
    count = len(received(up, "heard"))
    assert count >= 2 and len(received(up, "heard")) == count
