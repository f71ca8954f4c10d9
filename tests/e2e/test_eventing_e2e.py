"""Brokers and Triggers through ``zeroserve up`` (issue 16's Done-when): events sent with the
CloudEvents SDK reach a Service at zero instances with their attributes intact (binary and
structured), a non-matching event does not; a subscriber failing three times gets the event on its
4th try after Knative's exponential backoff; one failing forever ends in the dead letter sink with
the error extensions; kill -9 of ``up`` with 1,000 accepted events in flight loses none."""

from __future__ import annotations

import base64
import http.client
import itertools
import json
import re
import signal
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from cloudevents.core.bindings import http as ce_http
from cloudevents.core.v1.event import CloudEvent

from tests.e2e.harness import Up
from tests.support.polling import wait_for
from zeroserve.api.kinds import BROKER, REVISION, SERVICE, TRIGGER

RECORDER = ["python3", "examples/event-recorder/app.py"]
CONFIG = "config-autoscaler:\n  allow-zero-initial-scale: 'true'\n"


def start_up(tmp_path: Path, config: str = CONFIG) -> Up:
    data = tmp_path / "data"
    data.mkdir(parents=True, exist_ok=True)
    (data / "config.yaml").write_text(config)
    up = Up(data)
    up.start()
    return up


def service(name: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    annotations = {"autoscaling.knative.dev/initial-scale": "0", "autoscaling.knative.dev/max-scale": "1"}
    container: dict[str, Any] = {"command": RECORDER}
    if env:
        container["env"] = [{"name": k, "value": v} for k, v in env.items()]
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"template": {"metadata": {"annotations": annotations}, "spec": {"containers": [container]}}},
    }


def ksvc(name: str) -> dict[str, Any]:
    return {"ref": {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": name}}


def trigger(name: str, event_type: str, subscriber: dict[str, Any], delivery: dict[str, Any] | None = None) -> Any:
    spec: dict[str, Any] = {
        "broker": "default",
        "filter": {"attributes": {"type": event_type}},
        "subscriber": subscriber,
    }
    if delivery:
        spec["delivery"] = delivery
    return {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Trigger",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
    }


def ready(up: Up, kind: Any, name: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        obj = up.client().get(kind, "default", name)
        conditions = obj.get("status", {}).get("conditions", [])
        return obj if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions) else None

    return wait_for(check, 30, f"{kind.kind} {name} Ready")  # type: ignore[no-any-return]


def post(up: Up, broker: dict[str, Any], headers: dict[str, str], body: bytes) -> int:
    """POST to the Broker's address as a process on the host reaches it (the internal listener)."""
    url = urlsplit(broker["status"]["address"]["url"])
    internal = urlsplit(up.endpoints["internal"])
    conn = http.client.HTTPConnection(internal.hostname or "127.0.0.1", internal.port, timeout=30)
    try:
        conn.request("POST", url.path, body=body, headers={**headers, "Host": url.netloc})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


def send(up: Up, broker: dict[str, Any], event: CloudEvent, structured: bool = False) -> None:
    message = ce_http.to_structured_event(event) if structured else ce_http.to_binary_event(event)
    assert post(up, broker, dict(message.headers), message.body) == 202


def received(up: Up, name: str) -> list[dict[str, Any]]:
    status, body = up.get(f"{name}.default.svc.cluster.local", "/events", internal=True)
    assert status == 200, body
    return json.loads(body)  # type: ignore[no-any-return]


def ce_attributes(record: dict[str, Any]) -> dict[str, Any]:
    headers = record["headers"]
    if headers.get("content-type", "").startswith("application/cloudevents+json"):
        return json.loads(record["body"])  # type: ignore[no-any-return]
    attrs: dict[str, Any] = {k[3:]: v for k, v in headers.items() if k.startswith("ce-")}
    attrs["data"] = json.loads(record["body"])
    return attrs


def backlog(up: Up, trigger_name: str) -> float | None:
    pattern = rf'zeroserve_eventing_backlog_events{{[^}}]*trigger="{trigger_name}"[^}}]*}} (\S+)'
    m = re.search(pattern, up.api_get("/metrics"))
    return float(m.group(1)) if m else None


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Up]:
    server = start_up(tmp_path)
    try:
        yield server
    finally:
        if server.proc is not None:  # stop() closes the log of one that died too
            server.stop()


def test_triggers_deliver_filter_retry_and_dead_letter(up: Up) -> None:
    c = up.client()
    c.create(BROKER, {"apiVersion": "eventing.knative.dev/v1", "kind": "Broker", "metadata": {"name": "default"}})
    for name, env in (("recorder", None), ("flaky", {"FAIL_FIRST": "3"}), ("broken", {"STATUS": "500"}), ("dls", None)):
        c.create(SERVICE, service(name, env))
    c.create(TRIGGER, trigger("orders", "order.created", ksvc("recorder")))
    backoff = {"backoffPolicy": "exponential", "backoffDelay": "PT0.2S"}
    c.create(TRIGGER, trigger("flaky", "flaky.test", ksvc("flaky"), {"retry": 5, **backoff}))
    doomed = {"retry": 2, "backoffPolicy": "linear", "backoffDelay": "PT0.1S", "deadLetterSink": ksvc("dls")}
    c.create(TRIGGER, trigger("doomed", "doomed.test", ksvc("broken"), doomed))
    broker = ready(up, BROKER, "default")
    for name in ("orders", "flaky", "doomed"):
        ready(up, TRIGGER, name)
    for name in ("recorder", "flaky", "broken", "dls"):
        ready(up, SERVICE, name)  # routed: a 404 before that would be retried, and change the count
    broken_uri = c.get(TRIGGER, "default", "doomed")["status"]["subscriberUri"]
    assert c.get(REVISION, "default", "recorder-00001")["status"].get("actualReplicas") == 0, "at zero instances"

    common = {"source": "/shop", "subject": "order 42", "region": "eu-west"}
    send(up, broker, CloudEvent(attributes={"type": "order.updated", "id": "skip-me", **common}, data={"n": 0}))
    send(up, broker, CloudEvent(attributes={"type": "order.created", "id": "bin-1", **common}, data={"n": 1}))
    send(up, broker, CloudEvent(attributes={"type": "order.created", "id": "str-1", **common}, data={"n": 2}), True)
    send(up, broker, CloudEvent(attributes={"type": "flaky.test", "id": "flaky-1", "source": "/t"}, data={}))
    send(up, broker, CloudEvent(attributes={"type": "doomed.test", "id": "doomed-1", "source": "/t"}, data={}))

    # binary and structured both arrive, attributes intact; the Service was started by the delivery
    got = wait_for(lambda: (r := received(up, "recorder")) and len(r) >= 2 and r, 30, "two order.created events")
    by_id = {ce_attributes(r)["id"]: r for r in got}
    assert set(by_id) == {"bin-1", "str-1"}
    binary, structured = ce_attributes(by_id["bin-1"]), ce_attributes(by_id["str-1"])
    for attrs, n in ((binary, 1), (structured, 2)):
        assert attrs["type"] == "order.created" and attrs["source"] == "/shop" and attrs["specversion"] == "1.0"
        assert attrs["subject"] in ("order 42", "order%2042") and attrs["region"] == "eu-west"
        assert attrs["data"] == {"n": n} and "knativearrivaltime" in attrs and "knativebrokerttl" not in attrs
    assert by_id["bin-1"]["headers"]["prefer"] == "reply"
    assert by_id["bin-1"]["headers"].get("ce-subject") == "order%2042", "binary mode, percent-encoded"
    # the non-matching event was read and filtered out (the trigger owes nothing), never delivered
    wait_for(lambda: backlog(up, "orders") == 0, 10, "the orders trigger's backlog drained")
    assert {ce_attributes(r)["id"] for r in received(up, "recorder")} == {"bin-1", "str-1"}

    # 500 three times, then 200 on the 4th try, after 0.2 s, 0.4 s, 0.8 s
    flaky = wait_for(lambda: (r := received(up, "flaky")) and len(r) >= 4 and r, 30, "four attempts")
    assert len(flaky) == 4 and {ce_attributes(r)["id"] for r in flaky} == {"flaky-1"}
    gaps = [b["monotonic"] - a["monotonic"] for a, b in itertools.pairwise(flaky)]
    for gap, want in zip(gaps, (0.2, 0.4, 0.8), strict=True):
        assert want <= gap < want + 0.5, f"backoff gaps {gaps}"

    # retry: 2 -> three attempts, then the dead letter sink with the error extensions
    dead = wait_for(lambda: received(up, "dls"), 30, "the dead letter")
    assert len(received(up, "broken")) == 3
    assert len(dead) == 1
    attrs = ce_attributes(dead[0])
    assert attrs["id"] == "doomed-1" and attrs["type"] == "doomed.test"
    assert attrs["knativeerrordest"].replace("%3A", ":") == broken_uri
    assert attrs["knativeerrorcode"] == "500"
    assert base64.b64decode(attrs["knativeerrordata"]) == b"failing on purpose\n"
    metrics = up.api_get("/metrics")
    assert re.search(r'zeroserve_eventing_dead_lettered_events_total{[^}]*trigger="doomed"[^}]*} 1.0', metrics)
    assert re.search(r'zeroserve_eventing_retried_deliveries_total{[^}]*trigger="flaky"[^}]*} 3.0', metrics)


class Counting(ThreadingHTTPServer):
    """A subscriber on 127.0.0.1 outside ``up``: counts each event id it gets (200 after ``delay``)."""

    daemon_threads = True
    request_queue_size = 1024

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.gate = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.gate.wait(30)
                with server.lock:
                    server.seen[self.headers.get("ce-id", "")] += 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # connections of the killed `up` reset under the answers: expected

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"


def test_kill_9_with_a_thousand_events_in_flight_loses_none(tmp_path: Path) -> None:
    sub = Counting()
    up = start_up(tmp_path)
    try:
        c = up.client()
        c.create(BROKER, {"apiVersion": "eventing.knative.dev/v1", "kind": "Broker", "metadata": {"name": "default"}})
        c.create(TRIGGER, trigger("all", "bulk.test", {"uri": sub.url}))
        broker = ready(up, BROKER, "default")
        ready(up, TRIGGER, "all")

        def one(i: int) -> int:
            headers = {"ce-specversion": "1.0", "ce-id": f"e{i}", "ce-source": "/bulk", "ce-type": "bulk.test"}
            return post(up, broker, {**headers, "Content-Type": "application/json"}, b'{"i":%d}' % i)

        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(one, range(1000)))
        assert statuses == [202] * 1000, Counter(statuses)
        # the subscriber holds the first deliveries; let some through, then kill -9 mid-stream
        sub.gate.set()
        wait_for(lambda: len(sub.seen) >= 300, 30, "some deliveries done")
        up.stop(signal.SIGKILL)
        before = len(sub.seen)
        up.start()
        wait_for(lambda: len(sub.seen) == 1000, 60, "every event delivered after the restart")
        duplicates = sum(sub.seen.values()) - len(sub.seen)
        print(f"\nkill -9 after {before} of 1000 delivered: all 1000 delivered, {duplicates} duplicates")
        assert set(sub.seen) == {f"e{i}" for i in range(1000)}
    finally:
        if up.proc is not None:  # stop() closes the log of one that died too
            up.stop()
        sub.shutdown()
        sub.server_close()
