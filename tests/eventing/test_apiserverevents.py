"""ApiServerSource events as Knative's adapter builds them (pkg/adapter/apiserver/events/events_test.go,
filter_test.go): type per mode and verb, source, subject, extensions, data, overrides; the owner
filter, label selectors, namespaces and filters of a source's config."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from zeroserve.api.base import Obj
from zeroserve.api.kinds import API_KINDS, NAMESPACE, SERVICE
from zeroserve.eventing import encoding
from zeroserve.eventing.apiserverevents import (
    events_for,
    guess_resource,
    make_event,
    owner_passes,
    self_link,
    source_config,
)

NOW = datetime(2026, 12, 6, 5, 0, 0, 123000, tzinfo=UTC)
API = "https://127.0.0.1:8001"


def ksvc(name: str = "hello", ns: str = "default", labels: dict[str, str] | None = None, **meta: Any) -> Obj:
    metadata: Obj = {"name": name, "namespace": ns, "uid": "u1", "labels": labels or {}, **meta}
    return {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "metadata": metadata, "spec": {"b": 1, "a": 2}}


def source(mode: str = "Resource", status: Obj | None = None, **spec: Any) -> Obj:
    body: Obj = {
        "mode": mode,
        "resources": [{"apiVersion": "serving.knative.dev/v1", "kind": "Service"}],
        "sink": {"uri": "http://127.0.0.1:1/"},
        **spec,
    }
    return {
        "apiVersion": "sources.knative.dev/v1",
        "kind": "ApiServerSource",
        "metadata": {"name": "s", "namespace": "default", "uid": "src-uid"},
        "spec": body,
        "status": {"sinkUri": "http://127.0.0.1:1/", "namespaces": ["default"], **(status or {})},
    }


@pytest.mark.parametrize(
    ("verb", "ref", "type_"),
    [
        ("add", False, "dev.knative.apiserver.resource.add"),
        ("update", False, "dev.knative.apiserver.resource.update"),
        ("delete", False, "dev.knative.apiserver.resource.delete"),
        ("add", True, "dev.knative.apiserver.ref.add"),
        ("update", True, "dev.knative.apiserver.ref.update"),
        ("delete", True, "dev.knative.apiserver.ref.delete"),
    ],
)
def test_type_per_mode_and_verb(verb: Any, ref: bool, type_: str) -> None:
    event = make_event(verb, ksvc(), API, ref=ref, now=NOW, event_id="id-1")
    assert event["type"] == type_
    assert event["source"] == API
    assert event["subject"] == "/apis/serving.knative.dev/v1/namespaces/default/services/hello"
    assert (event["kind"], event["apiversion"], event["name"], event["namespace"]) == (
        "Service",
        "serving.knative.dev/v1",
        "hello",
        "default",
    )
    assert event["datacontenttype"] == "application/json"
    assert event["time"] == "2026-12-06T05:00:00.123Z"
    assert event["id"] == "id-1"


def test_reference_mode_carries_an_object_reference_in_go_field_order() -> None:
    headers, body = encoding.to_binary(make_event("add", ksvc(), API, ref=True, now=NOW))
    assert body == b'{"kind":"Service","namespace":"default","name":"hello","apiVersion":"serving.knative.dev/v1"}'
    assert ("Content-Type", "application/json") in headers
    assert ("ce-subject", "/apis/serving.knative.dev/v1/namespaces/default/services/hello") in headers


def test_resource_mode_carries_the_whole_object_keys_sorted() -> None:
    event = make_event("delete", ksvc(), API, ref=False, now=NOW)
    assert list(json.loads(encoding.to_binary(event)[1])) == ["apiVersion", "kind", "metadata", "spec"]
    assert event["data"]["spec"] == {"a": 2, "b": 1}
    assert list(event["data"]["spec"]) == ["a", "b"]


def test_ce_overrides_are_set_last_and_win() -> None:
    event = make_event("add", ksvc(), API, ref=True, now=NOW, overrides={"team": "a", "kind": "X"})
    assert event["team"] == "a" and event["kind"] == "X"


def test_ids_are_fresh_uuids() -> None:
    a, b = (make_event("add", ksvc(), API, ref=True, now=NOW)["id"] for _ in range(2))
    assert a != b and len(a) == 36


@pytest.mark.parametrize(
    ("kind", "plural"),
    [("Service", "services"), ("Policy", "policies"), ("Ingress", "ingresses"), ("Endpoints", "endpoints")],
)
def test_unsafe_guess_kind_to_resource(kind: str, plural: str) -> None:
    assert guess_resource(kind) == plural


def test_self_link_quirks_as_knative_writes_them() -> None:
    assert self_link("v1", "Pod", "default", "p") == "/apis/v1/namespaces/default/pods/p"
    assert self_link("v1", "Namespace", "", "ns1") == "/apis/v1/namespaces//namespaces/ns1"
    assert self_link("serving.knative.dev", "Route", "d", "r") == (
        "/apis/serving.knative.dev/versionUnknown/namespaces/d/routes/r"
    )


def owned(controller: bool | None, api_version: str = "serving.knative.dev/v1", kind: str = "Configuration") -> Obj:
    ref: Obj = {"apiVersion": api_version, "kind": kind, "name": "c", "uid": "x"}
    if controller is not None:
        ref["controller"] = controller
    return ksvc(ownerReferences=[ref])


def test_owner_filter() -> None:
    assert not owner_passes(ksvc(), "", "")  # no controller at all
    assert not owner_passes(owned(None), "", "")  # an owner that is not the controller
    assert owner_passes(owned(True), "", "")
    assert owner_passes(owned(True), "serving.knative.dev/v1", "Configuration")
    assert not owner_passes(owned(True), "serving.knative.dev/v1", "Route")
    assert not owner_passes(owned(True), "apps/v1", "")


def test_events_for_applies_selector_namespaces_owner_and_modes() -> None:
    selected = source(
        resources=[
            {
                "apiVersion": "serving.knative.dev/v1",
                "kind": "Service",
                "selector": {
                    "matchLabels": {"app": "a"},
                    "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["x"]}],
                },
            }
        ]
    )
    cfg = source_config(selected, API_KINDS)
    assert cfg is not None and cfg.sink == "http://127.0.0.1:1/" and not cfg.ref
    assert len(events_for(cfg, SERVICE, "ADDED", ksvc(labels={"app": "a"}), API, NOW)) == 1
    assert events_for(cfg, SERVICE, "ADDED", ksvc(labels={"app": "a", "tier": "x"}), API, NOW) == []
    assert events_for(cfg, SERVICE, "ADDED", ksvc(labels={"app": "b"}), API, NOW) == []
    assert events_for(cfg, SERVICE, "ADDED", ksvc(ns="other", labels={"app": "a"}), API, NOW) == []
    assert events_for(cfg, SERVICE, "BOOKMARK", ksvc(labels={"app": "a"}), API, NOW) == []
    (deleted,) = events_for(cfg, SERVICE, "DELETED", ksvc(labels={"app": "a"}), API, NOW)
    assert deleted["type"] == "dev.knative.apiserver.resource.delete"
    owner_cfg = source_config(source(owner={"apiVersion": "", "kind": "Configuration"}), API_KINDS)
    assert owner_cfg is not None
    assert events_for(owner_cfg, SERVICE, "MODIFIED", ksvc(), API, NOW) == []
    (update,) = events_for(owner_cfg, SERVICE, "MODIFIED", owned(True), API, NOW)
    assert update["type"] == "dev.knative.apiserver.resource.update"


def test_two_entries_for_one_kind_send_twice_as_two_reflectors_do() -> None:
    entry = {"apiVersion": "serving.knative.dev/v1", "kind": "Service"}
    cfg = source_config(source(mode="Reference", resources=[entry, entry]), API_KINDS)
    assert cfg is not None and cfg.ref
    assert len(events_for(cfg, SERVICE, "ADDED", ksvc(), API, NOW)) == 2


def test_all_namespaces_and_cluster_scoped_kinds() -> None:
    cfg = source_config(source(namespaceSelector={}), API_KINDS)
    assert cfg is not None and cfg.namespaces is None
    assert len(events_for(cfg, SERVICE, "ADDED", ksvc(ns="elsewhere"), API, NOW)) == 1
    ns_cfg = source_config(source(resources=[{"apiVersion": "v1", "kind": "Namespace"}]), API_KINDS)
    assert ns_cfg is not None
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}
    (event,) = events_for(ns_cfg, NAMESPACE, "ADDED", namespace, API, NOW)
    assert event["subject"] == "/apis/v1/namespaces//namespaces/team-a" and event["namespace"] == ""


def test_filters_drop_events_that_do_not_match() -> None:
    cfg = source_config(source(filters=[{"suffix": {"type": ".delete"}}]), API_KINDS)
    assert cfg is not None
    assert events_for(cfg, SERVICE, "ADDED", ksvc(), API, NOW) == []
    assert len(events_for(cfg, SERVICE, "DELETED", ksvc(), API, NOW)) == 1


def test_no_config_while_deleting_or_without_a_sink_yet() -> None:
    deleting = source()
    deleting["metadata"]["deletionTimestamp"] = "2026-12-06T05:00:00Z"
    assert source_config(deleting, API_KINDS) is None
    waiting = source(status={"sinkUri": None})
    cfg = source_config(waiting, API_KINDS)
    assert cfg is not None and cfg.sink is None
