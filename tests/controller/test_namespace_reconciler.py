"""The namespace reconciler: a Terminating namespace's content is deleted, its conditions say what is
left, then its finalizer goes and so does it (real SqliteStore, no controller loop)."""

from __future__ import annotations

import pytest

from zeroserve.api.base import Obj
from zeroserve.api.kinds import CONFIGMAP, NAMESPACE, SERVICE
from zeroserve.controller.reconcilers import namespace
from zeroserve.controller.reconcilers.base import Key
from zeroserve.errors import NotFound
from zeroserve.testing import service
from zeroserve.testing.controller import (
    ControllerEnv,
    env_fixture,  # noqa: F401 (the env fixture)
)

KEY = Key("Namespace", "", "team")


def cm(name: str, *finalizers: str) -> Obj:
    return {"metadata": {"name": name, "namespace": "team", "finalizers": list(finalizers)}}


async def conditions(env: ControllerEnv) -> dict[str, tuple[str, str, str]]:
    ns = await env.store.get(NAMESPACE, "", "team")
    return {c["type"]: (c["status"], c["reason"], c["message"]) for c in ns["status"]["conditions"]}


async def test_an_active_namespace_is_left_alone(env: ControllerEnv) -> None:
    await env.store.create(NAMESPACE, {"metadata": {"name": "team"}, "spec": {"finalizers": ["kubernetes"]}})
    await env.store.create(CONFIGMAP, cm("c"))
    assert await namespace.reconcile(env.deps, KEY) is None
    assert await namespace.reconcile(env.deps, Key("Namespace", "", "absent")) is None
    assert (await env.store.list(CONFIGMAP, "team"))[0]


async def test_content_goes_then_the_namespace(env: ControllerEnv) -> None:
    await env.store.create(NAMESPACE, {"metadata": {"name": "team"}, "spec": {"finalizers": ["kubernetes"]}})
    await env.store.create(CONFIGMAP, cm("plain"))
    await env.store.create(CONFIGMAP, cm("held", "example.com/a", "example.com/b"))
    await env.store.create(SERVICE, service("team", "hello"))
    await env.store.create(CONFIGMAP, {"metadata": {"name": "elsewhere", "namespace": "default"}})
    deleting = await env.store.delete(NAMESPACE, "", "team")
    assert deleting["status"]["phase"] == "Terminating"

    assert await namespace.reconcile(env.deps, KEY) == namespace.CONTENT_POLL
    assert [c["metadata"]["name"] for c in (await env.store.list(CONFIGMAP, "team"))[0]] == ["held"]
    assert (await env.store.list(SERVICE, "team"))[0] == []
    got = await conditions(env)
    assert got["NamespaceContentRemaining"] == (
        "True",
        "SomeResourcesRemain",
        "Some resources are remaining: configmaps. has 1 resource instances",
    )
    assert got["NamespaceFinalizersRemaining"] == (
        "True",
        "SomeFinalizersRemain",
        "Some content in the namespace has finalizers remaining: example.com/a in 1 resource instances, "
        "example.com/b in 1 resource instances",
    )
    assert got["NamespaceDeletionDiscoveryFailure"] == (
        "False",
        "ResourcesDiscovered",
        "All resources successfully discovered",
    )
    assert (await env.store.get(NAMESPACE, "", "team"))["spec"]["finalizers"] == ["kubernetes"]

    held = await env.store.get(CONFIGMAP, "team", "held")
    await env.store.update(CONFIGMAP, {**held, "metadata": {**held["metadata"], "finalizers": []}})
    assert await namespace.reconcile(env.deps, KEY) is None
    with pytest.raises(NotFound):
        await env.store.get(NAMESPACE, "", "team")
    assert (await env.store.list(CONFIGMAP, "default"))[0], "other namespaces keep their content"


def test_conditions_move_their_transition_time_only_when_their_status_changes() -> None:
    first = namespace.deletion_conditions([], {"configmaps.": 2}, {}, "t1")
    assert [c["type"] for c in first] == list(namespace.CONDITION_TYPES)
    again = namespace.deletion_conditions(first, {"configmaps.": 1}, {}, "t2")
    remaining = next(c for c in again if c["type"] == "NamespaceContentRemaining")
    assert (remaining["lastTransitionTime"], remaining["message"]) == (
        "t1",
        "Some resources are remaining: configmaps. has 1 resource instances",
    )
    done = namespace.deletion_conditions(again, {}, {}, "t3")
    remaining = next(c for c in done if c["type"] == "NamespaceContentRemaining")
    assert (remaining["status"], remaining["reason"], remaining["lastTransitionTime"]) == (
        "False",
        "ContentRemoved",
        "t3",
    )
    assert namespace.deletion_conditions(done, {}, {}, "t4") == done
