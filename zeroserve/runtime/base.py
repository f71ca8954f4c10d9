"""The Runtime protocol: the Revision reconciler's view of instances.

A :class:`Workload` is what a Revision asks to run (built by the pure builder
``zeroserve.controller.resources.workload.make_workload``, Knative's MakeDeployment). The
runtime keeps ``replicas`` instances of it and reports what really happens in a
:class:`WorkloadStatus`; every change of that status is announced to the callbacks given to
``Runtime.subscribe``, so the reconciler re-reads it (level-triggered).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

from zeroserve.api.podspec import Probe
from zeroserve.images.keyring import Keyring
from zeroserve.runtime.envexpand import escape

WorkloadKind = Literal["Revision", "ContainerSource"]
"""What asked for a workload: a Revision (a serving app) or a ContainerSource (its receive adapter)."""


@dataclass(frozen=True, slots=True)
class WorkloadKey:
    namespace: str
    revision: str
    """The owner's name: a Revision's, or a ContainerSource's (``kind``)."""
    kind: WorkloadKind = "Revision"

    def __str__(self) -> str:
        if self.kind == "Revision":
            return f"{self.namespace}/{self.revision}"
        return f"{self.namespace}/{self.kind.lower()}s/{self.revision}"

    @property
    def path(self) -> str:
        """Where its files go under a data directory's ``logs/`` (a revision's ``NS/NAME``, another
        kind's ``_KINDs/NS/NAME``: no namespace name starts with ``_``)."""
        if self.kind == "Revision":
            return f"{self.namespace}/{self.revision}"
        return f"_{self.kind.lower()}s/{self.namespace}/{self.revision}"


POD_NAME = "metadata.name"
POD_UID = "metadata.uid"
INSTANCE_FIELDS = (POD_NAME, POD_UID)
"""The downward API fields only an instance has (its pod's name and uid): the runtime fills them."""
SERVICE_ACCOUNT_TOKEN = "serviceAccountToken"
"""``VolumeFile.field`` of a projected ``serviceAccountToken``: a random token per instance, accepted by
nothing (never zeroserve's API token)."""


@dataclass(frozen=True, slots=True)
class VolumeMount:
    """A volume of the instance seen by one container at ``mount_path`` (``subPath``: one entry of it)."""

    name: str
    mount_path: str
    read_only: bool = True
    sub_path: str = ""


@dataclass(frozen=True, slots=True)
class VolumeFile:
    """A file of a ``secret``, ``configMap``, ``projected`` or ``downwardAPI`` volume (path relative, clean)."""

    path: str
    data: bytes = field(repr=False)
    """Never in a repr (a Secret's value)."""
    mode: int = 0o644
    field: str | None = None
    """One of :data:`INSTANCE_FIELDS` or :data:`SERVICE_ACCOUNT_TOKEN`: the runtime writes this
    instance's value (``data`` is empty)."""


@dataclass(frozen=True, slots=True)
class Volume:
    """A volume of the pod: ``files`` (written by the runtime, updated in place, Kubernetes' ``..data``
    swap) or an ``emptyDir`` (``medium`` ``""`` on disk, ``Memory`` on a tmpfs; ``size_limit`` bytes)."""

    name: str
    kind: Literal["files", "emptyDir"] = "files"
    files: tuple[VolumeFile, ...] = ()
    medium: str = ""
    size_limit: int | None = None


@dataclass(frozen=True, slots=True)
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
    env: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    readiness_probe: Probe | None = None
    liveness_probe: Probe | None = None
    startup_probe: Probe | None = None
    cpu_limit: str | None = None
    memory_limit: str | None = None
    run_as_user: int | None = None
    run_as_group: int | None = None
    run_as_non_root: bool | None = None
    image_pull_policy: str | None = None
    volume_mounts: tuple[VolumeMount, ...] = ()
    env_data: frozenset[int] = frozenset()
    instance_fields: tuple[tuple[int, str], ...] = ()
    """As ``Workload.env_data`` and ``Workload.instance_fields``."""


PYTHON_APP_ANNOTATION = "zeroserve.dev/python-app"
"""A revision's ``MODULE:CALLABLE`` (WSGI or ASGI): its instances fork from a zygote (runtime.zygote)."""


@dataclass(frozen=True, slots=True)
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
    env: tuple[tuple[str, str], ...] = field(repr=False)
    """The container's env (name, value) in the kubelet's order: ``envFrom`` first, then ``env``; values
    read from ConfigMaps, Secrets and the downward API are escaped (``$`` -> ``$$``) so that ``$(VAR)``
    expansion gives them back as they are. K_* and PORT are added by the runtime. Never in a repr
    (Secrets' values)."""
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
    volumes: tuple[Volume, ...] = ()
    """The pod's volumes that some container mounts, with their contents (:func:`template`)."""
    volume_mounts: tuple[VolumeMount, ...] = ()
    """The serving container's mounts."""
    env_data: frozenset[int] = frozenset()
    """Which entries of ``env`` are data (read from a ConfigMap, a Secret or the downward API)."""
    instance_fields: tuple[tuple[int, str], ...] = ()
    """(index in ``env``, one of :data:`INSTANCE_FIELDS`): entries each instance fills with its own value."""
    config_error: Failure | None = None
    """Why no new instance can be made (the kubelet's ``CreateContainerConfigError`` for a missing
    ConfigMap, Secret or key, ``FailedMount`` for a volume): running instances go on, as pods do."""
    config_warnings: tuple[str, ...] = ()
    """What of the env and volumes is accepted but not honoured (e.g. envFrom keys skipped)."""
    image_pull_keyring: Keyring = field(default_factory=Keyring, repr=False)
    """The credentials of the revision's ``imagePullSecrets`` (read by the controller) for
    ``ImageStore.ensure``; not part of the :func:`template`: a changed Secret rolls nothing, the next
    pull uses it. Never in a repr."""
    h2c: bool = False
    """The serving container's first port is named ``h2c`` (Knative's ``GetProtocol``): the app is
    spoken to over HTTP/2 with prior knowledge, by the gateway, the activator and the queue-proxy."""
    serving: bool = True
    """False for a workload that serves nothing (a ContainerSource's adapter, a Deployment's pods in
    Knative): no port, no ``PORT``/``K_SERVICE``/``K_CONFIGURATION``/``K_REVISION``, no queue-proxy,
    no endpoints; an instance is ready once its containers started, unless its main container has a
    readiness probe (which then probes the port it names). The sandbox and limits are a revision's."""
    python_app: str = ""
    """The annotation :data:`PYTHON_APP_ANNOTATION` (``MODULE:CALLABLE``, a WSGI or ASGI callable): fork
    the instances from a per-revision zygote that imported it (:mod:`.zygote`); "": run the command."""


def template(workload: Workload) -> Workload:
    """``workload`` without the data it reads from ConfigMaps, Secrets and the downward API (pure).

    A Revision's spec is immutable, so between two workloads of one key that data is what changes with
    the objects it is read from: the runtime rolls instances only when the template changes; new data
    goes to new instances (env, fixed for an instance's life) and into running ones' volumes (in place)."""
    return replace(
        workload,
        env=_literal(workload.env, workload.env_data),
        env_data=frozenset(),
        instance_fields=(),
        volumes=tuple(replace(v, files=()) for v in workload.volumes),
        config_error=None,
        config_warnings=(),
        image_pull_keyring=Keyring(),
        sidecars=tuple(_container_template(c) for c in workload.sidecars),
        init_containers=tuple(_container_template(c) for c in workload.init_containers),
    )


def _container_template(c: WorkloadContainer) -> WorkloadContainer:
    return replace(c, env=_literal(c.env, c.env_data), env_data=frozenset(), instance_fields=())


def _literal(env: tuple[tuple[str, str], ...], data: frozenset[int]) -> tuple[tuple[str, str], ...]:
    return tuple(entry for i, entry in enumerate(env) if i not in data)


def instance_env(
    env: tuple[tuple[str, str], ...], fields: tuple[tuple[int, str], ...], values: Mapping[str, str]
) -> tuple[tuple[str, str], ...]:
    """``env`` with each instance field set to this instance's value, escaped as data is (pure)."""
    if not fields:
        return env
    out = list(env)
    for index, path in fields:
        out[index] = (out[index][0], escape(values.get(path, "")))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str
    port: int
    admin_port: int | None = None
    """The instance's queue-proxy admin port (``/stats``, ``/drain``), when it has a queue-proxy."""


@dataclass(frozen=True, slots=True)
class Failure:
    """Why instances do not run: Knative's reason (``ExitCode1``, ``ImageUnsupported``...) and message."""

    reason: str
    message: str
    permanent: bool = False
    """True when retrying cannot help (e.g. an image-only container on the process runtime)."""


@dataclass(frozen=True, slots=True)
class WorkloadStatus:
    desired: int = 0
    ready: int = 0
    endpoints: tuple[Endpoint, ...] = ()
    failure: Failure | None = None
    warnings: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class InstanceView:
    """One instance as its pod shows it (``Runtime.instances``): what the pod mirror writes as a core/v1 Pod."""

    name: str
    """The pod name (``REVISION-deployment-HASH-XXXXX``)."""
    started: bool
    """The serving container's process runs (False: still being made, init containers, image unpack)."""
    ready: bool
    stopping: bool
    started_at: float | None = None
    """Unix time the serving container started, None before."""
    restarts: int = 0
    """Container restarts (the kubelet's ``restartCount``)."""
    waiting: str | None = None
    """Why the serving container is not running (``CrashLoopBackOff`` between a crash and its restart)."""
    last_exit: tuple[int, str] | None = None
    """How the serving container ended the last time (exit code, the kubelet's reason), before a restart."""
    queue_proxy: bool = False
    """The instance has a queue-proxy container."""
    sidecars: tuple[str, ...] = ()
    """The names of its other containers."""


OnChange = Callable[[WorkloadKey], None]


class Runtime(Protocol):
    async def ensure(self, workload: Workload, replicas: int) -> None:
        """Run ``replicas`` instances of ``workload`` (idempotent; a changed workload replaces)."""

    def scale(self, key: WorkloadKey, replicas: int) -> bool:
        """Run ``replicas`` instances of what ``key`` runs now (the scale subresource, which Knative's
        autoscaler patches on the Deployment); False, and nothing done, when it runs nothing yet."""

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
