"""``zeroserve broker|trigger ...`` and ``event send`` as a subprocess against a real API server; the
texts are kn's (knative/client pkg/commands/{broker,trigger}) and the kn event plugin's. ``event send``
goes through a real gateway's internal listener to a real ingress over a real event log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli.cli_harness import Api
from zeroserve.api import eventing as ev
from zeroserve.api import kinds
from zeroserve.api.base import Obj
from zeroserve.cli.event import event_data, field_value
from zeroserve.cli.eventing import parse_filters, parse_sink
from zeroserve.eventing.ingress import BrokerSet, Ingress, IngressServer
from zeroserve.eventing.log import SqliteEventLog
from zeroserve.gateway import Gateway
from zeroserve.testing import service

ADDRESS = "http://broker-ingress.knative-eventing.svc.cluster.local/default/default"


def get(api: Api, kind: kinds.Kind, name: str, namespace: str = "default") -> Obj:
    return api.call(lambda: api.store.get(kind, namespace, name))


def ready(api: Api, kind: kinds.Kind, name: str, **status: Any) -> None:
    async def write() -> None:
        obj = await api.store.get(kind, "default", name)
        obj["status"] = {"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True"}], **status}
        await api.store.update_status(kind, obj)

    api.call(write)


def test_broker_create_list_describe_delete(api: Api) -> None:
    api.call(lambda: api.store.create(kinds.SERVICE, service("default", "dead")))
    assert api.cli("broker", "list").stdout == "No brokers found.\n"
    done = api.cli("broker", "create", "default")
    assert (done.returncode, done.stdout) == (0, "Broker 'default' successfully created in namespace 'default'.\n")
    defaulted = get(api, kinds.BROKER, "default")
    assert defaulted["metadata"]["annotations"] == {"eventing.knative.dev/broker.class": "MTChannelBasedBroker"}
    assert defaulted["spec"]["delivery"] == {"retry": 10, "backoffPolicy": "exponential", "backoffDelay": "PT0.2S"}
    flags = ["--class", "Kafka", "--dl-sink", "ksvc:dead", "--retry", "2", "--backoff-policy", "linear"]
    done = api.cli("broker", "create", "other", *flags, "--backoff-delay", "PT1S", "--timeout", "PT5S")
    assert done.returncode == 0, done.stderr
    other = get(api, kinds.BROKER, "other")
    assert other["metadata"]["annotations"]["eventing.knative.dev/broker.class"] == "Kafka"
    assert other["spec"]["delivery"] == {
        "deadLetterSink": {
            "ref": {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "dead", "namespace": "default"}
        },
        "retry": 2,
        "timeout": "PT5S",
        "backoffPolicy": "linear",
        "backoffDelay": "PT1S",
    }
    ready(api, kinds.BROKER, "default", address={"name": "http", "url": ADDRESS})
    rows = [line.split() for line in api.cli("broker", "list").stdout.splitlines()]
    assert rows[0] == ["NAME", "URL", "AGE", "CONDITIONS", "READY", "REASON"]
    assert rows[1][:2] == ["default", ADDRESS] and rows[1][-1] == "True"
    assert rows[2][0] == "other"
    text = api.cli("broker", "describe", "default").stdout
    assert "Address:\n  URL:" in text and ADDRESS in text and "Conditions:" in text
    assert api.cli("broker", "describe", "default", "-o", "url").stdout == ADDRESS + "\n"
    assert json.loads(api.cli("broker", "describe", "default", "-o", "json").stdout)["kind"] == "Broker"
    done = api.cli("broker", "create", "bad", "--backoff-delay", "soon")
    assert done.returncode == 1
    assert "cannot create broker 'bad' in namespace 'default' because:" in done.stderr
    assert "invalid value: soon: spec.delivery.backoffDelay" in done.stderr
    done = api.cli("broker", "delete", "other")
    assert done.stdout == "Broker 'other' successfully deleted in namespace 'default'.\n"
    assert api.cli("broker", "delete", "other").returncode == 1


def test_trigger_create_list_describe_update_delete(api: Api) -> None:
    api.call(lambda: api.store.create(kinds.SERVICE, service("default", "sink")))
    assert api.cli("trigger", "list").stdout == "No triggers found.\n"
    done = api.cli(
        "trigger", "create", "t1", "--broker", "default", "--filter", "type=order.created", "--sink", "ksvc:sink"
    )
    assert (done.returncode, done.stdout) == (0, "Trigger 't1' successfully created in namespace 'default'.\n")
    t1 = get(api, kinds.TRIGGER, "t1")
    assert t1["spec"] == {
        "broker": "default",
        "filter": {"attributes": {"type": "order.created"}},
        "subscriber": {
            "ref": {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "sink", "namespace": "default"}
        },
    }
    assert api.cli("trigger", "create", "t2", "--sink", "http://example.com/hook").returncode == 0
    assert get(api, kinds.TRIGGER, "t2")["spec"]["subscriber"] == {"uri": "http://example.com/hook"}
    done = api.cli("trigger", "create", "t3", "--sink", "nope")
    assert done.returncode == 1
    assert "cannot create trigger 't3' in namespace 'default' because:" in done.stderr
    assert 'services.serving.knative.dev "nope" not found' in done.stderr
    done = api.cli("trigger", "create", "t3", "--sink", "channel:pipe")
    assert done.returncode == 1 and "unsupported sink prefix 'channel'" in done.stderr
    assert api.cli("trigger", "create", "t3", "--sink", "ksvc:sink", "--filter", "type").returncode == 1

    ready(api, kinds.TRIGGER, "t1", subscriberUri="http://sink.default.svc.cluster.local")
    rows = [line.split() for line in api.cli("trigger", "list").stdout.splitlines()]
    assert rows[0] == ["NAME", "BROKER", "SINK", "AGE", "CONDITIONS", "READY", "REASON"]
    assert rows[1][:3] == ["t1", "default", "ksvc:sink"] and rows[1][-1] == "True"
    assert rows[2][:3] == ["t2", "default", "http://example.com/hook"]
    text = [" ".join(line.split()) for line in api.cli("trigger", "describe", "t1").stdout.splitlines()]
    for line in ("Broker: default", "Filter:", "type: order.created", "Sink:", "Name: sink"):
        assert line in text, text
    assert "Resource: Service (serving.knative.dev/v1)" in text

    done = api.cli("trigger", "update", "t1", "--filter", "type-", "--filter", "source=/shop")
    assert done.stdout == "Trigger 't1' updated in namespace 'default'.\n", done.stderr
    assert get(api, kinds.TRIGGER, "t1")["spec"]["filter"] == {"attributes": {"source": "/shop"}}
    assert api.cli("trigger", "delete", "t1").stdout == "Trigger 't1' deleted in namespace 'default'.\n"


@pytest.fixture
def eventing(api: Api, tmp_path: Path) -> Iterator[SqliteEventLog]:
    """A gateway (its internal listener), the ingress and an event log on the API server's loop."""
    state: dict[str, Any] = {}

    async def start() -> None:
        log = await SqliteEventLog(tmp_path / "events.db").open()
        brokers = BrokerSet()
        brokers.publish("default", "default")
        ingress = IngressServer(Ingress(log, brokers))
        port = await ingress.start()
        gateway = Gateway(external=("127.0.0.1", 0), internal=("127.0.0.1", 0))
        _, internal = await gateway.start()
        gateway.publish_service(ev.INGRESS_HOST, ("127.0.0.1", port))
        state.update(log=log, ingress=ingress, gateway=gateway, internal=internal)

    api.call(start)
    endpoints = json.loads((api.data_dir / "endpoints.json").read_text())
    endpoints["internal"] = f"http://127.0.0.1:{state['internal']}"
    (api.data_dir / "endpoints.json").write_text(json.dumps(endpoints))
    try:
        yield state["log"]
    finally:

        async def stop() -> None:
            await state["gateway"].stop(1)
            await state["ingress"].stop(1)
            await state["log"].close()

        api.call(stop)


def test_event_send_to_a_broker_prints_the_ingress_answer(api: Api, eventing: SqliteEventLog) -> None:
    assert api.cli("broker", "create", "default").returncode == 0
    done = api.cli("event", "send", "--to", "broker:default", "--type", "order.created")
    assert done.returncode == 1 and "broker 'default' has no address yet" in done.stderr
    ready(api, kinds.BROKER, "default", address={"name": "http", "url": ADDRESS})
    args = ["--type", "order.created", "--id", "e1", "--source", "/shop", "-f", "order.id=42", "-f", "ok=true"]
    done = api.cli("event", "send", "--to", "broker:default", *args, "--raw-field", "code=007")
    assert (done.returncode, done.stdout) == (0, "Event (ID: e1) have been sent: 202 Accepted.\n"), done.stderr
    [record] = eventing.read("default", "default", 0, 10)
    stored = json.loads(record.body)
    assert {k: stored[k] for k in ("id", "type", "source", "datacontenttype")} == {
        "id": "e1",
        "type": "order.created",
        "source": "/shop",
        "datacontenttype": "application/json",
    }
    assert stored["data"] == {"order": {"id": 42}, "ok": True, "code": "007"}
    assert "time" in stored and stored["knativebrokerttl"] == 255

    done = api.cli("event", "send", "--to", f"{ADDRESS.rsplit('/', 1)[0]}/nope", "--id", "e2")
    assert done.returncode == 1
    assert "answered 404 Not Found: broker default/nope not found" in done.stderr
    assert api.cli("event", "send", "--to", "broker:absent").returncode == 1


@pytest.mark.parametrize(
    ("text", "value"),
    [("true", True), ("false", False), ("True", "True"), ("18", 18), ("1.5", "1.5"), ("1.500000", 1.5), ("x", "x")],
)
def test_field_values_are_typed_as_the_plugin_types_them(text: str, value: object) -> None:
    assert field_value(text) == value and type(field_value(text)) is type(value)


def test_event_data_paths_and_conflicts() -> None:
    assert event_data(["a.b=1", "a.c=x"], ["a.d=2"]) == {"a": {"b": 1, "c": "x", "d": "2"}}
    with pytest.raises(Exception, match="path in conflict"):
        event_data(["a=1", "a.b=2"], [])


def test_sink_forms_and_filters() -> None:
    assert parse_sink("mysvc") == ("ksvc", "mysvc", "")
    assert parse_sink("ksvc:mysvc:other") == ("ksvc", "mysvc", "other")
    assert parse_sink("broker:nest") == ("broker", "nest", "")
    assert parse_sink("https://x.example.com:8443/p") == ("", "https://x.example.com:8443/p", "")
    assert parse_filters(["type=a,source=b", "subject="]) == ({"type": "a", "source": "b", "subject": ""}, [])
    assert parse_filters(["type-"], allow_removal=True) == ({}, ["type"])


def test_env_prints_the_proxy_exports(api: Api) -> None:
    done = api.cli("env")
    assert done.returncode == 1 and "no internal gateway recorded" in done.stderr
    endpoints = json.loads((api.data_dir / "endpoints.json").read_text())
    (api.data_dir / "endpoints.json").write_text(json.dumps({**endpoints, "internal": "http://127.0.0.1:4242"}))
    assert api.cli("env").stdout.splitlines() == [
        "export http_proxy=http://127.0.0.1:4242",
        "export HTTP_PROXY=http://127.0.0.1:4242",
        "export no_proxy=127.0.0.1,::1",
        "export NO_PROXY=127.0.0.1,::1",
    ]
