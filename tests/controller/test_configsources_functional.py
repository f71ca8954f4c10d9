"""ConfigMaps and Secrets through the whole controller (real store, watch, index; FakeRuntime):
a missing key is the revision's condition at once, creating or editing the object reconciles the
revisions that read it, and no revision is ever made for it."""

from __future__ import annotations

import base64

from zeroserve.api.base import Obj
from zeroserve.api.kinds import CONFIGMAP, REVISION, SECRET, SERVICE
from zeroserve.clock import FakeClock
from zeroserve.config import Config
from zeroserve.controller.runner import Controller
from zeroserve.runtime.base import VolumeFile, Workload, WorkloadKey
from zeroserve.runtime.fake import FakeRuntime
from zeroserve.store.sqlite import SqliteStore
from zeroserve.testing import cond, eventually, service

WKEY = WorkloadKey("default", "hello-00001")
REACT = 2.0
"""A change of a ConfigMap or Secret reaches its revisions within this (the issue's ~2 s)."""


def reading(svc: Obj) -> Obj:
    container = svc["spec"]["template"]["spec"]["containers"][0]
    container["env"] = [{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}]
    container["volumeMounts"] = [{"name": "cfg", "mountPath": "/etc/cfg", "readOnly": True}]
    svc["spec"]["template"]["spec"]["volumes"] = [{"name": "cfg", "configMap": {"name": "settings"}}]
    return svc


async def condition_becomes(store: SqliteStore, type_: str, want: tuple[str, str | None, str | None]) -> None:
    """The revision's condition ``type_`` is ``want`` (status, reason, message; None: any) within REACT."""

    async def probe() -> bool:
        try:
            rev = await store.get(REVISION, "default", "hello-00001")
        except Exception:
            return False
        found = cond(rev, type_)
        return all(w is None or w == f for w, f in zip(want, found, strict=True))

    await eventually(probe, timeout=REACT)


async def workload(runtime: FakeRuntime, check: object) -> Workload:
    async def probe() -> Workload | None:
        w = runtime.workloads.get(WKEY)
        return w if w is not None and check(w) else None  # type: ignore[operator]

    return await eventually(probe, timeout=REACT)


async def test_missing_objects_are_reported_and_their_arrival_and_edits_reconcile_the_revision() -> None:
    clock = FakeClock()
    store = await SqliteStore.open(":memory:", clock=clock)
    runtime = FakeRuntime(auto_ready=True)
    try:
        async with Controller(store, runtime, Config, clock=clock, workers=2):
            await store.create(SERVICE, reading(service("default", "hello")))
            await condition_becomes(
                store,
                "ResourcesAvailable",
                ("False", "FailedMount", 'MountVolume.SetUp failed for volume "cfg" : configmap "settings" not found'),
            )

            await store.create(
                CONFIGMAP, {"metadata": {"name": "settings", "namespace": "default"}, "data": {"a": "1"}}
            )
            await condition_becomes(
                store, "ResourcesAvailable", ("False", "CreateContainerConfigError", 'secret "db" not found')
            )
            secret = {"metadata": {"name": "db", "namespace": "default"}, "data": {"other": "eA=="}}
            await store.create(SECRET, secret)
            await condition_becomes(
                store, "ResourcesAvailable", ("False", None, "couldn't find key password in Secret default/db")
            )

            stored = await store.get(SECRET, "default", "db")
            password = base64.b64encode(b"s3cret").decode()
            await store.update(SECRET, {**stored, "data": {"password": password}})
            await condition_becomes(store, "Ready", ("True", None, None))
            assert ("PW", "s3cret") in (await workload(runtime, lambda w: True)).env

            cm = await store.get(CONFIGMAP, "default", "settings")
            await store.update(CONFIGMAP, {**cm, "data": {"a": "2"}})
            edited = await workload(runtime, lambda w: w.volumes[0].files == (VolumeFile("a", b"2"),))
            assert edited.config_error is None
            revisions, _ = await store.list(REVISION)
            assert [r["metadata"]["name"] for r in revisions] == ["hello-00001"]  # never a new revision
    finally:
        await store.close()
