"""A container instance's spec: how each container of a Workload runs (Knative's pod, for one machine).

A workload with an image in any of its containers runs as container instances (the kubelet's
pod): :func:`instance_spec` turns the serving container, its sidecars and its init containers into
an :class:`~.process.InstanceSpec` with ``own_network`` (a network namespace per instance). A
container with an image runs the image's process under bubblewrap (:mod:`.container`); one with a
``command`` and no image runs as a process of the machine, as in the process runtime, but in the
instance's network namespace, so the containers of one instance reach each other on 127.0.0.1 as
in a pod. Every image is pulled and opened once per workload (:class:`Pulled`) before the first
instance starts.

Inside the namespace the ports are the workload's own: the serving container's
``containerPort`` (``PORT``), and with a queue-proxy sidecar Knative's 8012 (serving) and 8022
(admin), reserved ports that an app may not declare (``api.validation``). ``zeroserve up`` also
listens on :data:`PROXY_PORT` there: the HTTP proxy every container gets as ``http_proxy``
(``platform_env``), the only way out of the namespace, to what zeroserve serves.

The process merges are Kubernetes': ``$(VAR)`` in command and args expanded with the container's
env and the runtime's variables (the kubelet's rule), then the image config merged
(:func:`zeroserve.images.process.effective_process`), then the runtime contract
(:func:`.container.environment`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from zeroserve.api.base import to_wire
from zeroserve.api.podspec import Probe
from zeroserve.images.base import Image, ImageError
from zeroserve.images.process import effective_process, resolve_user
from zeroserve.runtime import container, probes, volumes
from zeroserve.runtime.base import Workload, WorkloadContainer, instance_env
from zeroserve.runtime.envexpand import build_env, expand
from zeroserve.runtime.isolation import Bind, Isolation, Jail, User
from zeroserve.runtime.process import ContainerSpec, InstanceSpec, SidecarSpec

QUEUE_SERVING_PORT = 8012
QUEUE_ADMIN_PORT = 8022
"""The queue-proxy's ports inside an instance's namespace (Knative's networking.BackendHTTPPort and
QueueAdminPort)."""
INSIDE = "127.0.0.1"
PROXY_PORT = 8008
"""The platform's HTTP proxy inside every container instance's namespace: one of Knative's reserved
ports (an app may not declare it), the one its queue-proxy opens only for profiling, so neither
the sidecar queue-proxy (8012, 8022) nor an app collides with it."""


@dataclass
class Pulled:
    """An image of the workload, pulled and unpacked, its rootfs held open for the sandboxes."""

    image: Image
    rootfs: container.Rootfs


def serving_container(workload: Workload) -> WorkloadContainer:
    """The serving container of ``workload`` seen as one of its containers (pure)."""
    return WorkloadContainer(
        name=workload.container_name,
        image=workload.image,
        command=workload.command,
        args=workload.args,
        working_dir=workload.working_dir,
        env=workload.env,
        readiness_probe=workload.readiness_probe,
        liveness_probe=workload.liveness_probe,
        startup_probe=workload.startup_probe,
        cpu_limit=workload.cpu_limit,
        memory_limit=workload.memory_limit,
        run_as_user=workload.run_as_user,
        run_as_group=workload.run_as_group,
        run_as_non_root=workload.run_as_non_root,
        image_pull_policy=workload.image_pull_policy,
        volume_mounts=workload.volume_mounts,
        env_data=workload.env_data,
        instance_fields=workload.instance_fields,
    )


def all_containers(workload: Workload) -> tuple[WorkloadContainer, ...]:
    return (*workload.init_containers, serving_container(workload), *workload.sidecars)


def uses_containers(workload: Workload) -> bool:
    """Whether ``workload`` runs as container instances: some container of it has an image (pure)."""
    return any(c.image for c in all_containers(workload))


def images_of(workload: Workload) -> dict[str, str]:
    """Each image the workload's containers run, with its pull policy (the first one named) (pure)."""
    found: dict[str, str] = {}
    for c in all_containers(workload):
        if c.image:
            found.setdefault(c.image, c.image_pull_policy or "IfNotPresent")
    return found


def working_dirs(workload: Workload, ref: str, image: Image) -> list[str]:
    """The working directories the containers of ``ref`` start in (to exist in its rootfs) (pure)."""
    return sorted(
        {c.working_dir or image.config.working_dir or "/" for c in all_containers(workload) if c.image == ref}
    )


@dataclass(frozen=True)
class Planned:
    """How one container's process starts."""

    argv: tuple[str, ...]
    env: dict[str, str]
    jail: Jail | None
    user: User | None


class Planner:
    """Plans the processes of one workload's containers (one instance at a time)."""

    def __init__(
        self,
        workload: Workload,
        isolation: Isolation,
        pulled: Mapping[str, Pulled],
        inherited: Mapping[str, str],
        hostname: str,
        volume_dirs: Mapping[str, str] | None = None,
        values: Mapping[str, str] | None = None,
        platform_env: Sequence[tuple[str, str]] = (),
        *,
        files: Mapping[str, str] | None = None,
        cgroup: container.CgroupView | None = None,
    ) -> None:
        """``volume_dirs``: the instance's volumes by name (:mod:`.volumes`); ``values``: its own
        downward API fields (``metadata.name``, ``metadata.uid``); ``platform_env``: what the
        platform gives every container (its ``http_proxy``), after their own env (``PORT`` and
        ``K_*`` win); ``files``: its own ``/etc/hosts`` and ``/etc/resolv.conf`` (path inside -> file
        here) and ``cgroup`` its cgroup, both shown to every container with an image."""
        self.workload = workload
        self.isolation = isolation
        self.pulled = pulled
        self.inherited = inherited
        self.hostname = hostname
        self.volume_dirs = volume_dirs or {}
        self.values = values or {}
        self.platform_env = tuple(platform_env)
        self.files = files or {}
        self.cgroup = cgroup

    def plan(self, c: WorkloadContainer, port: int | None) -> Planned:
        """The process of ``c`` (raises ValueError or ImageError when it cannot be made)."""
        w = self.workload
        runtime_env = self.platform_env
        if w.serving:
            runtime_env += container.runtime_env(w.service, w.configuration, w.key.revision, port)
        declared_env = instance_env(c.env, c.instance_fields, self.values)
        binds = volumes.binds(c.volume_mounts, self.volume_dirs)
        if not c.image:
            return self._process(c, declared_env, runtime_env, binds)
        pulled = self.pulled[c.image]
        for bind in binds:
            pulled.rootfs.mount_point(bind.target, file=bind.file)
        declared = build_env({}, declared_env, ())
        scope = {**declared, **dict(runtime_env)}
        process = effective_process(
            pulled.image.config,
            command=[expand(part, scope) for part in c.command],
            args=[expand(part, scope) for part in c.args],
            env=tuple(declared.items()),
            working_dir=c.working_dir,
            run_as_user=c.run_as_user,
        )
        image_ids = None
        if process.user:
            image_ids = resolve_user(process.user, pulled.rootfs.read("etc/passwd"), pulled.rootfs.read("etc/group"))
        uid, gid = container.user_of(c.run_as_user, image_ids, c.run_as_group)
        user = self._user(uid, gid, c.run_as_non_root)
        env = container.environment(process.env, runtime_env, self.hostname)
        files = [
            Bind(source, target, file=True)
            for target, source in self.files.items()
            if pulled.rootfs.mount_point(target, file=True)  # an image's symlink there keeps its own
        ]
        machine, fd = self.isolation.machine, pulled.rootfs.fd
        jail = container.jail(machine, user, fd, process.cwd, self.hostname, binds, files=files, cgroup=self.cgroup)
        return Planned(process.argv, env, jail, user)

    def _process(
        self,
        c: WorkloadContainer,
        declared: Sequence[tuple[str, str]],
        runtime_env: Sequence[tuple[str, str]],
        binds: Sequence[Bind],
    ) -> Planned:
        """A container without an image: a process of the machine, as in the process runtime."""
        if not c.command:
            raise ImageError("CreateContainerError", f"container {c.name!r} has neither an image nor a command")
        user = self._user(c.run_as_user, c.run_as_group, c.run_as_non_root)
        env = build_env(self.inherited, declared, runtime_env)
        if user.uid != self.isolation.machine.own.uid:
            env.setdefault("HOME", "/")
        argv = tuple(expand(part, env) for part in (*c.command, *c.args))
        cwd = c.working_dir or str(Path.cwd())
        jail = self.isolation.jail(user, cwd, keep_pwd=any(name == "PWD" for name, _ in c.env), binds=binds)
        return Planned(argv, env, jail, user)

    def _user(self, uid: int | None, gid: int | None, non_root: bool | None) -> User:
        user = self.isolation.user_for(str(self.workload.key), uid, gid, non_root)
        if not isinstance(user, User):
            raise ValueError(user.message)
        return user


def readiness_of(workload: Workload, host: str, port: int, *, container: bool = False) -> probes.ProbeSpec:
    """The serving container's readiness probe against ``port``; a non-serving workload's is the port its
    probe names, or none (ready once started) (pure)."""
    if workload.serving:
        return probes.resolve(workload.readiness_probe, host, port, container=container)[0]
    if workload.readiness_probe is None:
        return probes.STARTED
    return probes.resolve(workload.readiness_probe, host, port, container=container, declared_port=True)[0]


def instance_spec(
    workload: Workload,
    planner: Planner,
    *,
    log_dir: Path,
    instance_id: str,
    base: InstanceSpec,
) -> InstanceSpec:
    """The container instance: ``base`` (grace, limits, owner, queue-proxy...) with every container planned."""
    w = workload
    main = planner.plan(serving_container(w), w.container_port)
    readiness = base.readiness
    if base.sidecar is None:
        readiness = readiness_of(w, INSIDE, w.container_port, container=True)

    def resolved(probe: Probe | None, port: int, *, declared: bool, what: str) -> probes.ProbeSpec | None:
        if probe is None:
            return None
        return probes.resolve(probe, INSIDE, port, what=what, container=True, declared_port=declared)[0]

    def other(c: WorkloadContainer, suffix: str, *, init: bool = False) -> ContainerSpec:
        planned = planner.plan(c, None)
        gate = w.multi_container_probing and not init
        return ContainerSpec(
            name=c.name,
            argv=planned.argv,
            env=planned.env,
            jail=planned.jail,
            log_path=log_dir / f"{instance_id}.{suffix}.log",
            readiness=resolved(c.readiness_probe, 0, declared=True, what="readiness") if gate else None,
            liveness=None if init else resolved(c.liveness_probe, 0, declared=True, what="liveness"),
            startup=None if init else resolved(c.startup_probe, 0, declared=True, what="startup"),
        )

    port = w.container_port
    return InstanceSpec(
        argv=main.argv,
        env=main.env,
        cwd=None,
        host=base.host,
        port=port,
        readiness=readiness,
        liveness=resolved(w.liveness_probe, port, declared=not w.serving, what="liveness"),
        startup=resolved(w.startup_probe, port, declared=not w.serving, what="startup"),
        sidecar=base.sidecar,
        grace=base.grace,
        log_path=base.log_path,
        owner=base.owner,
        limits=base.limits,
        jail=main.jail,
        own_network=True,
        name=w.container_name,
        containers=tuple(other(c, c.name or f"sidecar-{i}") for i, c in enumerate(w.sidecars)),
        init_containers=tuple(other(c, c.name or f"init-{i}", init=True) for i, c in enumerate(w.init_containers)),
        proxy_port=base.proxy_port,
    )


def queue_sidecar(workload: Workload, base: SidecarSpec) -> SidecarSpec:
    """The queue-proxy of a container instance: inside its namespace, on Knative's ports (pure)."""
    env = dict(base.env)
    env.update(
        USER_PORT=str(workload.container_port),
        QUEUE_SERVING_PORT=str(QUEUE_SERVING_PORT),
        QUEUE_ADMIN_PORT=str(QUEUE_ADMIN_PORT),
        SERVING_READINESS_PROBE=""
        if workload.readiness_probe is None
        else json.dumps(to_wire(workload.readiness_probe)),
    )
    return SidecarSpec(base.argv, env, QUEUE_SERVING_PORT, QUEUE_ADMIN_PORT, base.log_path)
