"""ApiServerSource and EventType reconcilers, and the registry of a source's EventTypes, on a real
SqliteStore (cases after Knative's pkg/reconciler/apiserversource/apiserversource_test.go and
pkg/reconciler/source/duck/duck_test.go); admission messages with their field paths."""

from __future__ import annotations

from typing import Any

import pytest

from zeroserve.api.admission import admit
from zeroserve.api.base import Obj
from zeroserve.api.kinds import APISERVERSOURCE, BROKER, EVENTTYPE, SERVICE, Kind
from zeroserve.config import Config, FeaturesConfig
from zeroserve.controller.reconcilers import eventtypes
from zeroserve.controller.reconcilers.apiserversource import ApiServerSourceReconciler
from zeroserve.controller.reconcilers.base import Key
from zeroserve.controller.reconcilers.destinations import Tracker
from zeroserve.errors import Invalid
from zeroserve.testing import cond, service
from zeroserve.testing.controller import ControllerEnv as Env
from zeroserve.testing.controller import env_fixture  # noqa: F401 (the env fixture)

NS = "default"
API = "https://127.0.0.1:8001"
BROKER_REF = {"apiVersion": "eventing.knative.dev/v1", "kind": "Broker", "name": "default"}


def source_obj(name: str = "s", **spec: Any) -> Obj:
    body = {"resources": [{"apiVersion": "serving.knative.dev/v1", "kind": "Service"}], "sink": {"ref": BROKER_REF}}
    return {
        "apiVersion": "sources.knative.dev/v1",
        "kind": "ApiServerSource",
        "metadata": {"name": name, "namespace": NS},
        "spec": {**body, **spec},
    }


def invalid(kind: Kind, obj: Obj, cfg: Config | None = None) -> list[str]:
    with pytest.raises(Invalid) as e:
        admit(kind, obj, None, cfg or Config())
    return [str(err) for err in e.value.errors]


def test_defaults_mode_and_service_account() -> None:
    spec = admit(APISERVERSOURCE, source_obj(), None, Config())["spec"]
    assert (spec["mode"], spec["serviceAccountName"]) == ("Reference", "default")


def test_validation_messages_and_paths() -> None:
    bad = source_obj(
        mode="Everything",
        resources=[
            {"apiVersion": "a/b/c", "kind": " "},
            {"apiVersion": "apps/v1", "kind": "Deployment"},
            {"apiVersion": "v1", "kind": "Event", "selector": {"matchExpressions": [{"key": "a", "operator": "In"}]}},
        ],
        owner={"apiVersion": "a/b/c", "kind": ""},
        ceOverrides={"extensions": {"not-alnum": "1"}},
        sink={},
    )
    assert invalid(APISERVERSOURCE, bad) == [
        "Required value: must be specified when `operator` is 'In' or 'NotIn': spec.resources[2].selector"
        ".matchExpressions[0]",
        "expected at least one, got none: spec.sink.ref, spec.sink.uri",
        'invalid key name "not-alnum": spec.ceOverrides.extensions\nkeys are expected to be alphanumeric',
        "invalid value: Deployment:apps/v1: spec.resources[1]\n"
        "zeroserve serves no such kind (`kubectl api-resources` lists those it does)",
        "invalid value: Everything: spec.mode",
        "invalid value: a/b/c: spec.owner.apiVersion, spec.resources[0].apiVersion",
        "missing field(s): spec.owner.kind, spec.resources[0].kind",
    ]
    assert invalid(APISERVERSOURCE, source_obj(resources=[])) == ["missing field(s): spec.resources"]


def test_filters_need_the_feature() -> None:
    obj = source_obj(filters=[{"exact": {"type": "x"}}])
    assert invalid(APISERVERSOURCE, obj) == [
        "Filters is not empty but the NewAPIServerFilters feature is disabled.: spec.filters"
    ]
    cfg = Config(features=FeaturesConfig({**FeaturesConfig().flags, "new-apiserversource-filters": "Enabled"}))
    assert admit(APISERVERSOURCE, obj, None, cfg)["spec"]["filters"] == [{"exact": {"type": "x"}}]


def test_eventtype_type_required_and_spec_immutable() -> None:
    et = {"apiVersion": "eventing.knative.dev/v1beta2", "kind": "EventType", "metadata": {"name": "e", "namespace": NS}}
    assert invalid(EVENTTYPE, {**et, "spec": {}}) == ["missing field(s): spec.type"]
    old = admit(EVENTTYPE, {**et, "spec": {"type": "a", "reference": dict(BROKER_REF)}}, None, Config())
    assert old["spec"]["reference"]["namespace"] == NS  # defaulted to the EventType's
    with pytest.raises(Invalid, match=r"Immutable fields changed \(-old \+new\): spec"):
        admit(EVENTTYPE, {**et, "spec": {"type": "b"}}, old, Config())


async def create(env: Env, kind: Kind, obj: Obj) -> Obj:
    return await env.store.create(kind, admit(kind, obj, None, Config()))


async def reconcile(env: Env, name: str = "s") -> Obj:
    assert await ApiServerSourceReconciler(API).reconcile(env.deps, Key(APISERVERSOURCE.kind, NS, name)) is None
    return await env.get(APISERVERSOURCE, name)


async def event_types(env: Env) -> list[Obj]:
    items, _ = await env.store.list(EVENTTYPE, NS)
    return sorted(items, key=lambda o: o["spec"]["type"])


async def test_sink_not_found(env: Env) -> None:
    await create(env, APISERVERSOURCE, source_obj())
    s = await reconcile(env)
    assert cond(s, "SinkProvided") == ("False", "NotFound", None)
    assert cond(s, "Ready") == ("False", "NotFound", None)
    assert "sinkUri" not in s["status"]
    assert (
        "Warning",
        "SinkNotFound",
        'Sink not found: {"ref":' + '{"kind":"Broker","name":"default","apiVersion":"eventing.knative.dev/v1"}}',
    ) in await env.events("s")
    assert await event_types(env) == []


async def test_ready_with_a_broker_sink_and_its_event_types(env: Env) -> None:
    await env.store.create(
        BROKER,
        {
            **admit(
                BROKER,
                {
                    "apiVersion": "eventing.knative.dev/v1",
                    "kind": "Broker",
                    "metadata": {"name": "default", "namespace": NS},
                },
                None,
                Config(),
            )
        },
    )
    await env.set_status(BROKER, "default", {"address": {"url": "http://broker-ingress/default/default"}})
    await create(env, APISERVERSOURCE, source_obj(mode="Resource"))
    s = await reconcile(env)
    assert s["status"]["sinkUri"] == "http://broker-ingress/default/default"
    assert s["status"]["namespaces"] == [NS]
    for c in ("SinkProvided", "Deployed", "SufficientPermissions", "Ready"):
        assert cond(s, c) == ("True", None, None)
    assert cond(s, "OIDCIdentityCreated") == ("True", "authentication-oidc feature disabled", None)
    assert [a["type"] for a in s["status"]["ceAttributes"]] == [
        "dev.knative.apiserver.resource.add",
        "dev.knative.apiserver.resource.delete",
        "dev.knative.apiserver.resource.update",
    ]
    ets = await event_types(env)
    assert [e["spec"]["type"] for e in ets] == [a["type"] for a in s["status"]["ceAttributes"]]
    first = ets[0]
    assert first["metadata"]["name"] == eventtypes.event_type_name(
        "dev.knative.apiserver.resource.add", API, "", s["metadata"]["uid"]
    )
    assert first["metadata"]["labels"] == {"eventing.knative.dev/sourceName": "s"}
    assert first["metadata"]["ownerReferences"][0]["uid"] == s["metadata"]["uid"]
    assert first["spec"]["reference"] == {**BROKER_REF, "namespace": NS}
    assert first["spec"]["source"] == API
    assert first["spec"]["description"] == "CloudEvent type used for add operations when in Resource mode"
    # The EventType reconciler: the Broker exists.
    assert await eventtypes.reconcile(env.deps, Key(EVENTTYPE.kind, NS, first["metadata"]["name"])) is None
    assert cond(await env.get(EVENTTYPE, first["metadata"]["name"]), "ReferenceExists") == ("True", None, None)
    # Reference mode: the three ref types replace the three resource types.
    stored = await env.get(APISERVERSOURCE, "s")
    await env.store.update(APISERVERSOURCE, {**stored, "spec": {**stored["spec"], "mode": "Reference"}})
    await reconcile(env)
    assert [e["spec"]["type"] for e in await event_types(env)] == [
        "dev.knative.apiserver.ref.add",
        "dev.knative.apiserver.ref.delete",
        "dev.knative.apiserver.ref.update",
    ]
    # A URI sink: no EventTypes (nothing to reference).
    stored = await env.get(APISERVERSOURCE, "s")
    await env.store.update(APISERVERSOURCE, {**stored, "spec": {**stored["spec"], "sink": {"uri": "http://x.y/"}}})
    await reconcile(env)
    assert await event_types(env) == []


async def test_eventtype_reference_missing_and_not_set(env: Env) -> None:
    base = {"apiVersion": "eventing.knative.dev/v1beta2", "kind": "EventType", "metadata": {"namespace": NS}}
    await create(
        env,
        EVENTTYPE,
        {**base, "metadata": {"name": "a", "namespace": NS}, "spec": {"type": "t", "reference": dict(BROKER_REF)}},
    )
    await create(env, EVENTTYPE, {**base, "metadata": {"name": "b", "namespace": NS}, "spec": {"type": "t"}})
    for name in ("a", "b"):
        assert await eventtypes.reconcile(env.deps, Key(EVENTTYPE.kind, NS, name)) is None
    assert cond(await env.get(EVENTTYPE, "a"), "ReferenceExists") == (
        "False",
        "ResourceDoesNotExist",
        "Resource in spec.reference does not exist",
    )
    assert cond(await env.get(EVENTTYPE, "b"), "ReferenceExists") == (
        "True",
        "ReferenceNotSet",
        "spec.reference is not set",
    )


def test_tracker_reconciles_a_source_when_its_sink_changes() -> None:
    t = Tracker()
    src = {**source_obj(sink={"ref": {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "rec"}})}
    assert list(t.observe(APISERVERSOURCE.kind, src, deleted=False)) == []
    assert list(t.observe(SERVICE.kind, service(NS, "rec"), deleted=False)) == [Key(APISERVERSOURCE.kind, NS, "s")]
