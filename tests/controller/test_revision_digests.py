"""Digest resolution in the Revision reconciler (Knative revision.go reconcileDigest + background.go),
with an ImageStore double answering from a table (the real store is tested in tests/images)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from zeroserve.api.base import Obj
from zeroserve.api.kinds import CONFIGURATION, REVISION
from zeroserve.controller.reconcilers import configuration, revision
from zeroserve.controller.reconcilers.base import Key
from zeroserve.controller.reconcilers.digests import DigestResolver
from zeroserve.images import reference
from zeroserve.images.base import ERR_IMAGE_PULL, Image, ImageError, PullPolicy
from zeroserve.images.keyring import Keyring
from zeroserve.runtime.base import WorkloadKey
from zeroserve.testing import cond
from zeroserve.testing import configuration as configuration_obj
from zeroserve.testing.controller import ControllerEnv as Env

KEY = Key("Revision", "default", "hello-00001")
WKEY = WorkloadKey("default", "hello-00001")
IMAGE = "127.0.0.1:5000/hello:v1"
D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64
PINNED = f"127.0.0.1:5000/hello@{D1}"


class TableImages:
    """resolve() from a tag -> digest table; a missing tag fails as a registry would."""

    def __init__(self) -> None:
        self.tags: dict[str, str] = {IMAGE: D1}
        self.asked: list[str] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def resolve(self, ref: str, timeout: float, keyring: Keyring | None = None) -> str:
        self.asked.append(ref)
        await self.gate.wait()
        parsed = reference.parse(ref)
        if parsed.digest:
            return ref
        if ref not in self.tags:
            raise ImageError(ERR_IMAGE_PULL, f"reading manifest {parsed.tag} in {parsed.name}: manifest unknown")
        return parsed.pinned(self.tags[ref])

    async def ensure(self, ref: str, pull_policy: PullPolicy = "IfNotPresent", keyring: Keyring | None = None) -> Image:
        raise AssertionError("the reconciler never pulls")


class Bench:
    def __init__(self, env: Env) -> None:
        self.env = env
        self.images = TableImages()
        self.enqueued: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        env.deps.digests = DigestResolver(self.images, lambda ns, name: self.enqueued.put_nowait((ns, name)))

    async def stamp(self, image: str = IMAGE, **spec: object) -> None:
        cfg = configuration_obj("default", "hello", image=image)
        cfg["spec"]["template"]["spec"]["containers"][0]["name"] = "user-container"
        cfg["spec"]["template"]["spec"].update(spec)
        await self.env.store.create(CONFIGURATION, cfg)
        await configuration.reconcile(self.env.deps, Key("Configuration", "default", "hello"))

    async def resolved(self) -> None:
        """The background resolution ended and enqueued the revision (the runner would reconcile it)."""
        async with asyncio.timeout(5):
            assert await self.enqueued.get() == ("default", "hello-00001")

    async def revision(self) -> Obj:
        return await self.env.get(REVISION, "hello-00001")


@pytest.fixture
async def bench() -> AsyncIterator[Bench]:
    env = await Env.open()
    b = Bench(env)
    try:
        yield b
    finally:
        assert env.deps.digests is not None
        env.deps.digests.cancel()
        await env.close()


async def test_tag_is_pinned_before_anything_runs(bench: Bench) -> None:
    await bench.stamp()
    assert await revision.reconcile(bench.env.deps, KEY) is None
    rev = await bench.revision()
    assert cond(rev, "ResourcesAvailable") == ("Unknown", "ResolvingDigests", None)
    assert "containerStatuses" not in rev["status"]
    assert WKEY not in bench.env.runtime.workloads  # no workload before the digest (as no Deployment)
    await bench.resolved()
    await revision.reconcile(bench.env.deps, KEY)
    rev = await bench.revision()
    assert rev["status"]["containerStatuses"] == [{"name": "user-container", "imageDigest": PINNED}]
    assert bench.env.runtime.workloads[WKEY].image == PINNED
    assert bench.env.runtime.workloads[WKEY].image_pull_policy == "IfNotPresent"
    assert cond(rev, "ResourcesAvailable")[1] == "Deploying"


async def test_a_later_push_to_the_tag_changes_nothing(bench: Bench) -> None:
    await bench.stamp()
    await revision.reconcile(bench.env.deps, KEY)
    await bench.resolved()
    await revision.reconcile(bench.env.deps, KEY)
    bench.images.tags[IMAGE] = D2
    asked = len(bench.images.asked)
    await revision.reconcile(bench.env.deps, KEY)
    assert len(bench.images.asked) == asked  # resolved once, never again
    assert bench.env.runtime.workloads[WKEY].image == PINNED
    assert (await bench.revision())["status"]["containerStatuses"][0]["imageDigest"] == PINNED


async def test_unresolvable_tag_is_container_missing_and_retried(bench: Bench) -> None:
    await bench.stamp(image="127.0.0.1:5000/hello:nope")
    await revision.reconcile(bench.env.deps, KEY)
    await bench.resolved()
    assert await revision.reconcile(bench.env.deps, KEY) == 1.0
    rev = await bench.revision()
    message = (
        'Unable to fetch image "127.0.0.1:5000/hello:nope": failed to resolve image to digest: '
        "reading manifest nope in 127.0.0.1:5000/hello: manifest unknown"
    )
    assert cond(rev, "ContainerHealthy") == ("False", "ContainerMissing", message)
    assert cond(rev, "Ready") == ("False", "ContainerMissing", message)
    assert rev["status"]["observedGeneration"] == 1
    assert WKEY not in bench.env.runtime.workloads
    # The retry resolves again (the error was not kept); failing again doubles the delay.
    assert await revision.reconcile(bench.env.deps, KEY) is None
    await bench.resolved()
    assert await revision.reconcile(bench.env.deps, KEY) == 2.0
    # The tag appears in the registry: the next retry pins it and the revision deploys.
    bench.images.tags["127.0.0.1:5000/hello:nope"] = D2
    await revision.reconcile(bench.env.deps, KEY)
    await bench.resolved()
    await revision.reconcile(bench.env.deps, KEY)
    rev = await bench.revision()
    assert rev["status"]["containerStatuses"][0]["imageDigest"] == f"127.0.0.1:5000/hello@{D2}"
    assert cond(rev, "ContainerHealthy")[:2] == ("Unknown", "Deploying")
    assert bench.env.runtime.workloads[WKEY].image == f"127.0.0.1:5000/hello@{D2}"


async def test_registries_skipping_tag_resolving_keep_the_tag(bench: Bench) -> None:
    await bench.stamp(image="ko.local/app:dev")
    await revision.reconcile(bench.env.deps, KEY)
    await bench.resolved()
    await revision.reconcile(bench.env.deps, KEY)
    assert bench.images.asked == []
    assert (await bench.revision())["status"]["containerStatuses"] == [{"name": "user-container"}]
    assert bench.env.runtime.workloads[WKEY].image == "ko.local/app:dev"


async def test_digest_and_init_containers(bench: Bench) -> None:
    """A reference by digest is kept as it is; init containers get initContainerStatuses."""
    await bench.stamp(image=PINNED, initContainers=[{"name": "setup", "image": IMAGE}])
    await revision.reconcile(bench.env.deps, KEY)
    await bench.resolved()
    await revision.reconcile(bench.env.deps, KEY)
    status = (await bench.revision())["status"]
    assert status["containerStatuses"] == [{"name": "user-container", "imageDigest": PINNED}]
    assert status["initContainerStatuses"] == [{"name": "setup", "imageDigest": PINNED}]


async def test_processes_have_nothing_to_resolve(bench: Bench) -> None:
    cfg = configuration_obj("default", "hello")
    cfg["spec"]["template"]["spec"]["containers"] = [{"name": "app", "command": ["python3", "app.py"]}]
    await bench.env.store.create(CONFIGURATION, cfg)
    await configuration.reconcile(bench.env.deps, Key("Configuration", "default", "hello"))
    await revision.reconcile(bench.env.deps, KEY)
    assert "containerStatuses" not in (await bench.revision())["status"]
    assert bench.env.runtime.workloads[WKEY].image is None


async def test_deleted_revision_forgets_its_resolution(bench: Bench) -> None:
    """A resolution in flight for a revision that is deleted is cancelled: nothing is enqueued."""
    bench.images.gate.clear()
    await bench.stamp()
    await revision.reconcile(bench.env.deps, KEY)
    await bench.env.store.delete(REVISION, "default", "hello-00001")
    await revision.reconcile(bench.env.deps, KEY)
    bench.images.gate.set()
    await asyncio.sleep(0)  # wait-ok: one loop turn, in which a resolution still alive would finish
    assert bench.images.asked == [IMAGE]
    assert bench.enqueued.empty()
