"""PingSource and SinkBinding through ``zeroserve up`` (issue 17's Done-when):

* a PingSource with a seconds schedule (``*/2 * * * * *``) wakes a Service at zero instances and
  delivers events with Knative's attributes (type ``dev.knative.sources.ping``, source
  ``/apis/v1/namespaces/NS/pingsources/NAME``), its data and content type, and the ``ceOverrides``
  extension; Knative's documentation sample (tests/e2e/knative_docs/ping-source.yaml) applies
  unchanged and is Ready;
* a SinkBinding's subject Service gets ``K_SINK`` and ``K_CE_OVERRIDES`` in a new revision, and an
  event it POSTs to ``K_SINK`` (a Broker) reaches a Trigger's subscriber.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.e2e.harness import Up
from tests.e2e.test_eventing_e2e import ksvc, ready, received, service, start_up, trigger
from tests.support.polling import wait_for
from zeroserve.api.kinds import BROKER, PINGSOURCE, REVISION, SERVICE, SINKBINDING, TRIGGER

DOCS_PING = Path(__file__).parent / "knative_docs" / "ping-source.yaml"
PRODUCER = ["python3", "examples/sink-producer/app.py"]


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    server = start_up(tmp_path)
    try:
        yield server
    finally:
        if server.proc is not None:  # stop() closes the log of one that died too
            server.stop()


def post_internal(up: Up, host: str, path: str, body: bytes) -> tuple[int, str]:
    base = urlsplit(up.endpoints["internal"])
    conn = http.client.HTTPConnection(base.hostname or "127.0.0.1", base.port, timeout=30)
    try:
        conn.request("POST", path, body=body, headers={"Host": host, "Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, resp.read().decode(errors="replace")
    finally:
        conn.close()


def ping_source(name: str, sink: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "sources.knative.dev/v1",
        "kind": "PingSource",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "schedule": "*/2 * * * * *",
            "contentType": "application/json",
            "data": '{"message": "Hello world!"}',
            "ceOverrides": {"extensions": {"origin": "e2e"}},
            "sink": sink,
        },
    }


def test_pingsource_wakes_a_service_at_zero_with_knatives_attributes(up: Up) -> None:
    c = up.client()
    c.create(SERVICE, service("pinged"))
    ready(up, SERVICE, "pinged")
    assert c.get(REVISION, "default", "pinged-00001")["status"].get("actualReplicas") == 0, "at zero instances"
    c.create(PINGSOURCE, ping_source("every-2s", ksvc("pinged")))
    source = ready(up, PINGSOURCE, "every-2s")
    assert source["status"]["sinkUri"] == "http://pinged.default.svc.cluster.local"
    assert source["status"]["ceAttributes"] == [
        {"type": "dev.knative.sources.ping", "source": "/apis/v1/namespaces/default/pingsources/every-2s"}
    ]

    got = wait_for(lambda: (r := received(up, "pinged")) and len(r) >= 2 and r, 15, "two ping events")
    first, second = got[0]["headers"], got[1]["headers"]
    assert first["ce-type"] == "dev.knative.sources.ping"
    assert first["ce-source"] == "/apis/v1/namespaces/default/pingsources/every-2s"
    assert first["ce-origin"] == "e2e" and first["content-type"] == "application/json"
    assert json.loads(got[0]["body"]) == {"message": "Hello world!"}
    assert first["ce-id"] != second["ce-id"]
    ticks = [h["ce-time"] for h in (first, second)]
    assert all(int(t[17:19]) % 2 == 0 for t in ticks), f"ticks on even seconds: {ticks}"

    # Knative's documentation sample applies unchanged (its event-display sink: a recorder here)
    c.create(SERVICE, service("event-display"))
    up.cli("apply", "-f", str(DOCS_PING))
    docs = ready(up, PINGSOURCE, "test-ping-source")
    assert docs["spec"]["schedule"] == "*/2 * * * *"
    assert docs["status"]["sinkUri"] == "http://event-display.default.svc.cluster.local"


def test_sinkbinding_gives_its_subject_k_sink_and_events_reach_a_broker(up: Up) -> None:
    c = up.client()
    c.create(BROKER, {"apiVersion": "eventing.knative.dev/v1", "kind": "Broker", "metadata": {"name": "default"}})
    c.create(SERVICE, service("recorder"))
    c.create(TRIGGER, trigger("produced", "dev.example.produced", ksvc("recorder")))
    producer = service("producer")
    producer["spec"]["template"]["spec"]["containers"][0]["command"] = PRODUCER
    c.create(SERVICE, producer)
    ready(up, SERVICE, "producer")
    c.create(
        SINKBINDING,
        {
            "apiVersion": "sources.knative.dev/v1",
            "kind": "SinkBinding",
            "metadata": {"name": "bind-producer", "namespace": "default"},
            "spec": {
                "subject": {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "producer"},
                "sink": {"ref": {"apiVersion": "eventing.knative.dev/v1", "kind": "Broker", "name": "default"}},
                "ceOverrides": {"extensions": {"team": "e2e"}},
            },
        },
    )
    binding = ready(up, SINKBINDING, "bind-producer")
    broker_url = "http://broker-ingress.knative-eventing.svc.cluster.local/default/default"
    assert binding["status"]["sinkUri"] == broker_url
    svc = wait_for(
        lambda: (
            (s := c.get(SERVICE, "default", "producer"))["status"].get("latestReadyRevisionName") == "producer-00002"
            and s
        ),
        30,
        "a second, ready revision",
    )
    env = svc["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "K_SINK", "value": broker_url} in env
    ready(up, TRIGGER, "produced")

    status, body = up.get("producer.default.svc.cluster.local", "/", internal=True)
    assert status == 200 and json.loads(body) == {
        "K_SINK": broker_url,
        "K_CE_OVERRIDES": '{"extensions":{"team":"e2e"}}',
    }
    status, body = post_internal(up, "producer.default.svc.cluster.local", "/emit", b'{"n": 1}')
    assert status == 200 and json.loads(body) == {"sinkStatus": 202}, body
    got = wait_for(lambda: received(up, "recorder"), 15, "the produced event at the recorder")
    headers = got[0]["headers"]
    assert headers["ce-type"] == "dev.example.produced" and headers["ce-team"] == "e2e"
    assert json.loads(got[0]["body"]) == {"n": 1}
