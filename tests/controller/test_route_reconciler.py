from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from zeroserve.api.kinds import CONFIGURATION, CORE_SERVICE, REVISION, ROUTE
from zeroserve.config.parse import parse_config
from zeroserve.controller.ingress import RouteRule, WeightedTarget
from zeroserve.controller.reconcilers import configuration, route
from zeroserve.controller.reconcilers.base import Key
from zeroserve.testing import cond
from zeroserve.testing import configuration as configuration_obj
from zeroserve.testing import route as route_obj
from zeroserve.testing.controller import ControllerEnv as Env
from zeroserve.testing.controller import env_fixture  # noqa: F401 (the env fixture)

KEY = Key("Route", "default", "hello")
CFG = Key("Configuration", "default", "hello")
LATEST = {"configurationName": "hello", "latestRevision": True, "percent": 100}


async def two_ready_revisions(env: Env) -> None:
    await env.store.create(CONFIGURATION, configuration_obj("default", "hello", image="v1"))
    await configuration.reconcile(env.deps, CFG)
    await env.mark_ready(REVISION, "hello-00001")
    cfg = await env.get(CONFIGURATION, "hello")
    cfg["spec"]["template"]["spec"]["containers"][0]["image"] = "v2"
    await env.store.update(CONFIGURATION, cfg)
    await configuration.reconcile(env.deps, CFG)
    await env.mark_ready(REVISION, "hello-00002")
    await configuration.reconcile(env.deps, CFG)


async def test_waits_for_a_ready_revision(env: Env) -> None:
    await env.store.create(CONFIGURATION, configuration_obj("default", "hello"))
    await configuration.reconcile(env.deps, CFG)
    await env.store.create(ROUTE, route_obj("default", "hello", [LATEST]))
    await route.reconcile(env.deps, KEY)
    rt = await env.get(ROUTE, "hello")
    assert cond(rt, "AllTrafficAssigned") == (
        "Unknown",
        "RevisionMissing",
        'Configuration "hello" is waiting for a Revision to become ready.',
    )
    assert cond(rt, "Ready")[0] == "Unknown"
    assert rt["status"]["url"] == "http://hello.default.localhost:8080"
    assert rt["status"]["address"] == {"url": "http://hello.default.svc.cluster.local"}
    assert "traffic" not in rt["status"]
    assert env.ingress.tables == {}


async def test_missing_configuration_is_a_failure(env: Env) -> None:
    await env.store.create(ROUTE, route_obj("default", "hello", [LATEST]))
    await route.reconcile(env.deps, KEY)
    rt = await env.get(ROUTE, "hello")
    assert cond(rt, "AllTrafficAssigned") == (
        "False",
        "ConfigurationMissing",
        'Configuration "hello" referenced in traffic not found.',
    )
    assert cond(rt, "Ready")[:2] == ("False", "ConfigurationMissing")


async def test_routes_latest_ready_and_labels_targets(env: Env) -> None:
    await two_ready_revisions(env)
    await env.store.create(ROUTE, route_obj("default", "hello", [LATEST]))
    assert await route.reconcile(env.deps, KEY) is None
    rt = await env.get(ROUTE, "hello")
    assert rt["status"]["traffic"] == [{"revisionName": "hello-00002", "latestRevision": True, "percent": 100}]
    for t in ("AllTrafficAssigned", "IngressReady", "Ready"):
        assert cond(rt, t)[0] == "True", t
    assert cond(rt, "CertificateProvisioned") == ("True", "TLSNotEnabled", "external-domain-tls is not enabled")
    assert rt["status"]["observedGeneration"] == 1
    rev2 = await env.get(REVISION, "hello-00002")
    assert rev2["metadata"]["labels"]["serving.knative.dev/routingState"] == "active"
    assert rev2["metadata"]["annotations"]["serving.knative.dev/routes"] == "hello"
    rev1 = await env.get(REVISION, "hello-00001")
    assert rev1["metadata"]["labels"]["serving.knative.dev/routingState"] == "pending"
    cfg = await env.get(CONFIGURATION, "hello")
    assert cfg["metadata"]["annotations"]["serving.knative.dev/routes"] == "hello"
    table = env.ingress.tables[("default", "hello")]
    target = (WeightedTarget("default", "hello-00002", 100),)
    assert table.rules == (
        RouteRule(("hello.default", "hello.default.svc", "hello.default.svc.cluster.local"), "ClusterLocal", target),
        RouteRule(("hello.default.localhost",), "ExternalIP", target),
    )


async def test_split_with_tag_then_moving_away_reserves_the_old_revision(env: Env) -> None:
    await two_ready_revisions(env)
    split = [
        {"configurationName": "hello", "latestRevision": True, "percent": 80},
        {"revisionName": "hello-00001", "latestRevision": False, "percent": 20, "tag": "old"},
    ]
    await env.store.create(ROUTE, route_obj("default", "hello", split))
    await route.reconcile(env.deps, KEY)
    rt = await env.get(ROUTE, "hello")
    assert rt["status"]["traffic"] == [
        {"revisionName": "hello-00002", "latestRevision": True, "percent": 80},
        {
            "tag": "old",
            "revisionName": "hello-00001",
            "latestRevision": False,
            "percent": 20,
            "url": "http://old-hello.default.localhost:8080",
        },
    ]
    rules = {(r.tag, r.visibility): r for r in env.ingress.tables[("default", "hello")].rules}
    assert rules[("old", "ExternalIP")].hosts == ("old-hello.default.localhost",)
    assert rules[("old", "ExternalIP")].targets == (WeightedTarget("default", "hello-00001", 100),)
    assert rules[("", "ExternalIP")].targets == (
        WeightedTarget("default", "hello-00002", 80),
        WeightedTarget("default", "hello-00001", 20),
    )
    rev1 = await env.get(REVISION, "hello-00001")
    assert rev1["metadata"]["labels"]["serving.knative.dev/routingState"] == "active"
    env.clock.step(10)
    rt["spec"]["traffic"] = [LATEST]
    await env.store.update(ROUTE, rt)
    await route.reconcile(env.deps, KEY)
    rev1 = await env.get(REVISION, "hello-00001")
    assert rev1["metadata"]["labels"]["serving.knative.dev/routingState"] == "reserve"
    assert "serving.knative.dev/routes" not in rev1["metadata"]["annotations"]
    assert rev1["metadata"]["annotations"]["serving.knative.dev/routingStateModified"] == "2026-01-01T00:00:10Z"
    rt = await env.get(ROUTE, "hello")
    assert rt["status"]["observedGeneration"] == 2


async def test_cluster_local_route(env: Env) -> None:
    await two_ready_revisions(env)
    await env.store.create(
        ROUTE, route_obj("default", "hello", [LATEST], labels={"networking.knative.dev/visibility": "cluster-local"})
    )
    await route.reconcile(env.deps, KEY)
    rt = await env.get(ROUTE, "hello")
    assert rt["status"]["url"] == "http://hello.default.svc.cluster.local"
    assert [r.visibility for r in env.ingress.tables[("default", "hello")].rules] == ["ClusterLocal"]


async def test_deleted_route_is_withdrawn_and_unlabels(env: Env) -> None:
    await two_ready_revisions(env)
    await env.store.create(ROUTE, route_obj("default", "hello", [LATEST]))
    await route.reconcile(env.deps, KEY)
    await env.store.delete(ROUTE, "default", "hello")
    await route.reconcile(env.deps, KEY)
    assert env.ingress.tables == {}
    rev2 = await env.get(REVISION, "hello-00002")
    assert rev2["metadata"]["labels"]["serving.knative.dev/routingState"] == "reserve"


async def test_a_service_route_naming_another_services_revision_assigns_no_traffic(env: Env) -> None:
    """pkg/reconciler/route/traffic/traffic.go: RevisionNotOwned, AllTrafficAssigned False."""
    await two_ready_revisions(env)
    other = route_obj(
        "default",
        "other",
        [{"revisionName": "hello-00001", "percent": 100}],
        labels={"serving.knative.dev/service": "other"},
    )
    await env.store.create(ROUTE, other)
    await route.reconcile(env.deps, Key("Route", "default", "other"))
    rt = await env.get(ROUTE, "other")
    assert cond(rt, "AllTrafficAssigned") == (
        "False",
        "RevisionNotOwned",
        'Revision "hello-00001" does not belong to Service "other".',
    )
    assert cond(rt, "Ready")[:2] == ("False", "RevisionNotOwned")
    assert ("default", "other") not in env.ingress.tables


ROLLOUT = "networking.internal.knative.dev/rollout"


async def test_gradual_rollout_moves_latest_traffic_in_steps(env: Env) -> None:
    """route.go / reconcile_resources.go reconcileRollout with traffic/rollout.go: 1 % first, then,
    once the ingress serves that, equal steps; IngressReady Unknown RolloutInProgress meanwhile."""
    await env.store.create(CONFIGURATION, configuration_obj("default", "hello", image="v1"))
    await configuration.reconcile(env.deps, CFG)
    await env.mark_ready(REVISION, "hello-00001")
    await configuration.reconcile(env.deps, CFG)
    rt = route_obj("default", "hello", [LATEST])
    rt["metadata"]["annotations"] = {"serving.knative.dev/rollout-duration": "10s"}
    await env.store.create(ROUTE, rt)
    assert await route.reconcile(env.deps, KEY) is None
    state = (await env.get(ROUTE, "hello"))["status"]["annotations"][ROLLOUT]
    assert state == (
        '{"configurations":[{"configurationName":"hello","percent":100,'
        '"revisions":[{"revisionName":"hello-00001","percent":100}],"stepParams":{}}]}'
    )

    cfg = await env.get(CONFIGURATION, "hello")
    cfg["spec"]["template"]["spec"]["containers"][0]["image"] = "v2"
    await env.store.update(CONFIGURATION, cfg)
    await configuration.reconcile(env.deps, CFG)
    await env.mark_ready(REVISION, "hello-00002")
    await configuration.reconcile(env.deps, CFG)

    def split() -> list[tuple[str, int]]:
        table = env.ingress.tables[("default", "hello")]
        return [(t.revision, t.percent) for t in table.rules[0].targets]

    assert await route.reconcile(env.deps, KEY) == 1.0  # started: time the steps once the 1 % is served
    rt = await env.get(ROUTE, "hello")
    assert split() == [("hello-00001", 99), ("hello-00002", 1)]
    assert rt["status"]["traffic"] == [
        {"revisionName": "hello-00001", "latestRevision": True, "percent": 99},
        {"revisionName": "hello-00002", "latestRevision": True, "percent": 1},
    ]
    assert cond(rt, "IngressReady") == (
        "Unknown",
        "RolloutInProgress",
        "A gradual rollout of the latest revision(s) is in progress.",
    )
    assert cond(rt, "Ready")[0] == "Unknown"
    assert (await env.get(REVISION, "hello-00001"))["metadata"]["labels"][
        "serving.knative.dev/routingState"
    ] == "active"

    env.clock.step(0.5)  # the ingress served the 1 %: 9 s left, 9 steps of 11 % a second apart
    assert await route.reconcile(env.deps, KEY) == pytest.approx(1.0)
    assert split() == [("hello-00001", 99), ("hello-00002", 1)]
    seen = []
    for _ in range(9):
        env.clock.step(1.0)
        await route.reconcile(env.deps, KEY)
        seen.append(split())
    assert seen[0] == [("hello-00001", 88), ("hello-00002", 12)]
    assert seen[-2] == [("hello-00001", 11), ("hello-00002", 89)]
    assert seen[-1] == [("hello-00002", 100)]
    rt = await env.get(ROUTE, "hello")
    assert cond(rt, "Ready")[0] == "True"
    assert rt["status"]["traffic"] == [{"revisionName": "hello-00002", "latestRevision": True, "percent": 100}]
    await route.reconcile(env.deps, KEY)  # ready: the labeler lets the old one go
    assert (await env.get(REVISION, "hello-00001"))["metadata"]["labels"][
        "serving.knative.dev/routingState"
    ] == "reserve"


async def test_config_network_rollout_duration_applies_when_the_route_names_none(env: Env) -> None:
    env.config = dataclasses.replace(env.config, network=dataclasses.replace(env.config.network, rollout_duration=30))
    await two_ready_revisions(env)
    await env.store.create(ROUTE, route_obj("default", "hello", [LATEST]))
    await route.reconcile(env.deps, KEY)  # first sight: no previous state, straight to hello-00002
    cfg = await env.get(CONFIGURATION, "hello")
    cfg["spec"]["template"]["spec"]["containers"][0]["image"] = "v3"
    await env.store.update(CONFIGURATION, cfg)
    await configuration.reconcile(env.deps, CFG)
    await env.mark_ready(REVISION, "hello-00003")
    await configuration.reconcile(env.deps, CFG)
    await route.reconcile(env.deps, KEY)
    rt = await env.get(ROUTE, "hello")
    assert [(t["revisionName"], t["percent"]) for t in rt["status"]["traffic"]] == [
        ("hello-00002", 99),
        ("hello-00003", 1),
    ]


async def test_a_domain_template_that_renders_no_domain_name_is_error_config(env: Env) -> None:
    """route.go: domains.ErrDomainName -> AllTrafficAssigned False ErrorConfig; the Route's own
    annotations are the template's .Annotations (route/domains/domains.go)."""
    env.config = dataclasses.replace(
        env.config,
        network=parse_config(
            {"config-network": {"domain-template": '{{index .Annotations "sub"}}.{{.Name}}.{{.Domain}}'}}
        ).network,
    )
    await two_ready_revisions(env)
    good = route_obj("default", "hello", [LATEST])
    good["metadata"]["annotations"] = {"sub": "api"}
    await env.store.create(ROUTE, good)
    await route.reconcile(env.deps, KEY)
    rt = await env.get(ROUTE, "hello")
    assert rt["status"]["url"] == "http://api.hello.localhost:8080"
    rt["metadata"]["annotations"] = {"sub": "Not_A_Label"}
    await env.store.update(ROUTE, rt)
    await route.reconcile(env.deps, KEY)
    status, reason, message = cond(await env.get(ROUTE, "hello"), "AllTrafficAssigned")
    assert (status, reason) == ("False", "ErrorConfig")
    assert message is not None and message.startswith('domain name error: invalid domain name "Not_A_Label.hello')


async def core_services(env: Env) -> dict[str, dict[str, Any]]:
    items, _ = await env.store.list(CORE_SERVICE, "default")
    return {o["metadata"]["name"]: o for o in items}


async def test_core_services_per_tag_keep_every_label_and_annotation_the_route_ever_had(env: Env) -> None:
    """Knative's reconcilePlaceholderServices/updatePlaceholderServices: a Service per sub-route
    (named by the tag template), labels and annotations updated as a union (a key the Route drops
    stays), Services of tags gone from the spec deleted, one another owner has left alone."""
    await two_ready_revisions(env)
    spec = [
        {"revisionName": "hello-00001", "percent": 50, "tag": "blue"},
        {"revisionName": "hello-00002", "percent": 50, "tag": "green"},
    ]
    await env.store.create(CORE_SERVICE, {"metadata": {"name": "green-hello"}, "spec": {"type": "ClusterIP"}})
    await env.store.create(ROUTE, route_obj("default", "hello", spec))
    await route.reconcile(env.deps, KEY)
    svcs = await core_services(env)
    assert sorted(svcs) == ["blue-hello", "green-hello", "hello"]
    assert svcs["blue-hello"]["metadata"]["labels"] == {"serving.knative.dev/route": "hello"}
    assert svcs["blue-hello"]["metadata"]["ownerReferences"][0]["kind"] == "Route"
    assert "ownerReferences" not in svcs["green-hello"]["metadata"]  # not ours: untouched
    rt = await env.get(ROUTE, "hello")
    rt["metadata"]["labels"] = {"juicy": "jamba"}
    rt["metadata"]["annotations"] = {"sweet": "mango"}
    await env.store.update(ROUTE, rt)
    await route.reconcile(env.deps, KEY)
    svc = (await core_services(env))["hello"]["metadata"]
    assert (svc["labels"]["juicy"], svc["annotations"]["sweet"]) == ("jamba", "mango")
    rt = await env.get(ROUTE, "hello")
    rt["metadata"]["labels"], rt["metadata"]["annotations"] = {}, {}
    rt["spec"]["traffic"] = [{"revisionName": "hello-00002", "percent": 100}]
    await env.store.update(ROUTE, rt)
    await route.reconcile(env.deps, KEY)
    svcs = await core_services(env)
    assert sorted(svcs) == ["green-hello", "hello"]  # blue's went with its tag; green's is not ours
    assert (svcs["hello"]["metadata"]["labels"]["juicy"], svcs["hello"]["metadata"]["annotations"]["sweet"]) == (
        "jamba",
        "mango",
    )
