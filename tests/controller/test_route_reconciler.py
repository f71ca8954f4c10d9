from __future__ import annotations

from zeroserve.api.kinds import CONFIGURATION, REVISION, ROUTE
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
