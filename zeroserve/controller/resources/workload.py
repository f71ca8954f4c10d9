"""MakeWorkload: what a Revision asks the runtime to run (Knative's MakeDeployment).

The serving container is the one with the port (the only one if there is one); the others are
``Workload.sidecars``, ``spec.initContainers`` are ``Workload.init_containers`` (Knative's makePodSpec).
Env comes from :mod:`.env` (``envFrom``, ``valueFrom`` read from the ``sources`` the reconciler
loaded), volumes from :mod:`.volumes`; a missing required object or key is ``Workload.config_error``
(the kubelet's reason and message). Every PodSpec field the runtime cannot honour is named in
``Workload.unsupported`` (the Revision keeps it and a condition message shows it: never dropped).
``securityContext.runAsUser`` / ``runAsGroup`` / ``runAsNonRoot`` are honoured, the container's over
the pod's (Kubernetes' precedence); the pod's other securityContext fields are named as unsupported.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from zeroserve.api import labels
from zeroserve.api.fieldmask import MULTI_CONTAINER_PROBING
from zeroserve.api.podspec import Container, Probe
from zeroserve.api.revision import Revision
from zeroserve.config import Config
from zeroserve.controller.resources import downward
from zeroserve.controller.resources.configdata import ConfigError, Sources, pull_secret_names
from zeroserve.controller.resources.env import ResolvedEnv, resolve_env
from zeroserve.controller.resources.pullsecrets import pull_secrets
from zeroserve.controller.resources.volumes import SUPPORTED, mounts_of, resolve_volumes, shapes
from zeroserve.runtime.base import PYTHON_APP_ANNOTATION, Failure, Volume, Workload, WorkloadContainer, WorkloadKey

_POD_FIELDS = ("service_account_name",)
RUN_AS = ("runAsUser", "runAsGroup", "runAsNonRoot")
"""The securityContext fields the runtime honours (who the app runs as)."""


def workload_key(rev: Revision) -> WorkloadKey:
    return WorkloadKey(rev.metadata.namespace or "", rev.metadata.name or "")


def serving_index(containers: list[Container]) -> int:
    """Which container serves (Knative's makePodSpec): the only one, else the one with a port."""
    return next((i for i, c in enumerate(containers) if c.ports), 0) if len(containers) > 1 else 0


@dataclass(frozen=True)
class _Resolved:
    """The env of each container (by identity) and the volumes, or why they cannot be made."""

    env: dict[int, ResolvedEnv]
    volumes: tuple[Volume, ...]
    error: Failure | None
    warnings: tuple[str, ...]

    def of(self, c: Container) -> ResolvedEnv:
        return self.env.get(id(c)) or ResolvedEnv(tuple((e.name, e.value or "") for e in c.env if e.value_from is None))


def pod_of(rev: Revision, node: downward.Node, container_name: str) -> downward.Pod:
    """The downward API's view of the revision's pods (Knative's pod labels and annotations)."""
    meta = rev.metadata
    return downward.Pod(
        namespace=meta.namespace or "",
        labels=downward.pod_labels(meta.name or "", meta.uid or "", meta.labels),
        annotations=downward.pod_annotations(meta.annotations, container_name),
        node_name=node.name,
        service_account=rev.spec.service_account_name or "default",
    )


def _resolve(rev: Revision, containers: list[Container], sources: Sources, node: downward.Node, name: str) -> _Resolved:
    """Volumes first (the kubelet mounts them before it makes any container), then each container's env."""
    namespace = rev.metadata.namespace or ""
    pod = pod_of(rev, node, name)
    env: dict[int, ResolvedEnv] = {}
    try:
        volumes = resolve_volumes(rev.spec.volumes, namespace, sources, pod, node, containers)
        for c in containers:
            env[id(c)] = resolve_env(c, namespace, sources, pod, node, containers)
    except ConfigError as err:
        return _Resolved({}, shapes(rev.spec.volumes), Failure(err.reason, err.message, permanent=True), ())
    warnings = tuple(w for resolved in env.values() for w in resolved.warnings)
    return _Resolved(env, volumes, None, warnings)


def make_workload(
    rev: Revision, cfg: Config, sources: Sources | None = None, node: downward.Node | None = None
) -> Workload:
    """The Workload of ``rev``; ``sources``: the ConfigMaps and Secrets it reads
    (:func:`~.configdata.references`), ``node``: this machine for the downward API."""
    spec = rev.spec
    serving = serving_index(spec.containers)
    container = spec.containers[serving] if spec.containers else Container()
    inits = init_containers(rev)
    resolved = _resolve(rev, [*spec.containers, *inits], sources or {}, node or downward.Node(), container.name or "")
    env = resolved.of(container)
    port = container.ports[0].container_port if container.ports and container.ports[0].container_port else None
    h2c = bool(container.ports) and container.ports[0].name == "h2c"  # Knative's Revision.GetProtocol
    timeout = spec.timeout_seconds if spec.timeout_seconds is not None else cfg.defaults.revision_timeout_seconds
    concurrency = spec.container_concurrency
    limits = container.resources.limits if container.resources else {}
    requests = container.resources.requests if container.resources else {}
    pod_sc = (spec.model_extra or {}).get("securityContext")
    run_as = {**_run_as(pod_sc), **_run_as(container.security_context)}
    sidecars = [c for i, c in enumerate(spec.containers) if i != serving]
    return Workload(
        key=workload_key(rev),
        service=rev.metadata.labels.get(labels.SERVICE, ""),
        configuration=rev.metadata.labels.get(labels.CONFIGURATION, ""),
        image=pinned_image(rev, container),
        image_pull_policy=pull_policy(container, pinned_image(rev, container)),
        command=tuple(container.command),
        args=tuple(container.args),
        working_dir=container.working_dir,
        env=env.env,
        env_data=env.data,
        instance_fields=env.instance_fields,
        container_port=port or cfg.defaults.user_container_port,
        h2c=h2c,
        readiness_probe=container.readiness_probe,
        liveness_probe=container.liveness_probe,
        termination_grace_seconds=timeout,
        container_concurrency=concurrency if concurrency is not None else cfg.defaults.container_concurrency,
        timeout_seconds=timeout,
        cpu_limit=str(limits["cpu"]) if "cpu" in limits else None,
        memory_limit=str(limits["memory"]) if "memory" in limits else None,
        response_start_timeout_seconds=spec.response_start_timeout_seconds or 0,
        idle_timeout_seconds=spec.idle_timeout_seconds or 0,
        unsupported=tuple(unsupported_fields(rev)),
        run_as_user=_int(run_as.get("runAsUser")),
        run_as_group=_int(run_as.get("runAsGroup")),
        run_as_non_root=run_as["runAsNonRoot"] if isinstance(run_as.get("runAsNonRoot"), bool) else None,
        container_name=container.name or "",
        startup_probe=container.startup_probe,
        cpu_request=str(requests["cpu"]) if "cpu" in requests else None,
        memory_request=str(requests["memory"]) if "memory" in requests else None,
        sidecars=tuple(_other(rev, c, pod_sc, resolved.of(c)) for c in sidecars),
        init_containers=tuple(_other(rev, c, pod_sc, resolved.of(c), init=True) for c in inits),
        multi_container_probing=cfg.features.enabled(MULTI_CONTAINER_PROBING),
        volumes=resolved.volumes,
        volume_mounts=mounts_of(container),
        config_error=resolved.error,
        config_warnings=resolved.warnings,
        image_pull_keyring=pull_secrets(image_pull_secrets(rev), sources or {}).keyring,
        python_app=rev.metadata.annotations.get(PYTHON_APP_ANNOTATION, ""),
    )


def image_pull_secrets(rev: Revision) -> list[str]:
    """``spec.imagePullSecrets``' names, in order."""
    return pull_secret_names({"imagePullSecrets": rev.spec.image_pull_secrets})


def init_containers(rev: Revision) -> list[Container]:
    """``spec.initContainers`` (kept unmodelled on the spec; admission validated them)."""
    raw = (rev.spec.model_extra or {}).get("initContainers")
    out: list[Container] = []
    for item in raw if isinstance(raw, list) else []:
        with contextlib.suppress(ValidationError):
            out.append(Container.model_validate(item))
    return out


def _other(rev: Revision, c: Container, pod_sc: object, env: ResolvedEnv, *, init: bool = False) -> WorkloadContainer:
    """A sidecar or init container as the runtime runs it (its env, the pinned image)."""
    run_as = {**_run_as(pod_sc), **_run_as(c.security_context)}
    limits = c.resources.limits if c.resources else {}
    image = pinned_image(rev, c, init=init)
    return WorkloadContainer(
        name=c.name or "",
        image=image,
        image_pull_policy=pull_policy(c, image),
        command=tuple(c.command),
        args=tuple(c.args),
        working_dir=c.working_dir,
        env=env.env,
        env_data=env.data,
        instance_fields=env.instance_fields,
        volume_mounts=mounts_of(c),
        readiness_probe=c.readiness_probe,
        liveness_probe=c.liveness_probe,
        startup_probe=c.startup_probe,
        cpu_limit=str(limits["cpu"]) if "cpu" in limits else None,
        memory_limit=str(limits["memory"]) if "memory" in limits else None,
        run_as_user=_int(run_as.get("runAsUser")),
        run_as_group=_int(run_as.get("runAsGroup")),
        run_as_non_root=run_as["runAsNonRoot"] if isinstance(run_as.get("runAsNonRoot"), bool) else None,
    )


def pinned_image(rev: Revision, container: Container, *, init: bool = False) -> str | None:
    """The image a container runs: its ``imageDigest`` from the Revision's status once resolved
    (``REPO@sha256:…``), else its ``image`` (resources/deploy.go BuildUserContainers: the digest
    replaces the image when it is not empty). Matched by name (containers' names are unique);
    ``init`` looks in ``initContainerStatuses``."""
    statuses = rev.status.init_container_statuses if init else rev.status.container_statuses
    digest = next((s.image_digest for s in statuses if s.name == container.name and s.image_digest), None)
    return digest or container.image


def pull_policy(container: Container, image: str | None) -> str | None:
    """``imagePullPolicy``, else Kubernetes' default for the image the Pod gets (Knative's pinned
    one): ``Always`` for ``:latest`` or no tag, ``IfNotPresent`` otherwise (a digest included)."""
    if container.image_pull_policy or not image:
        return container.image_pull_policy
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    return "IfNotPresent" if ":" in last and not last.endswith(":latest") else "Always"


def _run_as(security_context: object) -> dict[str, Any]:
    """The set ``runAs*`` fields of a securityContext (a wire dict, or anything else: none)."""
    if not isinstance(security_context, Mapping):
        return {}
    return {name: security_context[name] for name in RUN_AS if security_context.get(name) is not None}


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def unsupported_fields(rev: Revision) -> list[str]:
    """Dotted paths of the fields set on the Revision that a workload cannot carry."""
    spec = rev.spec
    out = [f"spec.{_camel(f)}" for f in _POD_FIELDS if getattr(spec, f)]
    for i, vol in enumerate(spec.volumes):
        out += [
            f"spec.volumes[{i}].{k}" for k, v in vol.items() if k != "name" and k not in SUPPORTED and v is not None
        ]
    for k, v in (spec.model_extra or {}).items():
        if k == "initContainers":
            out += [f for i, c in enumerate(init_containers(rev)) for f in _container_fields(c, f"spec.{k}[{i}]")]
        elif k == "securityContext" and isinstance(v, Mapping):
            out += [
                f"spec.securityContext.{name}"
                for name, value in v.items()
                if name not in RUN_AS and value not in (None, [], {})
            ]
        elif v not in (None, [], {}):
            out.append(f"spec.{k}")
    for i, c in enumerate(spec.containers):
        out += _container_fields(c, f"spec.containers[{i}]")
    return out


def _container_fields(c: Container, path: str) -> list[str]:
    out = [
        f"{path}.volumeMounts[{i}].mountPropagation" for i, m in enumerate(c.volume_mounts) if m.get("mountPropagation")
    ]
    if not c.image:  # a process: no container to run an exec probe in
        probes = (("readinessProbe", c.readiness_probe), ("livenessProbe", c.liveness_probe))
        out += [f"{path}.{name}.exec" for name, probe in (*probes, ("startupProbe", c.startup_probe)) if _exec(probe)]
    out += [f"{path}.{k}" for k, v in (c.model_extra or {}).items() if v not in (None, [], {})]
    return out


def _exec(probe: Probe | None) -> bool:
    return probe is not None and probe.exec is not None


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(p.title() for p in rest)
