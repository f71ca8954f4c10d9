"""The Events the reconcilers record, as Knative's record them (each test: objects in a real store +
key -> reconcile -> the events written, as (type, reason, message)); the controller's InternalError
for a failed reconcile. Knative's table tests name theirs WantEvents: Eventf(corev1.EventTypeNormal,
"Created", "Created Configuration %q", "hello")."""

from __future__ import annotations

import dataclasses
from typing import cast

from tests.controller.test_revision_digests import Bench
from zeroserve.api.base import Obj
from zeroserve.api.kinds import CONFIGURATION, DOMAINMAPPING, EVENT, REVISION, ROUTE, SERVICE, Kind
from zeroserve.config import Config, NetworkConfig
from zeroserve.controller.reconcilers import configuration, domainmapping, revision, service
from zeroserve.controller.reconcilers.base import Key
from zeroserve.controller.runner import Controller
from zeroserve.errors import FieldError, Invalid
from zeroserve.runtime.base import WorkloadKey
from zeroserve.runtime.fake import FakeRuntime
from zeroserve.store.base import Store
from zeroserve.testing import configuration as configuration_obj
from zeroserve.testing import eventually
from zeroserve.testing import route as route_obj
from zeroserve.testing import service as service_obj
from zeroserve.testing.controller import ControllerEnv as Env
from zeroserve.testing.controller import env_fixture  # noqa: F401 (the env fixture)

SVC = Key("Service", "default", "hello")
CFG = Key("Configuration", "default", "hello")
REV = Key("Revision", "default", "hello-00001")


class FailCreates:
    """The real store, but creating ``kind`` fails (Knative's ``InduceFailure("create", ...)``)."""

    def __init__(self, store: Store, kind: Kind) -> None:
        self._store, self._kind = store, kind

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    async def create(self, kind: Kind, obj: Obj) -> Obj:
        if kind is self._kind:
            raise Invalid([FieldError("inducing failure for create routes", ("spec",))], kind.kind, "hello")
        return await self._store.create(kind, obj)


async def test_a_service_records_creating_its_configuration_and_route(env: Env) -> None:
    await env.store.create(SERVICE, service_obj("default", "hello"))
    await service.reconcile(env.deps, SVC)
    assert await env.events("hello") == [
        ("Normal", "Created", 'Created Configuration "hello"'),
        ("Normal", "Created", 'Created Route "hello"'),
    ]
    await service.reconcile(env.deps, SVC)  # nothing new happened: nothing new recorded
    assert len(await env.events("hello")) == 2
    items, _ = await env.store.list(EVENT, "default")
    assert {(e["source"]["component"], e["involvedObject"]["kind"]) for e in items} == {
        ("service-controller", "Service")
    }


async def test_a_child_it_cannot_create_is_a_creation_failed_warning(env: Env) -> None:
    await env.store.create(SERVICE, service_obj("default", "hello"))
    deps = dataclasses.replace(env.deps, store=cast(Store, FailCreates(env.store, ROUTE)))
    try:
        await service.reconcile(deps, SVC)
    except Invalid:
        pass
    else:
        raise AssertionError("the failed create is the reconcile's error")
    assert await env.events("hello") == [
        ("Normal", "Created", 'Created Configuration "hello"'),
        (
            "Warning",
            "CreationFailed",
            'Failed to create Route "hello": Route "hello" is invalid: inducing failure for create routes: spec',
        ),
    ]


async def test_a_child_of_another_owner_is_an_internal_error(env: Env) -> None:
    await env.store.create(ROUTE, route_obj("default", "hello", [{"revisionName": "x", "percent": 100}]))
    await env.store.create(SERVICE, service_obj("default", "hello"))
    await service.reconcile(env.deps, SVC)
    events = await env.events("hello")
    assert ("Warning", "InternalError", 'service: "hello" does not own route: "hello"') in events


async def test_a_configuration_records_its_revision_and_when_it_becomes_ready(env: Env) -> None:
    await env.store.create(CONFIGURATION, configuration_obj("default", "hello", image="good"))
    await configuration.reconcile(env.deps, CFG)
    assert await env.events("hello") == [("Normal", "Created", 'Created Revision "hello-00001"')]
    await env.mark_ready(REVISION, "hello-00001")
    await configuration.reconcile(env.deps, CFG)
    assert (await env.events("hello"))[1:] == [
        ("Normal", "ConfigurationReady", "Configuration becomes ready"),
        ("Normal", "LatestReadyUpdate", 'LatestReadyRevisionName updated to "hello-00001"'),
    ]
    cfg = await env.get(CONFIGURATION, "hello")
    cfg["spec"]["template"]["spec"]["containers"][0]["image"] = "bad"
    await env.store.update(CONFIGURATION, cfg)
    await configuration.reconcile(env.deps, CFG)
    await env.mark_ready(REVISION, "hello-00002", ready="False")
    await configuration.reconcile(env.deps, CFG)
    await configuration.reconcile(env.deps, CFG)  # the same failure again: no second warning
    assert (await env.events("hello"))[3:] == [
        ("Normal", "Created", 'Created Revision "hello-00002"'),
        ("Warning", "LatestCreatedFailed", 'Latest created revision "hello-00002" has failed'),
    ]


async def test_a_revision_records_becoming_ready_once(env: Env) -> None:
    await env.store.create(CONFIGURATION, configuration_obj("default", "hello"))
    await configuration.reconcile(env.deps, CFG)
    await revision.reconcile(env.deps, REV)
    assert await env.events("hello-00001") == []
    env.runtime.make_ready(WorkloadKey("default", "hello-00001"))
    await revision.reconcile(env.deps, REV)
    await revision.reconcile(env.deps, REV)
    ready = ("Normal", "RevisionReady", "Revision becomes ready upon all resources being ready")
    assert await env.events("hello-00001") == [ready]


async def test_a_domain_mapping_records_its_finalizer(env: Env) -> None:
    env.config = Config(network=NetworkConfig(autocreate_cluster_domain_claims=True))
    mapping = {
        "apiVersion": "serving.knative.dev/v1beta1",
        "kind": "DomainMapping",
        "metadata": {"name": "example.com", "namespace": "default"},
        "spec": {"ref": {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "hello"}},
    }
    await env.store.create(DOMAINMAPPING, mapping)
    key = Key("DomainMapping", "default", "example.com")
    await domainmapping.reconcile(env.deps, key)
    await env.store.delete(DOMAINMAPPING, "default", "example.com")
    await domainmapping.reconcile(env.deps, key)
    updated = ("Normal", "FinalizerUpdate", 'Updated "example.com" finalizers')
    assert await env.events("example.com") == [updated]  # added, then removed: the same event twice,
    items, _ = await env.store.list(EVENT, "default")
    assert [e["count"] for e in items] == [2]  # counted on one


async def test_the_controller_records_a_failed_reconcile_as_an_internal_error(env: Env) -> None:
    await env.store.create(SERVICE, service_obj("default", "hello"))
    await env.store.create(SERVICE, service_obj("default", "other"))

    async def failing(deps: object, key: Key) -> None:
        if key.name == "hello":
            raise Invalid([FieldError("is broken", ("spec",))], "Service", key.name)
        raise ValueError("invalid literal for int() with base 10: 's3cret'")  # words that may quote a value

    ctl = Controller(env.store, FakeRuntime(), Config, clock=env.clock, workers=1, recorder=env.recorder)
    ctl.reconcilers[SERVICE.kind] = failing
    async with ctl:

        async def both() -> list[tuple[str, str, str]] | None:
            events = await env.events()
            warnings = [e for e in events if e[1] == "InternalError"]
            return warnings if len(warnings) == 2 else None

        warnings = await eventually(both)
    assert sorted(warnings) == [
        ("Warning", "InternalError", 'Service "hello" is invalid: is broken: spec'),
        ("Warning", "InternalError", "ValueError (see the log)"),  # only our own errors' words are shown
    ]


async def test_an_image_it_cannot_resolve_is_an_internal_error_with_the_container_missing_message() -> None:
    env = await Env.open()
    try:
        bench = Bench(env)
        await bench.stamp(image="127.0.0.1:5000/hello:nope")
        await revision.reconcile(env.deps, REV)
        await bench.resolved()
        await revision.reconcile(env.deps, REV)
        message = (
            'Unable to fetch image "127.0.0.1:5000/hello:nope": failed to resolve image to digest: '
            "reading manifest nope in 127.0.0.1:5000/hello: manifest unknown"
        )
        assert await env.events("hello-00001") == [("Warning", "InternalError", message)]
    finally:
        await env.close()
