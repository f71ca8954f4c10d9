"""ContainerSource reconciler on a real SqliteStore with a FakeRuntime (cases after Knative's
pkg/reconciler/containersource/containersource_test.go): its SinkBinding, the adapter workload with
K_SINK/K_CE_OVERRIDES once the binding has a sink, the conditions from the binding and the runtime,
removal on delete; and the builder (names, env in every container, a non-serving workload)."""

from __future__ import annotations

from typing import Any

import pytest

from zeroserve.api.admission import admit
from zeroserve.api.base import Obj, from_wire
from zeroserve.api.kinds import CONTAINERSOURCE, SINKBINDING
from zeroserve.api.sources import ContainerSource
from zeroserve.config import Config
from zeroserve.controller.reconcilers import containersource, sinkbinding
from zeroserve.controller.reconcilers.base import Key
from zeroserve.controller.reconcilers.containersource import NotOwned
from zeroserve.controller.resources import containersource as resources
from zeroserve.runtime.base import WorkloadKey
from zeroserve.testing.controller import ControllerEnv as Env
from zeroserve.testing.controller import env_fixture  # noqa: F401 (the env fixture)

NS = "default"
WKEY = WorkloadKey(NS, "src", "ContainerSource")
SINK = "http://sink.example.test/"


def source_obj(name: str = "src", sink: str = SINK, **spec: Any) -> Obj:
    template = {
        "spec": {
            "containers": [
                {
                    "command": ["python", "producer.py"],
                    "env": [{"name": "A", "value": "1"}, {"name": "K_SINK", "value": "x"}],
                },
                {"name": "helper", "image": "example.test/helper:1"},
            ]
        }
    }
    body = {"sink": {"uri": sink}, "template": template, **spec}
    obj = {
        "apiVersion": "sources.knative.dev/v1",
        "kind": "ContainerSource",
        "metadata": {"name": name, "namespace": NS},
    }
    return admit(CONTAINERSOURCE, {**obj, "spec": body}, None, Config())


async def reconcile(env: Env, name: str = "src") -> Obj:
    await containersource.reconcile(env.deps, Key(CONTAINERSOURCE.kind, NS, name))
    return await env.get(CONTAINERSOURCE, name)


async def bind(env: Env, name: str = "src-sinkbinding") -> None:
    await sinkbinding.reconcile(env.deps, Key(SINKBINDING.kind, NS, name))


def conditions(obj: Obj) -> dict[str, tuple[str, str, str]]:
    return {c["type"]: (c["status"], c.get("reason", ""), c.get("message", "")) for c in obj["status"]["conditions"]}


async def test_makes_its_sink_binding_and_waits_for_the_sink(env: Env) -> None:
    created = await env.store.create(CONTAINERSOURCE, source_obj(ceOverrides={"extensions": {"b": "2"}}))
    src = await reconcile(env)
    binding = await env.get(SINKBINDING, "src-sinkbinding")
    assert binding["spec"] == {
        "sink": {"uri": SINK},
        "ceOverrides": {"extensions": {"b": "2"}},
        "subject": {"apiVersion": "sources.knative.dev/v1", "kind": "ContainerSource", "namespace": NS, "name": "src"},
    }
    (owner,) = binding["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["uid"], owner["controller"]) == ("ContainerSource", created["metadata"]["uid"], True)
    assert conditions(src)["SinkBindingReady"][0] == "Unknown"
    assert conditions(src)["ReceiveAdapterReady"] == (
        "Unknown",
        "SinkNotResolved",
        "The Deployment 'src-deployment' waits for a sink.",
    )
    assert env.runtime.keys() == []
    assert await env.events("src") == [
        ("Normal", "ContainerSourceSinkBindingCreated", 'SinkBinding created "src-sinkbinding"')
    ]


async def test_runs_the_adapter_with_the_binding_env_then_ready(env: Env) -> None:
    await env.store.create(CONTAINERSOURCE, source_obj(ceOverrides={"extensions": {"b": "2"}}))
    await reconcile(env)
    await bind(env)
    src = await reconcile(env)
    workload = env.runtime.workloads[WKEY]
    assert env.runtime.replicas[WKEY] == 1
    assert not workload.serving and workload.termination_grace_seconds == 30
    assert workload.command == ("python", "producer.py")
    bound = (("K_SINK", SINK), ("K_CE_OVERRIDES", '{"extensions":{"b":"2"}}'))
    assert workload.env == (("A", "1"), *bound)  # the template's K_SINK replaced, as the webhook's Do
    (helper,) = workload.sidecars
    assert (helper.name, helper.image, helper.env) == ("helper", "example.test/helper:1", bound)
    assert src["status"]["sinkUri"] == SINK
    assert conditions(src)["SinkBindingReady"][0] == "True"
    assert conditions(src)["ReceiveAdapterReady"] == (
        "Unknown",
        "DeploymentUnavailable",
        "The Deployment 'src-deployment' is unavailable.",
    )
    assert conditions(src)["Ready"][0] == "Unknown"
    env.runtime.make_ready(WKEY)
    src = await reconcile(env)
    assert conditions(src)["Ready"][0] == "True"
    assert src["status"]["observedGeneration"] == 1
    assert ("Normal", "ContainerSourceDeploymentCreated", 'Deployment created "src-deployment"') in await env.events(
        "src"
    )


async def test_a_crashing_adapter_is_not_ready_with_the_runtime_reason(env: Env) -> None:
    await env.store.create(CONTAINERSOURCE, source_obj())
    await reconcile(env)
    await bind(env)
    await reconcile(env)
    env.runtime.fail(WKEY, "ExitCode1", "boom")
    src = await reconcile(env)
    assert conditions(src)["ReceiveAdapterReady"] == ("False", "ExitCode1", "boom")
    assert conditions(src)["Ready"][:2] == ("False", "ExitCode1")


async def test_a_changed_sink_updates_the_binding_and_the_workload(env: Env) -> None:
    await env.store.create(CONTAINERSOURCE, source_obj())
    await reconcile(env)
    await bind(env)
    stored = await reconcile(env)
    changed = source_obj(sink="http://other.example.test/")
    await env.store.update(CONTAINERSOURCE, {**stored, "spec": changed["spec"]})
    await reconcile(env)
    binding = await env.get(SINKBINDING, "src-sinkbinding")
    assert binding["spec"]["sink"] == {"uri": "http://other.example.test/"}
    await bind(env)
    await reconcile(env)
    assert ("K_SINK", "http://other.example.test/") in env.runtime.workloads[WKEY].env
    assert ("Normal", "ContainerSourceSinkBindingUpdated", 'SinkBinding updated "src-sinkbinding"') in await env.events(
        "src"
    )


async def test_a_sink_binding_of_another_owner_is_an_error(env: Env) -> None:
    other = resources.make_sink_binding(from_wire(ContainerSource, source_obj(name="src")))
    other["metadata"]["ownerReferences"] = []
    await env.store.create(SINKBINDING, other)
    await env.store.create(CONTAINERSOURCE, source_obj())
    with pytest.raises(NotOwned, match='SinkBinding "src-sinkbinding" is not owned by ContainerSource "src"'):
        await reconcile(env)


async def test_deleted_source_removes_its_workload(env: Env) -> None:
    await env.store.create(CONTAINERSOURCE, source_obj())
    await reconcile(env)
    await bind(env)
    await reconcile(env)
    assert WKEY in env.runtime.workloads
    await env.store.delete(CONTAINERSOURCE, NS, "src")
    await containersource.reconcile(env.deps, Key(CONTAINERSOURCE.kind, NS, "src"))
    assert env.runtime.removed == [WKEY]


async def test_a_user_binding_by_selector_gives_the_sink_when_its_own_has_none(env: Env) -> None:
    obj = source_obj(sink="http://unused.example.test/")
    obj["metadata"]["labels"] = {"app": "producer"}
    obj["spec"]["sink"] = {"ref": {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "missing"}}
    await env.store.create(CONTAINERSOURCE, obj)
    user = {
        "apiVersion": "sources.knative.dev/v1",
        "kind": "SinkBinding",
        "metadata": {"name": "by-label", "namespace": NS},
        "spec": {
            "sink": {"uri": "http://user.example.test/"},
            "subject": {
                "apiVersion": "sources.knative.dev/v1",
                "kind": "ContainerSource",
                "selector": {"matchLabels": {"app": "producer"}},
            },
        },
    }
    await env.store.create(SINKBINDING, admit(SINKBINDING, user, None, Config()))
    await reconcile(env)
    await bind(env)  # its own: the Service is missing, no sink
    await bind(env, "by-label")
    await reconcile(env)
    assert ("K_SINK", "http://user.example.test/") in env.runtime.workloads[WKEY].env


def test_builder_names_and_labels() -> None:
    src = from_wire(ContainerSource, source_obj(name="a" * 60))
    assert len(resources.deployment_name(src.metadata.name or "")) == 63
    assert resources.sink_binding_name("s") == "s-sinkbinding"
    assert resources.labels("s") == {
        "sources.knative.dev/source": "container-source-controller",
        "sources.knative.dev/containerSource": "s",
    }
    assert resources.workload_key(src) == WorkloadKey(NS, "a" * 60, "ContainerSource")
