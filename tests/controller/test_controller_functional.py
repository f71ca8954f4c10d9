from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from zeroserve.api.base import Obj
from zeroserve.api.kinds import CONFIGURATION, ROUTE, SERVICE
from zeroserve.clock import FakeClock
from zeroserve.config import Config, NetworkConfig
from zeroserve.controller.runner import Controller
from zeroserve.runtime.base import Failure, Workload, WorkloadKey
from zeroserve.runtime.fake import FakeRuntime
from zeroserve.store.sqlite import SqliteStore
from zeroserve.testing import condition, eventually, service

Pred = Callable[[Obj], bool]


async def wait_for(store: SqliteStore, pred: Pred, kind_name: str = "Service") -> Obj:
    kind = {"Service": SERVICE, "Configuration": CONFIGURATION}[kind_name]

    async def probe() -> Obj | None:
        obj = await store.get(kind, "default", "hello")
        return obj if pred(obj) else None

    return await eventually(probe)


def ready_at(rev: str, entries: int = 1) -> Pred:
    def pred(o: Obj) -> bool:
        st = o.get("status", {})
        traffic = st.get("traffic", [])
        return (
            condition(o, "Ready").get("status") == "True"
            and st.get("observedGeneration") == o["metadata"]["generation"]
            and st.get("latestReadyRevisionName") == rev
            and len(traffic) == entries
            and traffic[0]["revisionName"] == rev
        )

    return pred


def reason_is(reason: str) -> Pred:
    return lambda o: condition(o, "Ready").get("reason") == reason


async def test_service_lifecycle_through_the_whole_controller() -> None:
    clock = FakeClock()
    store = await SqliteStore.open(":memory:", clock=clock)
    runtime = FakeRuntime(auto_ready=True)
    runtime.failing["bad"] = Failure("ExitCode1", "boom")
    try:
        async with Controller(store, runtime, Config, clock=clock, workers=2):
            await store.create(SERVICE, service("default", "hello", env={"GREETING": "hi"}))
            svc = await wait_for(store, ready_at("hello-00001"))
            assert svc["status"]["url"] == "http://hello.default.localhost:8080"
            assert svc["status"]["traffic"] == [{"revisionName": "hello-00001", "latestRevision": True, "percent": 100}]
            assert runtime.workloads[WorkloadKey("default", "hello-00001")].env == (("GREETING", "hi"),)
            assert condition(await store.get(ROUTE, "default", "hello"), "Ready")["status"] == "True"

            svc["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "GREETING", "value": "hello"}]
            await store.update(SERVICE, svc)
            svc = await wait_for(store, ready_at("hello-00002"))

            svc["spec"]["traffic"] = [
                {"latestRevision": True, "percent": 80},
                {"revisionName": "hello-00001", "latestRevision": False, "percent": 20, "tag": "candidate"},
            ]
            await store.update(SERVICE, svc)
            svc = await wait_for(store, ready_at("hello-00002", entries=2))
            assert svc["status"]["traffic"][1] == {
                "tag": "candidate",
                "revisionName": "hello-00001",
                "latestRevision": False,
                "percent": 20,
                "url": "http://candidate-hello.default.localhost:8080",
            }

            svc["spec"]["template"]["spec"]["containers"][0]["image"] = "bad"
            await store.update(SERVICE, svc)
            cfg = await wait_for(store, reason_is("RevisionFailed"), "Configuration")
            assert cfg["status"]["latestCreatedRevisionName"] == "hello-00003"
            assert cfg["status"]["latestReadyRevisionName"] == "hello-00002"
            assert condition(cfg, "Ready")["message"] == (
                'Revision "hello-00003" failed with message: Container failed with: boom.'
            )
            svc = await wait_for(store, reason_is("RevisionFailed"))
            assert svc["status"]["latestReadyRevisionName"] == "hello-00002"
    finally:
        await store.close()


class FlakyRuntime(FakeRuntime):
    """Fails the first ``ensure`` (a transient runtime error) and works afterwards."""

    def __init__(self) -> None:
        super().__init__(auto_ready=True)
        self.failures_left = 1

    async def ensure(self, workload: Workload, replicas: int) -> None:
        if self.failures_left:
            self.failures_left -= 1
            raise RuntimeError("runtime hiccup")
        await super().ensure(workload, replicas)


def url_is(want: str) -> Pred:
    return lambda o: condition(o, "Ready").get("status") == "True" and o["status"].get("url") == want


async def test_errors_are_retried_config_changes_resync_and_orphans_go(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    store = await SqliteStore.open(":memory:", clock=clock)
    runtime = FlakyRuntime()
    ghost = WorkloadKey("default", "ghost")
    await FakeRuntime.ensure(runtime, dataclasses.replace(_any_workload(), key=ghost), 1)
    config = Config()
    try:
        await store.create(SERVICE, service("default", "hello"))
        async with Controller(store, runtime, lambda: config, clock=clock) as controller:
            await wait_for(store, url_is("http://hello.default.localhost:8080"))
            assert runtime.failures_left == 0
            assert "runtime hiccup" in caplog.text
            assert ghost in runtime.removed
            config = dataclasses.replace(config, network=NetworkConfig(external_port=80))
            controller.config_changed()
            await wait_for(store, url_is("http://hello.default.localhost"))
    finally:
        await store.close()


def _any_workload() -> Workload:
    return Workload(
        key=WorkloadKey("default", "x"),
        service="",
        configuration="",
        image="img",
        command=(),
        args=(),
        working_dir=None,
        env=(),
        container_port=8080,
        readiness_probe=None,
        liveness_probe=None,
        termination_grace_seconds=300,
        container_concurrency=0,
        timeout_seconds=300,
    )
