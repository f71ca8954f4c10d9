from __future__ import annotations

from zeroserve.api.kinds import CONFIGURATION, REVISION
from zeroserve.controller.reconcilers import configuration
from zeroserve.controller.reconcilers.base import Key
from zeroserve.testing import condition
from zeroserve.testing import configuration as configuration_obj
from zeroserve.testing.controller import ControllerEnv as Env
from zeroserve.testing.controller import env_fixture  # noqa: F401 (the env fixture)

KEY = Key("Configuration", "default", "hello")


async def test_stamps_first_revision_and_sets_latest_created(env: Env) -> None:
    await env.store.create(CONFIGURATION, configuration_obj("default", "hello", env={"A": "1"}))
    assert await configuration.reconcile(env.deps, KEY) is None
    rev = await env.get(REVISION, "hello-00001")
    assert rev["metadata"]["labels"]["serving.knative.dev/configurationGeneration"] == "1"
    assert rev["metadata"]["labels"]["serving.knative.dev/routingState"] == "pending"
    assert rev["spec"]["containers"][0]["env"] == [{"name": "A", "value": "1"}]
    cfg = await env.get(CONFIGURATION, "hello")
    assert cfg["status"]["latestCreatedRevisionName"] == "hello-00001"
    assert "latestReadyRevisionName" not in cfg["status"]
    assert cfg["status"]["observedGeneration"] == 1
    assert condition(cfg, "Ready")["status"] == "Unknown"


async def test_is_idempotent_and_writes_nothing_when_nothing_changed(env: Env) -> None:
    await env.store.create(CONFIGURATION, configuration_obj("default", "hello"))
    await configuration.reconcile(env.deps, KEY)
    before = await env.get(CONFIGURATION, "hello")
    env.clock.step(60)
    await configuration.reconcile(env.deps, KEY)
    after = await env.get(CONFIGURATION, "hello")
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    revs, _ = await env.store.list(REVISION, "default")
    assert [r["metadata"]["name"] for r in revs] == ["hello-00001"]


async def test_ready_revision_becomes_latest_ready(env: Env) -> None:
    await env.store.create(CONFIGURATION, configuration_obj("default", "hello"))
    await configuration.reconcile(env.deps, KEY)
    await env.mark_ready(REVISION, "hello-00001")
    await configuration.reconcile(env.deps, KEY)
    cfg = await env.get(CONFIGURATION, "hello")
    assert cfg["status"]["latestReadyRevisionName"] == "hello-00001"
    assert condition(cfg, "Ready")["status"] == "True"


async def test_failed_new_revision_keeps_older_latest_ready(env: Env) -> None:
    await env.store.create(CONFIGURATION, configuration_obj("default", "hello", image="good"))
    await configuration.reconcile(env.deps, KEY)
    await env.mark_ready(REVISION, "hello-00001")
    await configuration.reconcile(env.deps, KEY)
    cfg = await env.get(CONFIGURATION, "hello")
    cfg["spec"]["template"]["spec"]["containers"][0]["image"] = "bad"
    await env.store.update(CONFIGURATION, cfg)
    await configuration.reconcile(env.deps, KEY)
    cfg = await env.get(CONFIGURATION, "hello")
    assert cfg["status"]["latestCreatedRevisionName"] == "hello-00002"
    assert condition(cfg, "Ready")["status"] == "Unknown"
    await env.mark_ready(REVISION, "hello-00002", "False")
    await configuration.reconcile(env.deps, KEY)
    cfg = await env.get(CONFIGURATION, "hello")
    assert cfg["status"]["latestReadyRevisionName"] == "hello-00001"
    ready = condition(cfg, "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "False",
        "RevisionFailed",
        'Revision "hello-00002" failed with message: boom.',
    )
    assert cfg["status"]["observedGeneration"] == 2


async def test_revision_name_owned_by_someone_else(env: Env) -> None:
    await env.store.create(REVISION, {"metadata": {"name": "hello-00001", "namespace": "default"}, "spec": {}})
    await env.store.create(CONFIGURATION, configuration_obj("default", "hello"))
    await configuration.reconcile(env.deps, KEY)
    cfg = await env.get(CONFIGURATION, "hello")
    assert condition(cfg, "Ready")["reason"] == "NotOwned"
    assert "latestCreatedRevisionName" not in cfg["status"]


async def test_missing_configuration_is_a_no_op(env: Env) -> None:
    assert await configuration.reconcile(env.deps, KEY) is None


async def test_a_configuration_being_deleted_makes_no_revision(env: Env) -> None:
    """Foreground deletion deletes the Revisions while the Configuration waits with a deletionTimestamp:
    remaking them then (the flake of stop 24's CI) would leave the delete chasing new children."""
    held = configuration_obj("default", "hello")
    held["metadata"]["finalizers"] = ["example.com/hold"]
    await env.store.create(CONFIGURATION, held)
    await env.store.delete(CONFIGURATION, "default", "hello")
    assert (await env.get(CONFIGURATION, "hello"))["metadata"]["deletionTimestamp"]
    assert await configuration.reconcile(env.deps, KEY) is None
    revs, _ = await env.store.list(REVISION, "default")
    assert revs == []
