"""An ApiServerSource on a real ``zeroserve up`` (issue 17's Done-when): a Service's creation, change
and deletion arrive as ``dev.knative.apiserver.resource.add|update|delete`` through a Broker and a
Trigger at a recorder Service, with Knative's attributes; the source's EventTypes are registered
(``zeroserve eventtype list``); ``zeroserve source apiserver`` makes the source."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import Up
from tests.e2e.test_eventing_e2e import ce_attributes, ready, received, service, start_up, trigger
from tests.support.polling import wait_for
from zeroserve import errors
from zeroserve.api.kinds import APISERVERSOURCE, BROKER, EVENTTYPE, SERVICE, TRIGGER

VERBS = ("add", "update", "delete")


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    server = start_up(tmp_path)
    try:
        yield server
    finally:
        if server.proc is not None:  # stop() closes the log of one that died too
            server.stop()


def watched_events(up: Up) -> list[dict[str, Any]]:
    return [ce_attributes(r) for r in received(up, "recorder")]


def test_apiserversource_sends_a_services_add_update_delete_through_a_broker(up: Up) -> None:
    c = up.client()
    c.create(BROKER, {"apiVersion": "eventing.knative.dev/v1", "kind": "Broker", "metadata": {"name": "default"}})
    recorder = service("recorder")
    recorder["spec"]["template"]["metadata"]["annotations"]["autoscaling.knative.dev/min-scale"] = "1"
    c.create(SERVICE, recorder)
    ready(up, BROKER, "default")
    ready(up, SERVICE, "recorder")
    subscriber = {"ref": {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "recorder"}}
    watched_trigger = trigger("watched", "", subscriber)
    watched_trigger["spec"]["filter"] = {"attributes": {"kind": "Service", "name": "watched"}}
    c.create(TRIGGER, watched_trigger)
    ready(up, TRIGGER, "watched")
    up.cli(
        "source", "apiserver", "create", "services",
        "--resource", "Service:serving.knative.dev/v1:app=watched",
        "--mode", "Resource", "--sink", "broker:default", "--ce-override", "origin=e2e",
    )  # fmt: skip
    source = ready(up, APISERVERSOURCE, "services")
    assert source["status"]["sinkUri"].endswith("/default/default")

    watched = service("watched")
    watched["metadata"]["labels"] = {"app": "watched"}
    c.create(SERVICE, watched)
    for _ in range(10):  # the controller writes the Service's status meanwhile
        svc = c.get(SERVICE, "default", "watched")
        svc["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "CHANGED", "value": "yes"}]
        try:
            c.update(SERVICE, svc)
            break
        except errors.Conflict:
            continue
    c.delete(SERVICE, "default", "watched")

    def delete_seen() -> list[dict[str, Any]] | None:
        events = watched_events(up)
        return events if any(e["type"].endswith(".delete") for e in events) else None

    events = wait_for(delete_seen, 15, "the watched Service's delete event")
    verbs = [e["type"].removeprefix("dev.knative.apiserver.resource.") for e in events]
    assert verbs[0] == "add" and verbs[-1] == "delete" and set(verbs[1:-1]) == {"update"}, verbs
    add = events[0]
    assert add["source"] == up.endpoints["api"]
    assert add["subject"] == "/apis/serving.knative.dev/v1/namespaces/default/services/watched"
    assert (add["kind"], add["apiversion"], add["name"], add["namespace"]) == (
        "Service",
        "serving.knative.dev/v1",
        "watched",
        "default",
    )
    assert add["origin"] == "e2e" and add["data"]["metadata"]["labels"]["app"] == "watched"
    changed = [e for e in events[1:-1] if e["data"]["spec"]["template"]["spec"]["containers"][0].get("env")]
    assert changed, "no update carries the changed spec"
    assert len({e["id"] for e in events}) == len(events)

    def registered() -> set[str] | None:
        items = c.list(EVENTTYPE, "default").get("items") or []
        types = {str(et["spec"]["type"]) for et in items}
        return types if {f"dev.knative.apiserver.resource.{v}" for v in VERBS} <= types else None

    wait_for(registered, 10, "the source's EventTypes")
    listed = up.cli("eventtype", "list").stdout
    assert "dev.knative.apiserver.resource.update" in listed and "default" in listed, listed
