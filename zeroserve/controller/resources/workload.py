"""MakeWorkload: what a Revision asks the runtime to run (Knative's MakeDeployment).

Only literal env values are passed on; every PodSpec field the runtime cannot honour is named in
``Workload.unsupported`` (the Revision keeps it and a condition message shows it: never dropped).
``securityContext.runAsUser`` / ``runAsGroup`` / ``runAsNonRoot`` are honoured, the container's over
the pod's (Kubernetes' precedence); the pod's other securityContext fields are named as unsupported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from zeroserve.api import labels
from zeroserve.api.podspec import Container, Probe
from zeroserve.api.revision import Revision
from zeroserve.config import Config
from zeroserve.runtime.base import Workload, WorkloadKey

_POD_FIELDS = ("volumes", "image_pull_secrets", "service_account_name")
RUN_AS = ("runAsUser", "runAsGroup", "runAsNonRoot")
"""The securityContext fields the runtime honours (who the app runs as)."""


def workload_key(rev: Revision) -> WorkloadKey:
    return WorkloadKey(rev.metadata.namespace or "", rev.metadata.name or "")


def make_workload(rev: Revision, cfg: Config) -> Workload:
    spec = rev.spec
    container = spec.containers[0] if spec.containers else Container()
    port = container.ports[0].container_port if container.ports and container.ports[0].container_port else None
    timeout = spec.timeout_seconds if spec.timeout_seconds is not None else cfg.defaults.revision_timeout_seconds
    concurrency = spec.container_concurrency
    limits = container.resources.limits if container.resources else {}
    pod_sc = (spec.model_extra or {}).get("securityContext")
    run_as = {**_run_as(pod_sc), **_run_as(container.security_context)}
    return Workload(
        key=workload_key(rev),
        service=rev.metadata.labels.get(labels.SERVICE, ""),
        configuration=rev.metadata.labels.get(labels.CONFIGURATION, ""),
        image=pinned_image(rev, container),
        image_pull_policy=pull_policy(container, pinned_image(rev, container)),
        command=tuple(container.command),
        args=tuple(container.args),
        working_dir=container.working_dir,
        env=tuple((e.name, e.value or "") for e in container.env if e.value_from is None),
        container_port=port or cfg.defaults.user_container_port,
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
    for k, v in (spec.model_extra or {}).items():
        if k == "securityContext" and isinstance(v, Mapping):
            out += [
                f"spec.securityContext.{name}"
                for name, value in v.items()
                if name not in RUN_AS and value not in (None, [], {})
            ]
        elif v not in (None, [], {}):
            out.append(f"spec.{k}")
    out += [f"spec.containers[{i}]" for i in range(1, len(spec.containers))]
    if spec.containers:
        out += _container_fields(spec.containers[0], "spec.containers[0]")
    return out


def _container_fields(c: Container, path: str) -> list[str]:
    out = [f"{path}.env[{i}].valueFrom" for i, e in enumerate(c.env) if e.value_from is not None]
    if c.env_from:
        out.append(f"{path}.envFrom")
    if c.volume_mounts:
        out.append(f"{path}.volumeMounts")
    if c.startup_probe is not None:
        out.append(f"{path}.startupProbe")
    for name, probe in (("readinessProbe", c.readiness_probe), ("livenessProbe", c.liveness_probe)):
        out += _probe_fields(probe, f"{path}.{name}")
    out += [f"{path}.{k}" for k, v in (c.model_extra or {}).items() if v not in (None, [], {})]
    return out


def _probe_fields(probe: Probe | None, path: str) -> list[str]:
    if probe is None:
        return []
    return [f"{path}.{name}" for name in ("exec", "grpc") if getattr(probe, name) is not None]


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(p.title() for p in rest)
