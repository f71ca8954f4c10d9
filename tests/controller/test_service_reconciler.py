from __future__ import annotations

from zeroserve.api.base import Obj
from zeroserve.api.kinds import CONFIGURATION, REVISION, ROUTE, SERVICE
from zeroserve.controller.reconcilers import configuration, route, service
from zeroserve.controller.reconcilers.base import Key
from zeroserve.testing import cond
from zeroserve.testing import configuration as configuration_obj
from zeroserve.testing import service as service_obj
from zeroserve.testing.controller import ControllerEnv as Env
from zeroserve.testing.controller import env_fixture  # noqa: F401 (the env fixture)

KEY = Key("Service", "default", "hello")


async def test_creates_owned_configuration_and_route(env: Env) -> None:
    svc = await env.store.create(SERVICE, service_obj("default", "hello", labels={"team": "a"}))
    await service.reconcile(env.deps, KEY)
    cfg = await env.get(CONFIGURATION, "hello")
    rt = await env.get(ROUTE, "hello")
    for child in (cfg, rt):
        assert child["metadata"]["labels"] == {
            "team": "a",
            "serving.knative.dev/service": "hello",
            "serving.knative.dev/serviceUID": svc["metadata"]["uid"],
        }
        ref = child["metadata"]["ownerReferences"][0]
        assert (ref["kind"], ref["uid"], ref["controller"]) == ("Service", svc["metadata"]["uid"], True)
    assert cfg["spec"]["template"]["spec"] == svc["spec"]["template"]["spec"]
    assert rt["spec"]["traffic"] == [{"configurationName": "hello", "latestRevision": True, "percent": 100}]
    got = await env.get(SERVICE, "hello")
    assert got["status"]["observedGeneration"] == 1
    assert cond(got, "ConfigurationsReady")[:2] == ("Unknown", "OutOfDate")
    assert cond(got, "Ready")[0] == "Unknown"


async def test_updates_configuration_when_template_changes(env: Env) -> None:
    await env.store.create(SERVICE, service_obj("default", "hello", env={"A": "1"}))
    await service.reconcile(env.deps, KEY)
    svc = await env.get(SERVICE, "hello")
    svc["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "A", "value": "2"}]
    await env.store.update(SERVICE, svc)
    await service.reconcile(env.deps, KEY)
    cfg = await env.get(CONFIGURATION, "hello")
    assert cfg["metadata"]["generation"] == 2
    assert cfg["spec"]["template"]["spec"]["containers"][0]["env"] == [{"name": "A", "value": "2"}]
    rv = (await env.get(ROUTE, "hello"))["metadata"]["resourceVersion"]
    await service.reconcile(env.deps, KEY)
    assert (await env.get(ROUTE, "hello"))["metadata"]["resourceVersion"] == rv


async def test_refuses_a_configuration_it_does_not_own(env: Env) -> None:
    foreign = await env.store.create(CONFIGURATION, configuration_obj("default", "hello", image="theirs"))
    await env.store.create(SERVICE, service_obj("default", "hello", image="mine"))
    await service.reconcile(env.deps, KEY)
    cfg = await env.get(CONFIGURATION, "hello")
    assert cfg["metadata"]["resourceVersion"] == foreign["metadata"]["resourceVersion"]
    got = await env.get(SERVICE, "hello")
    assert cond(got, "ConfigurationsReady") == (
        "False",
        "NotOwned",
        'There is an existing Configuration "hello" that we do not own.',
    )
    assert cond(got, "Ready")[:2] == ("False", "NotOwned")


async def reconcile_all(env: Env) -> None:
    await service.reconcile(env.deps, KEY)
    await configuration.reconcile(env.deps, Key("Configuration", "default", "hello"))
    await route.reconcile(env.deps, Key("Route", "default", "hello"))
    await service.reconcile(env.deps, KEY)


async def test_ready_when_configuration_and_route_are(env: Env) -> None:
    await env.store.create(SERVICE, service_obj("default", "hello"))
    await reconcile_all(env)
    await env.mark_ready(REVISION, "hello-00001")
    await reconcile_all(env)
    got = await env.get(SERVICE, "hello")
    assert cond(got, "Ready")[0] == "True", got["status"]
    st = got["status"]
    assert (st["latestCreatedRevisionName"], st["latestReadyRevisionName"]) == ("hello-00001", "hello-00001")
    assert st["url"] == "http://hello.default.localhost:8080"
    assert st["address"] == {"url": "http://hello.default.svc.cluster.local"}
    assert st["traffic"] == [{"revisionName": "hello-00001", "latestRevision": True, "percent": 100}]


async def test_traffic_not_migrated_while_route_lags(env: Env) -> None:
    await env.store.create(SERVICE, service_obj("default", "hello"))
    await reconcile_all(env)
    await env.mark_ready(REVISION, "hello-00001")
    await reconcile_all(env)
    svc = await env.get(SERVICE, "hello")
    svc["spec"]["template"]["spec"]["containers"][0]["image"] = "v2"
    await env.store.update(SERVICE, svc)
    await service.reconcile(env.deps, KEY)
    await configuration.reconcile(env.deps, Key("Configuration", "default", "hello"))
    await env.mark_ready(REVISION, "hello-00002")
    await configuration.reconcile(env.deps, Key("Configuration", "default", "hello"))
    await service.reconcile(env.deps, KEY)  # the route has not caught up yet
    got = await env.get(SERVICE, "hello")
    assert cond(got, "RoutesReady") == (
        "Unknown",
        "TrafficNotMigrated",
        "Traffic is not yet migrated to the latest revision.",
    )
    await route.reconcile(env.deps, Key("Route", "default", "hello"))
    await service.reconcile(env.deps, KEY)
    got = await env.get(SERVICE, "hello")
    assert cond(got, "Ready")[0] == "True"
    assert got["status"]["traffic"][0]["revisionName"] == "hello-00002"


async def test_keeps_the_route_labelers_annotation_on_the_configuration(env: Env) -> None:
    await env.store.create(SERVICE, service_obj("default", "hello"))
    await reconcile_all(env)
    await env.mark_ready(REVISION, "hello-00001")
    await reconcile_all(env)
    cfg = await env.get(CONFIGURATION, "hello")
    assert cfg["metadata"]["annotations"]["serving.knative.dev/routes"] == "hello"
    await service.reconcile(env.deps, KEY)
    assert (await env.get(CONFIGURATION, "hello"))["metadata"]["resourceVersion"] == cfg["metadata"]["resourceVersion"]


async def test_a_later_pass_that_changes_only_transition_times_writes_nothing(env: Env) -> None:
    """Knative compares statuses with equality.Semantic (lastTransitionTime is a VolatileTime): its Ready
    passes through ConfigurationsReady's Unknown and back to RoutesReady's within each pass, which
    stamps a new time, and that alone must not be written (its event would reconcile it again)."""
    await env.store.create(SERVICE, service_obj("default", "hello"))
    await reconcile_all(env)
    before = await env.get(SERVICE, "hello")
    assert cond(before, "Ready")[:2] == ("Unknown", "RevisionMissing")
    env.clock.step(5)
    await service.reconcile(env.deps, KEY)
    assert await env.get(SERVICE, "hello") == before
    await env.mark_ready(REVISION, "hello-00001")  # a real change is still written, with its new time
    await reconcile_all(env)
    after = await env.get(SERVICE, "hello")
    assert cond(after, "ConfigurationsReady")[0] == "True"

    def times(obj: Obj) -> dict[str, str]:
        return {c["type"]: c["lastTransitionTime"] for c in obj["status"]["conditions"]}

    assert times(after)["ConfigurationsReady"] != times(before)["ConfigurationsReady"]
