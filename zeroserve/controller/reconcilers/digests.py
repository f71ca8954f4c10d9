"""Tag-to-digest resolution for Revisions, in the background (Knative ``pkg/reconciler/revision/``
``background.go`` + ``resolve.go``, used by ``revision.go`` ``reconcileDigest``).

The Revision reconciler asks :meth:`DigestResolver.resolve` for a revision's container statuses.
The first ask starts one task per revision that resolves every distinct image of its containers
and init containers concurrently (each within config-deployment ``digest-resolution-timeout``),
and answers None ("resolving": the reconciler marks ``ResourcesAvailable=Unknown
ResolvingDigests`` and returns); when the task ends it enqueues the revision, whose next
reconcile gets the statuses (``imageDigest`` = ``REPO@sha256:…``; empty for a registry in
``registries-skipping-tag-resolving`` and for a container without an image) or the first error,
as Knative's message: ``Unable to fetch image "IMG": failed to resolve image to digest: …``.
A result is handed out once and then forgotten (``Clear``), so an error is retried by the next
reconcile, after the backoff :meth:`retry_after` gives (Knative requeues the error rate-limited).
No reconcile worker ever waits on a registry.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

from zeroserve.api.revision import ContainerStatus
from zeroserve.images import reference
from zeroserve.images.base import ImageError, ImageStore
from zeroserve.images.keyring import Keyring

log = logging.getLogger(__name__)

MAX_IN_FLIGHT = 8
"""Resolutions (skopeo processes) at once; Knative runs 100 (controller.go digestResolutionWorkers)
HTTP requests in one process, where each of ours is a process of its own."""
RETRY_BASE = 1.0
RETRY_MAX = 1000.0
"""A failed revision is resolved again after 1 s, doubling up to 1000 s (controller.go's digest
queue: ``newItemExponentialFailureRateLimiter(1*time.Second, 1000*time.Second)``)."""


class DigestError(Exception):
    """Resolution failed; ``str()`` is the condition message (Knative's)."""


@dataclass(frozen=True)
class Resolved:
    containers: list[ContainerStatus]
    init_containers: list[ContainerStatus]


@dataclass
class _Work:
    task: asyncio.Task[None] | None = None
    digests: dict[str, str] = field(default_factory=dict)
    error: str = ""


def status_message(image: str, message: str) -> str:
    """Knative's ``RevisionContainerMissingMessage(image, "failed to resolve image to digest")``."""
    return f'Unable to fetch image "{image}": failed to resolve image to digest: {message}'


class DigestResolver:
    def __init__(self, images: ImageStore, enqueue: Callable[[str, str], None], max_in_flight: int = MAX_IN_FLIGHT):
        self.images = images
        self._enqueue = enqueue
        self._limit = asyncio.Semaphore(max_in_flight)
        self._work: dict[tuple[str, str], _Work] = {}
        self._failures: dict[tuple[str, str], int] = {}

    def resolve(
        self,
        namespace: str,
        name: str,
        containers: Sequence[tuple[str, str]],
        init_containers: Sequence[tuple[str, str]],
        skip: Collection[str],
        timeout: float,
        keyring: Keyring | None = None,
    ) -> Resolved | None:
        """``containers`` and ``init_containers`` are (name, image) pairs; ``keyring``: the revision's
        ``imagePullSecrets`` (Knative's ``k8schain.Options.ImagePullSecrets``). None while resolving;
        :class:`DigestError` when an image cannot be resolved (the work is then forgotten)."""
        key = (namespace, name)
        work = self._work.get(key)
        if work is None:
            work = self._work[key] = _Work()
            images = sorted({image for _, image in (*init_containers, *containers) if image})
            run = self._run(key, work, images, skip, timeout, keyring)
            work.task = asyncio.create_task(run, name=f"digests {name}")
            return None
        if not work.task or not work.task.done():
            return None
        del self._work[key]
        if work.error:
            self._failures[key] = self._failures.get(key, 0) + 1
            raise DigestError(work.error)
        self._failures.pop(key, None)

        def statuses(pairs: Sequence[tuple[str, str]]) -> list[ContainerStatus]:
            return [ContainerStatus(name=n, image_digest=work.digests.get(image) or None) for n, image in pairs]

        return Resolved(statuses(containers), statuses(init_containers))

    def retry_after(self, namespace: str, name: str) -> float:
        """Seconds before a failed revision is resolved again: 1 s doubling, at most 1000 s."""
        failures = self._failures.get((namespace, name), 1)
        return float(min(RETRY_BASE * 2 ** (failures - 1), RETRY_MAX))

    def forget(self, namespace: str, name: str) -> None:
        """The revision is gone (or resolved): drop its work and backoff (Knative ``Forget``)."""
        work = self._work.pop((namespace, name), None)
        if work is not None and work.task is not None:
            work.task.cancel()
        self._failures.pop((namespace, name), None)

    def cancel(self) -> None:
        """Stop every resolution in flight (the controller stops)."""
        for work in self._work.values():
            if work.task is not None:
                work.task.cancel()
        self._work.clear()

    async def _run(
        self,
        key: tuple[str, str],
        work: _Work,
        images: list[str],
        skip: Collection[str],
        timeout: float,
        keyring: Keyring | None,
    ) -> None:
        results = await asyncio.gather(*(self._one(image, skip, timeout, keyring) for image in images))
        for image, (digest, error) in zip(images, results, strict=True):
            if error and not work.error:
                work.error = status_message(image, error)
            work.digests[image] = digest
        if self._work.get(key) is work:
            self._enqueue(*key)

    async def _one(self, image: str, skip: Collection[str], timeout: float, keyring: Keyring | None) -> tuple[str, str]:
        """(pinned reference or "" when skipped, error message or "")."""
        try:
            if reference.skips_resolution(reference.parse(image), skip):
                return "", ""
        except reference.BadReference:
            pass  # the store says why, in resolve.go's words
        async with self._limit:
            try:
                return await self.images.resolve(image, timeout, keyring), ""
            except ImageError as err:
                log.info("resolving %s: %s", image, err.message)
                return "", err.message
            except Exception as err:  # never a revision left without its answer
                log.exception("resolving %s", image)
                return "", str(err) or type(err).__name__
