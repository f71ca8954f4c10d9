"""The Runtime protocol: the Revision reconciler's view of instances.

A :class:`Workload` is what a Revision asks to run (built by the pure builder
``zeroserve.controller.resources.workload.make_workload``, Knative's MakeDeployment). The
runtime keeps ``replicas`` instances of it and reports what really happens in a
:class:`WorkloadStatus`; every change of that status is announced to the callbacks given to
``Runtime.subscribe``, so the reconciler re-reads it (level-triggered).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from zeroserve.api.podspec import Probe


@dataclass(frozen=True)
class WorkloadKey:
    namespace: str
    revision: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.revision}"


@dataclass(frozen=True)
class WorkloadContainer:
    """A container of the instance besides the serving one: a sidecar (``Workload.sidecars``: runs
    beside it, sharing its network and lifecycle; no port) or an init container
    (``Workload.init_containers``: runs to completion, in order, before the others start)."""

    name: str
    image: str | None
    """As ``Workload.image``: the pinned ``REPO@sha256:…`` once resolved."""
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    working_dir: str | None = None
    env: tuple[tuple[str, str], ...] = ()
    readiness_probe: Probe | None = None
    liveness_probe: Probe | None = None
    startup_probe: Probe | None = None
    cpu_limit: str | None = None
    memory_limit: str | None = None
    run_as_user: int | None = None
    run_as_group: int | None = None
    run_as_non_root: bool | None = None
    image_pull_policy: str | None = None


@dataclass(frozen=True)
class Workload:
    key: WorkloadKey
    service: str
    configuration: str
    image: str | None
    """The image to run: ``REPO@sha256:…`` once the Revision pinned it (Knative's MakeDeployment puts
    ``status.containerStatuses[].imageDigest`` there), the tag for a registry that skips resolution."""
    command: tuple[str, ...]
    args: tuple[str, ...]
    working_dir: str | None
    env: tuple[tuple[str, str], ...]
    """The container's literal env (name, value); K_* and PORT are added by the runtime."""
    container_port: int
    readiness_probe: Probe | None
    liveness_probe: Probe | None
    termination_grace_seconds: int
    container_concurrency: int
    timeout_seconds: int
    cpu_limit: str | None = None
    memory_limit: str | None = None
    unsupported: tuple[str, ...] = ()
    """PodSpec fields kept on the Revision that this runtime cannot honour (shown in a condition)."""
    response_start_timeout_seconds: int = 0
    idle_timeout_seconds: int = 0
    """The revision's other timeouts (0: none), enforced by the queue-proxy."""
    run_as_user: int | None = None
    run_as_group: int | None = None
    run_as_non_root: bool | None = None
    """``securityContext`` (the container's over the pod's): who the app runs as (see runtime.isolation)."""
    image_pull_policy: str | None = None
    """``imagePullPolicy`` (``Always``, ``IfNotPresent``, ``Never``) for ``ImageStore.ensure``."""
    container_name: str = ""
    """The serving container's name (the one with the port; Knative's ``user-container`` default)."""
    startup_probe: Probe | None = None
    cpu_request: str | None = None
    memory_request: str | None = None
    """``resources.requests`` (cpu shares and the memory soft limit of the instance's cgroup)."""
    sidecars: tuple[WorkloadContainer, ...] = ()
    """The revision's other containers (multi-container), started with the serving one."""
    init_containers: tuple[WorkloadContainer, ...] = ()
    """``initContainers`` (config-features ``kubernetes.podspec-init-containers``), run first, in order."""
    multi_container_probing: bool = False
    """config-features ``multi-container-probing``: the sidecars' readiness probes gate readiness too."""


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    admin_port: int | None = None
    """The instance's queue-proxy admin port (``/stats``, ``/drain``), when it has a queue-proxy."""


@dataclass(frozen=True)
class Failure:
    """Why instances do not run: Knative's reason (``ExitCode1``, ``ImageUnsupported``...) and message."""

    reason: str
    message: str
    permanent: bool = False
    """True when retrying cannot help (e.g. an image-only container on the process runtime)."""


@dataclass(frozen=True)
class WorkloadStatus:
    desired: int = 0
    ready: int = 0
    endpoints: tuple[Endpoint, ...] = ()
    failure: Failure | None = None
    warnings: tuple[str, ...] = field(default=())


OnChange = Callable[[WorkloadKey], None]


class Runtime(Protocol):
    async def ensure(self, workload: Workload, replicas: int) -> None:
        """Run ``replicas`` instances of ``workload`` (idempotent; a changed workload replaces)."""

    async def remove(self, key: WorkloadKey, *, wait: bool = True) -> None:
        """Stop every instance of ``key`` gracefully (idempotent). With ``wait=False`` return once that
        has begun, as deleting a Deployment does: the runtime drains and stops the instances on its
        own tasks (``close`` waits for them), so a reconciler is never held by an instance's grace."""

    def status(self, key: WorkloadKey) -> WorkloadStatus | None:
        """What runs now, or None when the runtime knows nothing of ``key``."""

    def keys(self) -> list[WorkloadKey]:
        """Every workload the runtime holds (so orphans can be removed)."""

    def subscribe(self, callback: OnChange) -> None:
        """Call ``callback(key)`` (from the event loop) whenever ``status(key)`` may have changed."""

    async def close(self) -> None: ...
