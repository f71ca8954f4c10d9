"""Routing state: revisions born active, the labeler, reserve -> Unreachable -> GC (issue 12 item 1).

Knative: pkg/reconciler/service/resources/configuration.go (the Service's Route in the
Configuration's ``serving.knative.dev/routes``), pkg/reconciler/configuration/resources/revision.go
(a Revision of such a Configuration is born ``active``), pkg/reconciler/labeler/ (the latest
*created* revision of a ``latestRevision`` target is listed; unlisted ones go to ``reserve`` once
the Route is Ready), pkg/reconciler/revision/resources/pa.go (reserve -> Unreachable).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest

from zeroserve.api.autoscaling import PodAutoscaler
from zeroserve.api.base import Obj
from zeroserve.api.kinds import CONFIGURATION, PODAUTOSCALER, REVISION, ROUTE, SERVICE
from zeroserve.clock import FakeClock
from zeroserve.config import Config, GCConfig
from zeroserve.controller.ingress import NullIngress
from zeroserve.controller.reconcilers import configuration, kpa, labeler, revision, route, service
from zeroserve.controller.reconcilers.base import Key
from zeroserve.controller.runner import Controller
from zeroserve.errors import Conflict, NotFound
from zeroserve.runtime.base import WorkloadKey
from zeroserve.runtime.fake import FakeRuntime
from zeroserve.store.sqlite import SqliteStore
from zeroserve.testing import cond, condition, eventually
from zeroserve.testing import service as service_obj
from zeroserve.testing.controller import ControllerEnv as Env
from zeroserve.testing.controller import env_fixture  # noqa: F401 (the env fixture)

NOW = datetime(2026, 3, 1, tzinfo=UTC)
ROUTES = "serving.knative.dev/routes"
STATE = "serving.knative.dev/routingState"
MODIFIED = "serving.knative.dev/routingStateModified"
MIN_SCALE_2 = {"autoscaling.knative.dev/min-scale": "2"}
COLLECT_RESERVE = GCConfig(
    retain_since_create_time=None,
    retain_since_last_active_time=0.0,
    min_non_active_revisions=0,
    max_non_active_revisions=None,
)
"""Every reserve revision that is not the latest ready one is stale at once."""


@pytest.mark.parametrize(
    ("labels", "annotations", "remove", "stateful", "want"),
    [
        pytest.param(
            {STATE: "pending"},
            {},
            False,
            True,
            ({STATE: "active"}, {ROUTES: "r", MODIFIED: "2026-03-01T00:00:00Z"}),
            id="pending-gets-the-route-and-active",
        ),
        pytest.param(
            {STATE: "active"},
            {ROUTES: "a,r"},
            True,
            True,
            ({STATE: "active"}, {ROUTES: "a"}),
            id="still-named-by-another-route",
        ),
        pytest.param(
            {STATE: "active"},
            {ROUTES: "r"},
            True,
            True,
            ({STATE: "reserve"}, {MODIFIED: "2026-03-01T00:00:00Z"}),
            id="last-route-gone-reserve",
        ),
        pytest.param({STATE: "active"}, {ROUTES: "r"}, False, True, None, id="no-change"),
        pytest.param(
            {STATE: "active"},
            {ROUTES: "r"},
            False,
            True,
            None,
            id="active-with-the-route-stays",
        ),
        pytest.param({}, {ROUTES: "b"}, False, False, ({}, {ROUTES: "b,r"}), id="configuration-no-state"),
    ],
)
def test_metadata_patch(
    labels: dict[str, str],
    annotations: dict[str, str],
    remove: bool,
    stateful: bool,
    want: tuple[dict[str, str], dict[str, str]] | None,
) -> None:
    """accessors.go makeMetadataPatch / markRoutingState."""
    assert labeler.metadata_patch(labels, annotations, "r", remove, NOW, routing_state=stateful) == want


def test_a_pending_revision_with_the_route_already_named_is_marked_active() -> None:
    assert labeler.metadata_patch({STATE: "pending"}, {ROUTES: "r"}, "r", False, NOW, routing_state=True) == (
        {STATE: "active"},
        {ROUTES: "r", MODIFIED: "2026-03-01T00:00:00Z"},
    )


# --- reconcile by reconcile ---------------------------------------------------------------

SVC = Key("Service", "default", "hello")
CFG = Key("Configuration", "default", "hello")
RT = Key("Route", "default", "hello")


async def settle(env: Env) -> None:
    """Service -> Configuration -> every Revision -> Route -> Service, as the watch would."""
    await service.reconcile(env.deps, SVC)
    await configuration.reconcile(env.deps, CFG)
    revs, _ = await env.store.list(REVISION, "default")
    for r in revs:
        await revision.reconcile(env.deps, Key("Revision", "default", r["metadata"]["name"]))
    await configuration.reconcile(env.deps, CFG)
    await route.reconcile(env.deps, RT)
    await service.reconcile(env.deps, SVC)


async def set_image(env: Env, image: str) -> None:
    svc = await env.get(SERVICE, "hello")
    svc["spec"]["template"]["spec"]["containers"][0]["image"] = image
    await env.store.update(SERVICE, svc)
    await settle(env)


def wk(name: str) -> WorkloadKey:
    return WorkloadKey("default", name)


async def labels_of(env: Env, name: str) -> tuple[str, str | None]:
    rev = await env.get(REVISION, name)
    return rev["metadata"]["labels"][STATE], rev["metadata"]["annotations"].get(ROUTES)


async def test_a_service_revision_is_born_active_and_the_configuration_names_the_route(env: Env) -> None:
    svc = service_obj("default", "hello", annotations=MIN_SCALE_2)
    svc["metadata"]["annotations"] = {"serving.knative.dev/rollout-duration": "60s", "team": "a"}
    await env.store.create(SERVICE, svc)
    await service.reconcile(env.deps, SVC)
    cfg = await env.get(CONFIGURATION, "hello")
    assert cfg["metadata"]["annotations"] == {"team": "a", ROUTES: "hello"}  # the rollout is the Route's
    assert (await env.get(ROUTE, "hello"))["metadata"]["annotations"]["serving.knative.dev/rollout-duration"] == "60s"
    await configuration.reconcile(env.deps, CFG)
    assert await labels_of(env, "hello-00001") == ("active", "hello")


async def test_superseded_before_it_was_ever_routed_it_goes_to_reserve_unreachable_zero_and_gc(env: Env) -> None:
    """The issue's reproduction: min-scale 2, v2 then v3, v3 Ready first."""
    await env.store.create(SERVICE, service_obj("default", "hello", image="v1", annotations=MIN_SCALE_2))
    await settle(env)
    env.runtime.make_ready(wk("hello-00001"))
    await settle(env)
    assert cond(await env.get(SERVICE, "hello"), "Ready")[0] == "True"

    env.clock.step(10)
    await set_image(env, "v2")
    assert await labels_of(env, "hello-00002") == ("active", "hello")
    assert env.runtime.replicas[wk("hello-00002")] == 2

    env.clock.step(10)
    await set_image(env, "v3")
    env.runtime.make_ready(wk("hello-00003"))
    await settle(env)
    await settle(env)  # the route now Ready on v3: the labeler unmarks what it no longer lists
    svc = await env.get(SERVICE, "hello")
    assert (cond(svc, "Ready")[0], svc["status"]["latestReadyRevisionName"]) == ("True", "hello-00003")
    assert await labels_of(env, "hello-00002") == ("reserve", None)
    assert await labels_of(env, "hello-00001") == ("reserve", None)
    assert await labels_of(env, "hello-00003") == ("active", "hello")

    await revision.reconcile(env.deps, Key("Revision", "default", "hello-00002"))
    pa = await env.get(PODAUTOSCALER, "hello-00002")
    assert pa["spec"]["reachability"] == "Unreachable"
    assert env.runtime.replicas[wk("hello-00002")] == 2  # the Revision reconciler keeps what runs, and
    bounds = kpa.scale_bounds(PodAutoscaler.model_validate(pa), env.config)
    assert bounds == (0, 0)  # the KPA may take it to zero: min-scale no longer holds it

    env.config = dataclasses.replace(env.config, gc=COLLECT_RESERVE)
    await configuration.reconcile(env.deps, CFG)
    revs, _ = await env.store.list(REVISION, "default")
    assert [r["metadata"]["name"] for r in revs] == ["hello-00003"]


async def test_the_latest_created_revision_is_marked_while_the_route_serves_the_previous_one(env: Env) -> None:
    await env.store.create(SERVICE, service_obj("default", "hello", image="v1"))
    await settle(env)
    env.runtime.make_ready(wk("hello-00001"))
    await settle(env)
    # hello-00002 from another writer's point of view: pending, not named (a Configuration
    # created before its Service named the route, say)
    await set_image(env, "v2")
    rev = await env.get(REVISION, "hello-00002")
    rev["metadata"]["labels"][STATE] = "pending"
    del rev["metadata"]["annotations"][ROUTES]
    await env.store.update(REVISION, rev)
    await route.reconcile(env.deps, RT)
    assert await labels_of(env, "hello-00002") == ("active", "hello")  # listed: the latest created
    assert await labels_of(env, "hello-00001") == ("active", "hello")  # still served


class NotServing(NullIngress):
    """An ingress that has not programmed anything yet."""

    def is_ready(self, namespace: str, name: str, generation: int) -> bool:
        return False


async def test_nothing_is_unmarked_until_the_route_is_ready_again(env: Env) -> None:
    """metasync.go: ``if r.IsReady() || r.IsFailed() { clearMetaForNotListed(...) }``."""
    await env.store.create(SERVICE, service_obj("default", "hello", image="v1"))
    await settle(env)
    env.runtime.make_ready(wk("hello-00001"))
    await settle(env)
    env.deps.ingress = NotServing()
    await set_image(env, "v2")
    env.runtime.make_ready(wk("hello-00002"))
    await settle(env)
    rt = await env.get(ROUTE, "hello")
    assert cond(rt, "IngressReady")[:2] == ("Unknown", "IngressNotConfigured")
    assert [t["revisionName"] for t in rt["status"]["traffic"]] == ["hello-00002"]
    assert await labels_of(env, "hello-00001") == ("active", "hello")  # may still be served
    env.deps.ingress = env.ingress
    await route.reconcile(env.deps, RT)
    assert await labels_of(env, "hello-00001") == ("reserve", None)


async def test_a_deleted_route_unmarks_everything(env: Env) -> None:
    await env.store.create(SERVICE, service_obj("default", "hello"))
    await settle(env)
    env.runtime.make_ready(wk("hello-00001"))
    await settle(env)
    await env.store.delete(ROUTE, "default", "hello")
    await route.reconcile(env.deps, RT)
    assert await labels_of(env, "hello-00001") == ("reserve", None)
    assert ROUTES not in (await env.get(CONFIGURATION, "hello"))["metadata"]["annotations"]


# --- the whole controller -----------------------------------------------------------------


async def _get(store: SqliteStore, kind_name: str, name: str) -> Obj | None:
    kind = {"Service": SERVICE, "Revision": REVISION, "PodAutoscaler": PODAUTOSCALER}[kind_name]
    try:
        return await store.get(kind, "default", name)
    except NotFound:
        return None


def _until(
    store: SqliteStore, kind: str, name: str, pred: Callable[[Obj], bool]
) -> Callable[[], Awaitable[Obj | None]]:
    async def probe() -> Obj | None:
        obj = await _get(store, kind, name)
        return obj if obj is not None and pred(obj) else None

    return probe


async def test_the_reproduction_through_the_whole_controller() -> None:
    clock = FakeClock()
    store = await SqliteStore.open(":memory:", clock=clock)
    runtime = FakeRuntime()
    config = Config()
    try:
        async with Controller(store, runtime, lambda: config, clock=clock) as controller:

            async def ready(name: str) -> None:
                # min-scale 2, but the wanted replicas may move (the initial scale first; 0 while the
                # revision is not yet reachable) and a scale resets readiness: keep readying what the
                # runtime runs until the revision is Ready, as instances that pass their probes would
                async def ready_now() -> bool:
                    key = wk(name)
                    status = runtime.statuses.get(key)
                    if runtime.replicas.get(key, 0) > 0 and status is not None and status.ready < status.desired:
                        runtime.make_ready(key)
                    rev = await _get(store, "Revision", name)
                    return rev is not None and condition(rev, "Ready").get("status") == "True"

                await eventually(ready_now)

            async def serving(rev: str) -> None:
                await eventually(
                    _until(
                        store,
                        "Service",
                        "hello",
                        lambda s: (
                            condition(s, "Ready").get("status") == "True"
                            and s["status"].get("observedGeneration") == s["metadata"]["generation"]
                            and s["status"]["traffic"][0]["revisionName"] == rev
                        ),
                    )
                )

            async def image(img: str) -> None:
                while True:  # as a client does: the controller may write the status in between
                    svc = await store.get(SERVICE, "default", "hello")
                    svc["spec"]["template"]["spec"]["containers"][0]["image"] = img
                    try:
                        await store.update(SERVICE, svc)
                        return
                    except Conflict:
                        continue

            await store.create(SERVICE, service_obj("default", "hello", image="v1", annotations=MIN_SCALE_2))
            await ready("hello-00001")
            await serving("hello-00001")
            await image("v2")
            await eventually(lambda: _async(runtime.replicas.get(wk("hello-00002")) == 2))
            await image("v3")
            await ready("hello-00003")
            await serving("hello-00003")
            rev2 = await eventually(
                _until(store, "Revision", "hello-00002", lambda r: r["metadata"]["labels"][STATE] == "reserve")
            )
            assert ROUTES not in rev2["metadata"]["annotations"]
            await eventually(
                _until(store, "PodAutoscaler", "hello-00002", lambda p: p["spec"].get("reachability") == "Unreachable")
            )
            # no autoscaler runs here to take it to zero (the KPA's bounds for it: test_kpa_scaler's
            # min-ignored-when-unreachable); the collector removes it, and the runtime stops it
            config = dataclasses.replace(config, gc=COLLECT_RESERVE)
            controller.config_changed()
            await eventually(lambda: _async_none(store, "hello-00002"))
            await eventually(lambda: _async(runtime.replicas.get(wk("hello-00002"), 0) == 0))
            assert await _get(store, "Revision", "hello-00003") is not None
    finally:
        await store.close()


async def _async(value: bool) -> bool:
    return value


async def _async_none(store: SqliteStore, name: str) -> bool:
    return await _get(store, "Revision", name) is None
