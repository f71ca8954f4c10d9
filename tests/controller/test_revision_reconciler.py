from __future__ import annotations

import dataclasses

import pytest

from zeroserve.api.kinds import CONFIGURATION, PODAUTOSCALER, REVISION
from zeroserve.controller.reconcilers import configuration, revision
from zeroserve.controller.reconcilers.base import Key
from zeroserve.runtime.base import WorkloadKey
from zeroserve.testing import cond
from zeroserve.testing import configuration as configuration_obj
from zeroserve.testing.controller import ControllerEnv as Env
from zeroserve.testing.controller import env_fixture  # noqa: F401 (the env fixture)

KEY = Key("Revision", "default", "hello-00001")
WKEY = WorkloadKey("default", "hello-00001")


async def stamp(env: Env, **template_meta: object) -> None:
    cfg = configuration_obj("default", "hello", env={"A": "1"})
    cfg["spec"]["template"]["metadata"].update(template_meta)
    await env.store.create(CONFIGURATION, cfg)
    await configuration.reconcile(env.deps, Key("Configuration", "default", "hello"))


async def test_ensures_one_instance_and_reports_deploying(env: Env) -> None:
    await stamp(env)
    requeue = await revision.reconcile(env.deps, KEY)
    assert requeue == pytest.approx(600.0)
    assert env.runtime.replicas[WKEY] == 1
    assert env.runtime.workloads[WKEY].env == (("A", "1"),)
    rev = await env.get(REVISION, "hello-00001")
    assert cond(rev, "ResourcesAvailable") == ("Unknown", "Deploying", None)
    assert cond(rev, "ContainerHealthy") == ("Unknown", "Deploying", None)
    assert cond(rev, "Ready")[0] == "Unknown"
    assert cond(rev, "Active")[:2] == ("Unknown", "Queued")
    assert rev["status"]["desiredReplicas"] == 1
    assert rev["status"]["actualReplicas"] == 0
    assert rev["status"]["observedGeneration"] == 1


async def test_ready_instances_make_the_revision_ready_and_active(env: Env) -> None:
    await stamp(env)
    await revision.reconcile(env.deps, KEY)
    env.runtime.make_ready(WKEY)
    assert await revision.reconcile(env.deps, KEY) is None
    rev = await env.get(REVISION, "hello-00001")
    assert cond(rev, "Ready") == ("True", None, None)
    assert cond(rev, "Active") == ("True", None, None)
    assert rev["status"]["actualReplicas"] == 1


@pytest.mark.parametrize(
    ("reason", "termination", "message"),
    [
        pytest.param("ExitCode1", "boom", "Container failed with: boom", id="log-tail"),
        pytest.param("ExitCode0", "", "Container failed with: container exited with no error", id="clean-exit"),
    ],
)
async def test_exit_code_failure(env: Env, reason: str, termination: str, message: str) -> None:
    await stamp(env)
    await revision.reconcile(env.deps, KEY)
    env.runtime.fail(WKEY, reason, termination)
    await revision.reconcile(env.deps, KEY)
    rev = await env.get(REVISION, "hello-00001")
    assert cond(rev, "ContainerHealthy") == ("False", reason, message)
    assert cond(rev, "Ready") == ("False", reason, message)
    assert cond(rev, "ResourcesAvailable")[:2] == ("Unknown", "Deploying")


async def test_permanent_failure_uses_the_runtime_message(env: Env) -> None:
    await stamp(env)
    await revision.reconcile(env.deps, KEY)
    env.runtime.fail(WKEY, "ImageUnsupported", "the process runtime cannot run images", permanent=True)
    assert await revision.reconcile(env.deps, KEY) is None
    rev = await env.get(REVISION, "hello-00001")
    assert cond(rev, "ContainerHealthy") == ("False", "ImageUnsupported", "the process runtime cannot run images")
    assert cond(rev, "Ready")[:2] == ("False", "ImageUnsupported")


@pytest.mark.parametrize(
    ("annotations", "elapsed", "exceeded"),
    [
        pytest.param({}, 599, False, id="default-600s-not-yet"),
        pytest.param({}, 601, True, id="default-600s-exceeded"),
        pytest.param({"serving.knative.dev/progress-deadline": "30s"}, 31, True, id="annotation"),
    ],
)
async def test_progress_deadline(env: Env, annotations: dict[str, str], elapsed: float, exceeded: bool) -> None:
    await stamp(env, annotations=annotations)
    await revision.reconcile(env.deps, KEY)
    env.clock.step(elapsed)
    await revision.reconcile(env.deps, KEY)
    rev = await env.get(REVISION, "hello-00001")
    if exceeded:
        assert cond(rev, "ResourcesAvailable") == (
            "False",
            "ProgressDeadlineExceeded",
            "Initial scale was never achieved",
        )
        assert cond(rev, "Ready")[0] == "False"
    else:
        assert cond(rev, "ResourcesAvailable")[:2] == ("Unknown", "Deploying")


async def test_initialized_revision_stays_ready_when_scaled_to_zero(env: Env) -> None:
    await stamp(env)
    await revision.reconcile(env.deps, KEY)
    env.runtime.make_ready(WKEY)
    await revision.reconcile(env.deps, KEY)
    rev = await env.get(REVISION, "hello-00001")
    rev["metadata"]["labels"]["serving.knative.dev/routingState"] = "reserve"
    await env.store.update(REVISION, rev)
    env.clock.step(3600)
    assert env.runtime.scale(WKEY, 0)  # the autoscaler's decision for an unreachable revision
    await revision.reconcile(env.deps, KEY)
    assert env.runtime.replicas[WKEY] == 0
    rev = await env.get(REVISION, "hello-00001")
    assert cond(rev, "Ready")[0] == "True"
    assert cond(rev, "Active") == ("False", "NoTraffic", "The target is not receiving traffic.")
    assert (rev["status"]["desiredReplicas"], rev["status"]["actualReplicas"]) == (0, 0)


async def test_a_running_revision_keeps_its_scale_when_it_moves_to_reserve(env: Env) -> None:
    """The Revision reconciler sets the scale only when it creates the workload; after that the
    autoscaler owns it (Knative's checkAndUpdateDeployment keeps the Deployment's replicas), so a
    routing state that flips active → reserve → active while a new revision starts, before any
    autoscaler decision, does not stop its instance."""
    await stamp(env)
    await revision.reconcile(env.deps, KEY)
    env.runtime.make_ready(WKEY)
    rev = await env.get(REVISION, "hello-00001")
    rev["metadata"]["labels"]["serving.knative.dev/routingState"] = "reserve"
    await env.store.update(REVISION, rev)
    await revision.reconcile(env.deps, KEY)
    assert env.runtime.replicas[WKEY] == 1
    pa = await env.get(PODAUTOSCALER, "hello-00001")
    assert pa["spec"]["reachability"] == "Unreachable"  # the KPA may now take it to zero


async def test_a_revision_first_seen_in_reserve_starts_at_its_initial_scale(env: Env) -> None:
    """Knative's MakeDeployment starts a Deployment at the initial scale whatever the routing state
    (and the KPA raises only an initial scale above 1): a new revision the labeler moved to reserve
    for a moment, before its first reconcile, must not be created at zero and stay there."""
    await stamp(env)
    rev = await env.get(REVISION, "hello-00001")
    rev["metadata"]["labels"]["serving.knative.dev/routingState"] = "reserve"
    await env.store.update(REVISION, rev)
    await revision.reconcile(env.deps, KEY)
    assert env.runtime.replicas[WKEY] == 1


async def test_min_and_initial_scale_annotations(env: Env) -> None:
    await stamp(
        env, annotations={"autoscaling.knative.dev/min-scale": "2", "autoscaling.knative.dev/initialScale": "3"}
    )
    await revision.reconcile(env.deps, KEY)
    assert env.runtime.replicas[WKEY] == 3


async def test_unsupported_fields_are_named_in_a_condition(env: Env) -> None:
    cfg = configuration_obj("default", "hello")
    cfg["spec"]["template"]["spec"]["volumes"] = [{"name": "v", "hostPath": {"path": "/srv"}}]
    await env.store.create(CONFIGURATION, cfg)
    await configuration.reconcile(env.deps, Key("Configuration", "default", "hello"))
    await revision.reconcile(env.deps, KEY)
    env.runtime.make_ready(WKEY)
    await revision.reconcile(env.deps, KEY)
    rev = await env.get(REVISION, "hello-00001")
    assert rev["spec"]["volumes"] == [{"name": "v", "hostPath": {"path": "/srv"}}]
    assert cond(rev, "ResourcesAvailable") == (
        "True",
        "UnsupportedFields",
        "Fields kept but not honoured by this runtime: spec.volumes[0].hostPath.",
    )


async def test_runtime_warnings_are_named_in_a_condition(env: Env) -> None:
    await stamp(env)
    await revision.reconcile(env.deps, KEY)
    env.runtime.make_ready(WKEY)
    env.runtime.warn(WKEY, "cpu/memory limits not enforced: no cgroup controllers (memory=64Mi)")
    await revision.reconcile(env.deps, KEY)
    rev = await env.get(REVISION, "hello-00001")
    assert cond(rev, "ResourcesAvailable") == (
        "True",
        "RuntimeWarning",
        "cpu/memory limits not enforced: no cgroup controllers (memory=64Mi)",
    )
    assert cond(rev, "Ready")[0] == "True"


async def test_deleted_revision_and_orphans_are_removed_from_the_runtime(env: Env) -> None:
    await stamp(env)
    await revision.reconcile(env.deps, KEY)
    ghost = dataclasses.replace(env.runtime.workloads[WKEY], key=WorkloadKey("default", "ghost"))
    await env.runtime.ensure(ghost, 1)
    assert await revision.remove_orphans(env.deps) == [WorkloadKey("default", "ghost")]
    await env.store.delete(REVISION, "default", "hello-00001")
    await revision.reconcile(env.deps, KEY)
    assert env.runtime.keys() == []
    assert env.runtime.removed == [WorkloadKey("default", "ghost"), WKEY]
