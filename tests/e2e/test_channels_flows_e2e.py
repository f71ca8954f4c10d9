"""Channels, Subscriptions, Sequences and Parallels through ``zeroserve up`` (issue 17's Done-when):
a Channel's events reach a Service through a Subscription and survive a restart of ``up`` (durable,
unlike Knative's InMemoryChannel); a Sequence of two Services transforms an event and replies into a
Broker, whose Trigger hands it to a recorder; a Parallel fans out by filter."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.e2e.harness import Up
from tests.e2e.test_eventing_e2e import ce_attributes, ksvc, ready, received, service, start_up, trigger
from tests.support.polling import wait_for
from zeroserve.api.kinds import (
    BROKER,
    CHANNEL,
    IN_MEMORY_CHANNEL,
    PARALLEL,
    SEQUENCE,
    SERVICE,
    SUBSCRIPTION,
    TRIGGER,
    Kind,
)

MESSAGING = "messaging.knative.dev/v1"


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    server = start_up(tmp_path)
    try:
        yield server
    finally:
        if server.proc is not None:  # stop() closes the log of one that died too
            server.stop()


def obj(kind: Kind, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": kind.api_version, "kind": kind.kind, "metadata": {"name": name}, "spec": spec}


def post_event(up: Up, url: str, event_id: str, event_type: str, data: dict[str, Any]) -> int:
    """A binary CloudEvent POSTed to an address as a process on the host reaches it."""
    target, internal = urlsplit(url), urlsplit(up.endpoints["internal"])
    headers = {
        "Host": target.netloc,
        "Ce-Specversion": "1.0",
        "Ce-Id": event_id,
        "Ce-Source": "/e2e",
        "Ce-Type": event_type,
        "Content-Type": "application/json",
    }
    conn = http.client.HTTPConnection(internal.hostname or "127.0.0.1", internal.port, timeout=30)
    try:
        conn.request("POST", target.path or "/", body=json.dumps(data).encode(), headers=headers)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def ids(up: Up, name: str) -> list[str]:
    return sorted(ce_attributes(r)["id"] for r in received(up, name))


def test_channel_subscription_delivers_durably(tmp_path: Path) -> None:
    up = start_up(tmp_path)
    try:
        c = up.client()
        c.create(SERVICE, service("sink"))
        ready(up, SERVICE, "sink")
        # kn's commands: channel create, subscription create --channel --sink
        assert up.cli("channel", "create", "orders").stdout == "Channel 'orders' created in namespace 'default'.\n"
        up.cli("subscription", "create", "to-sink", "--channel", "orders", "--sink", "ksvc:sink")
        channel = ready(up, CHANNEL, "orders")
        assert channel["spec"]["channelTemplate"] == {"apiVersion": MESSAGING, "kind": "InMemoryChannel"}
        assert channel["status"]["channel"]["kind"] == "InMemoryChannel"
        url = channel["status"]["address"]["url"]
        assert url == "http://orders-kn-channel.default.svc.cluster.local"
        got = ready(up, SUBSCRIPTION, "to-sink")
        assert got["status"]["physicalSubscription"]["subscriberUri"] == "http://sink.default.svc.cluster.local"
        types = {cond["type"] for cond in got["status"]["conditions"]}
        assert types == {"Ready", "ReferencesResolved", "AddedToChannel", "ChannelReady", "OIDCIdentityCreated"}
        imc = c.get(IN_MEMORY_CHANNEL, "default", "orders")
        assert [s["uid"] for s in imc["spec"]["subscribers"]] == [got["metadata"]["uid"]]
        assert c.get(CHANNEL, "default", "orders")["status"]["subscribers"][0]["ready"] == "True"
        listed = up.cli("channel", "list").stdout.splitlines()
        assert listed[1].split() == ["orders", "InMemoryChannel", url, listed[1].split()[3], "True"]
        row = up.cli("subscription", "list").stdout.splitlines()[1].split()
        assert row[:3] == ["to-sink", "Channel:orders", "ksvc:sink"] and row[-1] == "True"

        assert post_event(up, url, "e-1", "order.created", {"n": 1}) == 202
        wait_for(lambda: ids(up, "sink") == ["e-1"], 30, "the event at the subscriber")
        up.stop()
        up = start_up(tmp_path)  # the same data: the channel's log and the subscriber's cursor survive
        c = up.client()
        ready(up, SERVICE, "sink")
        assert post_event(up, url, "e-2", "order.created", {"n": 2}) == 202
        wait_for(lambda: ids(up, "sink") == ["e-2"], 30, "only the new event after the restart")
        up.cli("subscription", "delete", "to-sink")
        wait_for(lambda: not c.get(IN_MEMORY_CHANNEL, "default", "orders")["spec"].get("subscribers"), 30, "removed")
    finally:
        if up.proc is not None:  # stop() closes the log of one that died too
            up.stop()


def test_sequence_transforms_and_replies_into_a_broker(up: Up) -> None:
    c = up.client()
    c.create(BROKER, {"apiVersion": "eventing.knative.dev/v1", "kind": "Broker", "metadata": {"name": "default"}})
    c.create(SERVICE, service("first", {"REPLY_TYPE": "step.one"}))
    c.create(SERVICE, service("second", {"REPLY_TYPE": "step.two"}))
    c.create(SERVICE, service("recorder"))
    c.create(TRIGGER, trigger("done", "step.two", ksvc("recorder")))
    broker_ref = {"ref": {"apiVersion": "eventing.knative.dev/v1", "kind": "Broker", "name": "default"}}
    c.create(SEQUENCE, obj(SEQUENCE, "pipeline", {"steps": [ksvc("first"), ksvc("second")], "reply": broker_ref}))
    seq = ready(up, SEQUENCE, "pipeline")
    ready(up, TRIGGER, "done")
    for name in ("first", "second", "recorder"):
        ready(up, SERVICE, name)
    assert [s["channel"]["name"] for s in seq["status"]["channelStatuses"]] == [
        "pipeline-kn-sequence-0",
        "pipeline-kn-sequence-1",
    ]
    assert [s["subscription"]["name"] for s in seq["status"]["subscriptionStatuses"]] == [
        "pipeline-kn-sequence-0",
        "pipeline-kn-sequence-1",
    ]
    assert seq["status"]["address"]["url"] == "http://pipeline-kn-sequence-0-kn-channel.default.svc.cluster.local"
    assert post_event(up, seq["status"]["address"]["url"], "in-1", "order.created", {"n": 1}) == 202
    got = wait_for(lambda: received(up, "recorder"), 30, "the transformed event through the broker")
    attrs = ce_attributes(got[0])
    assert attrs["type"] == "step.two" and attrs["data"] == {"n": 1, "steps": ["step.one", "step.two"]}


def test_parallel_fans_out_by_filter(up: Up) -> None:
    c = up.client()
    # a filter passes an event by answering it back (STATUS 200 + REPLY_TYPE), drops it by answering nothing
    c.create(SERVICE, service("pass", {"REPLY_TYPE": "filtered"}))
    c.create(SERVICE, service("drop"))
    c.create(SERVICE, service("a"))
    c.create(SERVICE, service("b"))
    c.create(SERVICE, service("everyone"))
    branches = [
        {"filter": ksvc("pass"), "subscriber": ksvc("a")},
        {"filter": ksvc("drop"), "subscriber": ksvc("b")},
        {"subscriber": ksvc("everyone")},
    ]
    c.create(PARALLEL, obj(PARALLEL, "fan", {"branches": branches}))
    par = ready(up, PARALLEL, "fan")
    for name in ("pass", "drop", "a", "b", "everyone"):
        ready(up, SERVICE, name)
    assert par["status"]["ingressChannelStatus"]["channel"]["name"] == "fan-kn-parallel"
    assert [b["filterChannelStatus"]["channel"]["name"] for b in par["status"]["branchStatuses"]] == [
        "fan-kn-parallel-0",
        "fan-kn-parallel-1",
        "fan-kn-parallel-2",
    ]
    assert post_event(up, par["status"]["address"]["url"], "p-1", "order.created", {"n": 1}) == 202
    wait_for(lambda: received(up, "a") and received(up, "everyone"), 30, "branches a and everyone")
    assert ce_attributes(received(up, "a")[0])["type"] == "filtered"
    assert ids(up, "everyone") == ["p-1"]
    wait_for(lambda: received(up, "drop"), 30, "the dropping filter saw the event")
    assert received(up, "b") == []


DOCS = Path(__file__).parent / "knative_docs"


def test_knative_docs_channel_subscription_sequence_parallel_apply_and_become_ready(up: Up) -> None:
    """Knative's documentation samples, applied as published (knative_docs/SOURCES.md): the Services
    they name run examples/event-recorder, as their images cannot be pulled here (no network)."""
    c = up.client()
    names = ["first", "second", "third", "event-display", "even-filter", "odd-filter"]
    for name in [*names, "even-transformer", "odd-transformer"]:
        c.create(SERVICE, service(name))
    c.create(IN_MEMORY_CHANNEL, obj(IN_MEMORY_CHANNEL, "replies", {}))  # the subscription sample's reply
    for sample in ("channel.yaml", "subscription.yaml", "sequence.yaml", "parallel.yaml"):
        up.cli("apply", "-f", str(DOCS / sample))
    ready(up, CHANNEL, "example-channel")
    sub = ready(up, SUBSCRIPTION, "example-subscription")["status"]["physicalSubscription"]
    assert sub["replyUri"] == "http://replies-kn-channel.default.svc.cluster.local"
    assert sub["deadLetterSinkUri"] == "http://event-display.default.svc.cluster.local"
    seq = ready(up, SEQUENCE, "sequence")
    assert len(seq["status"]["subscriptionStatuses"]) == 3
    par = ready(up, PARALLEL, "odd-even-parallel")
    assert (
        par["status"]["address"]["url"] == "http://odd-even-parallel-kn-parallel-kn-channel.default.svc.cluster.local"
    )
