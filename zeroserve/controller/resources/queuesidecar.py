"""makeQueueContainer (Knative ``pkg/reconciler/revision/resources/queue.go``): a revision pod's
queue-proxy on a Kubernetes cluster (PURE).

The container is Knative's: named ``queue-proxy``, its ports ``http-autometric`` 9090,
``http-usermetric`` 9091, ``queue-port`` 8012 (8013 for an h2c revision) and ``https-port`` 8112,
a readiness probe that asks the queue-proxy itself (``K-Network-Probe: queue`` on the serving port;
it runs the user's probe, passed as ``SERVING_READINESS_PROBE``), Knative's locked-down
securityContext, and Knative's environment, every value as Knative computes it. The image is
zeroserve's, run as ``python3 -m zeroserve.queue`` (:data:`QUEUE_COMMAND`); config-deployment's
queue-sidecar settings zeroserve has no keys for are Knative's defaults (``requests.cpu`` 25m; with
``queueproxy.resource-defaults`` also 1000m / 400Mi / 800Mi), and the empty strings of its unset TLS keys.

Four variables are zeroserve's queue-proxy's own (:class:`zeroserve.queue.settings.Settings`),
fixed to what Knative's queue-proxy does on a cluster: ``QUEUE_ADMIN_PORT`` 8022 (where the user
container's preStop hook waits for the drain, and the autoscaler scrapes ``/stats``),
``QUEUE_LISTEN_ADDRESS`` ``0.0.0.0`` (every address, as Knative's listens), ``QUEUE_DRAIN_QUIET_PERIOD``
30 (Knative's ``drainSleepDuration``: endpoints take that long to drop a terminating pod) and ``USER_PROTOCOL``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from fractions import Fraction
from typing import Any, Final

from zeroserve.api import annotations as ann
from zeroserve.api import labels
from zeroserve.api.base import Obj, to_wire
from zeroserve.api.fieldmask import MULTI_CONTAINER_PROBING
from zeroserve.api.podspec import Container, HTTPGetAction, Probe, TCPSocketAction
from zeroserve.api.revision import Revision
from zeroserve.config import Config
from zeroserve.config.quantity import QuantityError, canonical, format_quantity, parse
from zeroserve.controller.resources import owners
from zeroserve.controller.resources.pa import protocol_type
from zeroserve.controller.resources.workload import serving_index
from zeroserve.observability.settings import OBSERVABILITY_ENV, tracing_json

QUEUE_CONTAINER: Final = "queue-proxy"
QUEUE_COMMAND: Final = ("python3", "-m", "zeroserve.queue")
"""zeroserve's queue-proxy by its smallest import graph (``zeroserve queue-proxy`` loads the whole CLI
first: measured 0.51 s and 43 MB against 0.15 s and 26 MB, on every cold start and in every pod)."""
DEFAULT_USER_PORT: Final = 8080
USER_PORT_NAME: Final = "user-port"
QUEUE_HTTP_PORT: Final = 8012
QUEUE_HTTP2_PORT: Final = 8013
QUEUE_HTTPS_PORT: Final = 8112
QUEUE_ADMIN_PORT: Final = 8022
LISTEN_ADDRESS: Final = "0.0.0.0"
"""Where a pod's queue-proxy listens: every address (the kubelet probes it and Services reach it by the pod IP)."""
AUTOSCALING_METRICS_PORT: Final = 9090
USER_METRICS_PORT: Final = 9091
QUEUE_PORT_NAME: Final = "queue-port"
QUEUE_HTTPS_PORT_NAME: Final = "https-port"
ADMIN_PORT_NAME: Final = "http-queueadm"
AUTOSCALING_METRICS_PORT_NAME: Final = "http-autometric"
USER_METRICS_PORT_NAME: Final = "http-usermetric"
DRAIN_PATH: Final = "/wait-for-drain"
PROBE_HEADER: Final = "K-Network-Probe"
LOCAL_ADDRESS: Final = "127.0.0.1"
SYSTEM_NAMESPACE: Final = "knative-serving"
"""``system.Namespace()``: where the control plane runs (the ``SYSTEM_NAMESPACE`` variable)."""
DRAIN_SLEEP_SECONDS: Final = 30
RESOURCE_DEFAULTS: Final = "queueproxy.resource-defaults"
AUTODETECT_HTTP2: Final = "autodetect-http2"
FULL_DUPLEX_ANNOTATION: Final = "features.knative.dev/http-full-duplex"

SECURITY_CONTEXT: Final[Obj] = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
"""``queueSecurityContext``."""
CPU_REQUEST: Final = "25m"
"""config-deployment's ``queue-sidecar-cpu-request`` default (set whatever the feature flag says)."""
RESOURCE_DEFAULTS_VALUES: Final = {"limits": {"cpu": "1000m", "memory": "800Mi"}, "requests": {"memory": "400Mi"}}
"""The ``queueproxy.resource-defaults`` defaults (``QueueSidecar*Default``)."""
PERCENTAGE_KEYS: Final = (ann.QUEUE_RESOURCE_PERCENTAGE, f"{ann.QUEUE_SIDECAR}/resourcePercentage")
BOUNDARIES: Final = {
    ("requests", "cpu"): ("25m", "100m"),
    ("limits", "cpu"): ("40m", "500m"),
    ("requests", "memory"): ("50Mi", "200Mi"),
    ("limits", "memory"): ("200Mi", "500Mi"),
}
"""``resourceboundary.go``: what the deprecated resource percentage may give the queue-proxy."""


def serving_container(rev: Revision) -> Container:
    """``GetContainer``: the only container, else the one with a port."""
    containers = rev.spec.containers
    return containers[serving_index(containers)] if containers else Container()


def user_port(rev: Revision) -> int:
    """``getUserPort``: the serving container's port, else 8080."""
    ports = serving_container(rev).ports
    return ports[0].container_port if ports and ports[0].container_port else DEFAULT_USER_PORT


def serving_port(rev: Revision) -> int:
    """The queue-proxy's serving port: 8013 for an h2c revision, else 8012."""
    return QUEUE_HTTP2_PORT if protocol_type(rev) == "h2c" else QUEUE_HTTP_PORT


def port_number(port: object) -> int:
    """``intstr.IntValue()`` of a port: 0 when it is a name."""
    if isinstance(port, int):
        return port
    return int(port) if isinstance(port, str) and port.isdigit() else 0


def probe_port(probe: Probe, default: int) -> int:
    """The port the queue-proxy probes: the probe's own when it names a number, else ``default``."""
    if probe.http_get is not None and port_number(probe.http_get.port):
        return port_number(probe.http_get.port)
    if probe.tcp_socket is not None and port_number(probe.tcp_socket.port):
        return port_number(probe.tcp_socket.port)
    grpc_port = (probe.grpc or {}).get("port")
    return grpc_port if isinstance(grpc_port, int) and grpc_port > 0 else default


def readiness_probe_defaults(probe: Probe, port: int) -> Probe:
    """``applyReadinessProbeDefaults`` on a copy: the probe aimed at ``127.0.0.1:port``; an exec probe
    becomes a TCP probe (the kubelet still runs the exec one in its container)."""
    p = probe.model_copy(deep=True)
    if p.http_get is not None:
        p.http_get.host, p.http_get.port = LOCAL_ADDRESS, port
        p.http_get.scheme = p.http_get.scheme or "HTTP"
    elif p.tcp_socket is not None:
        p.tcp_socket.host, p.tcp_socket.port = LOCAL_ADDRESS, port
    elif p.exec is not None:
        p.tcp_socket, p.exec = TCPSocketAction(host=LOCAL_ADDRESS, port=port), None
    elif p.grpc is not None:
        p.grpc = {**p.grpc, "port": port}
    if (p.period_seconds or 0) > 0 and (p.timeout_seconds or 0) < 1:
        p.timeout_seconds = 1
    return p


def _probe_json(probes: list[Obj | None] | Obj | None) -> str:
    return "" if probes is None else json.dumps(probes, separators=(",", ":"))


def readiness_probes(rev: Revision, cfg: Config) -> str:
    """``SERVING_READINESS_PROBE``: the serving container's readiness probe aimed at it; with
    multi-container-probing a JSON list, the sidecars' probes after it (an exec one is left to the
    kubelet; one with no port number is Knative's error, a ValueError here). Knative's list starts
    with ``null`` when the serving container has no probe, and so does this one."""
    user = serving_container(rev).readiness_probe
    first = None if user is None else to_wire(readiness_probe_defaults(user, probe_port(user, user_port(rev))))
    if not cfg.features.enabled(MULTI_CONTAINER_PROBING):
        return _probe_json(first)
    probes: list[Obj | None] = [first]
    serving = serving_index(rev.spec.containers)
    for i, c in enumerate(rev.spec.containers):
        p = c.readiness_probe
        if i == serving or p is None or p.exec is not None:
            continue
        port = probe_port(p, 0)
        if port == 0:
            raise ValueError(f"sidecar readiness probe does not define probe port on container: {c.name}")
        probes.append(to_wire(readiness_probe_defaults(p, port)))
    return _probe_json(probes)


def queue_readiness_probe(rev: Revision) -> Obj | None:
    """The kubelet's probe of the queue-proxy: the user's timing, asking ``K-Network-Probe: queue``."""
    user = serving_container(rev).readiness_probe
    if user is None:
        return None
    probe = user.model_copy(update={"http_get": None, "tcp_socket": None, "exec": None, "grpc": None}, deep=True)
    probe.http_get = HTTPGetAction.model_validate(
        {"port": serving_port(rev), "httpHeaders": [{"name": PROBE_HEADER, "value": "queue"}]}
    )
    return to_wire(probe)


def _quantity(value: object) -> Fraction | None:
    try:
        return parse(value) if isinstance(value, (str, int, float)) else None
    except QuantityError:
        return None


def _percentage(annotations: Mapping[str, str]) -> float | None:
    key = next((k for k in PERCENTAGE_KEYS if k in annotations), None)
    try:
        return None if key is None else float(annotations[key]) / 100
    except ValueError:
        return None


def _share(user: object, fraction: float, kind: str, resource: str) -> str | None:
    """``computeResourceRequirements``: ``fraction`` of the user container's amount (in milli-units,
    truncated), held within the boundary; None when the user container sets none."""
    amount = _quantity(user)
    if amount is None or amount == 0:
        return None
    milli = int(math.ceil(amount * 1000) * fraction)
    low, high = BOUNDARIES[(kind, resource)]
    if milli < parse(low) * 1000:
        return low
    if milli > parse(high) * 1000:
        return high
    return format_quantity(Fraction(milli, 1000), "BinarySI")


def queue_resources(rev: Revision, cfg: Config) -> Obj:
    """``createQueueResources``: config's requests (and limits), then the deprecated percentage of
    the serving container's, then the ``queue.sidecar.serving.knative.dev/*-resource-*`` annotations."""
    out: dict[str, dict[str, str]] = {"requests": {"cpu": CPU_REQUEST}, "limits": {}}
    if cfg.features.enabled(RESOURCE_DEFAULTS):
        for kind, values in RESOURCE_DEFAULTS_VALUES.items():
            out[kind].update(values)
    annotations = rev.metadata.annotations
    fraction = _percentage(annotations)
    user = serving_container(rev).resources
    if fraction is not None and user is not None:
        for kind, resource in BOUNDARIES:
            share = _share(getattr(user, kind).get(resource), fraction, kind, resource)
            if share is not None:
                out[kind][resource] = share
    for resource in ("cpu", "memory", "ephemeral-storage"):
        for kind in ("requests", "limits"):
            value = annotations.get(f"{ann.QUEUE_SIDECAR}/{resource}-resource-{kind.removesuffix('s')}")
            if value is not None and _quantity(value) is not None:
                out[kind][resource] = canonical(value)
    return {kind: values for kind, values in out.items() if values}


def observability_config(cfg: Config) -> str:
    """``OBSERVABILITY_CONFIG``: config-observability as JSON, the members a queue-proxy reads."""
    o = cfg.observability
    request_log: dict[str, Any] = {
        "enableRequestLog": o.enable_request_log,
        "requestLogTemplate": o.request_log_template,
        "enableProbeRequestLog": o.enable_probe_request_log,
    }
    data = {"tracing": tracing_json(o.tracing), **{k: v for k, v in request_log.items() if v}}
    return json.dumps(data, separators=(",", ":"))


def _field_ref(name: str, path: str, api_version: str | None = None) -> Obj:
    ref = {"fieldPath": path} if api_version is None else {"apiVersion": api_version, "fieldPath": path}
    return {"name": name, "valueFrom": {"fieldRef": ref}}


def queue_env(rev: Revision, cfg: Config, system_namespace: str = SYSTEM_NAMESPACE) -> list[Obj]:
    """The queue-proxy's environment, in Knative's order, then zeroserve's three."""
    meta, spec = rev.metadata, rev.spec
    owner = owners.controller_of(meta)
    full_duplex = meta.annotations.get(FULL_DUPLEX_ANNOTATION, "").lower() == "enabled"
    values: list[tuple[str, str]] = [
        ("SERVING_NAMESPACE", meta.namespace or ""),
        ("SERVING_SERVICE", meta.labels.get(labels.SERVICE, "")),
        ("SERVING_CONFIGURATION", owner.name if owner is not None and owner.kind == "Configuration" else ""),
        ("SERVING_REVISION", meta.name or ""),
        ("QUEUE_SERVING_PORT", str(serving_port(rev))),
        ("QUEUE_SERVING_TLS_PORT", str(QUEUE_HTTPS_PORT)),
        ("CONTAINER_CONCURRENCY", str(spec.container_concurrency or 0)),
        ("REVISION_TIMEOUT_SECONDS", str(spec.timeout_seconds or 0)),
        ("REVISION_RESPONSE_START_TIMEOUT_SECONDS", str(spec.response_start_timeout_seconds or 0)),
        ("REVISION_IDLE_TIMEOUT_SECONDS", str(spec.idle_timeout_seconds or 0)),
    ]
    env: list[Obj] = [{"name": k, "value": v} for k, v in values]
    env += [_field_ref("SERVING_POD", "metadata.name"), _field_ref("SERVING_POD_IP", "status.podIP")]
    values = [
        ("SERVING_LOGGING_CONFIG", ""),
        ("SERVING_LOGGING_LEVEL", ""),
        ("USER_PORT", str(user_port(rev))),
        ("SYSTEM_NAMESPACE", system_namespace),
        ("SERVING_READINESS_PROBE", readiness_probes(rev, cfg)),
    ]
    env += [{"name": k, "value": v} for k, v in values]
    env.append(_field_ref("HOST_IP", "status.hostIP", "v1"))
    values = [
        ("ENABLE_HTTP2_AUTO_DETECTION", _go_bool(cfg.features.enabled(AUTODETECT_HTTP2))),
        ("ENABLE_HTTP_FULL_DUPLEX", _go_bool(full_duplex)),
        ("ROOT_CA", ""),
        ("QUEUE_PROXY_TLS_MIN_VERSION", ""),
        ("QUEUE_PROXY_TLS_MAX_VERSION", ""),
        ("QUEUE_PROXY_TLS_CIPHER_SUITES", ""),
        ("QUEUE_PROXY_TLS_CURVE_PREFERENCES", ""),
        ("ENABLE_MULTI_CONTAINER_PROBES", _go_bool(cfg.features.enabled(MULTI_CONTAINER_PROBING))),
        (OBSERVABILITY_ENV, observability_config(cfg)),
        ("QUEUE_ADMIN_PORT", str(QUEUE_ADMIN_PORT)),
        ("QUEUE_LISTEN_ADDRESS", LISTEN_ADDRESS),
        ("QUEUE_DRAIN_QUIET_PERIOD", str(DRAIN_SLEEP_SECONDS)),
        ("USER_PROTOCOL", protocol_type(rev)),
    ]
    return env + [{"name": k, "value": v} for k, v in values]


def _go_bool(value: bool) -> str:
    return "true" if value else "false"


def queue_ports(rev: Revision) -> list[Obj]:
    return [
        {"name": AUTOSCALING_METRICS_PORT_NAME, "containerPort": AUTOSCALING_METRICS_PORT},
        {"name": USER_METRICS_PORT_NAME, "containerPort": USER_METRICS_PORT},
        {"name": QUEUE_PORT_NAME, "containerPort": serving_port(rev)},
        {"name": QUEUE_HTTPS_PORT_NAME, "containerPort": QUEUE_HTTPS_PORT},
    ]


def make_queue_container(rev: Revision, cfg: Config, queue_image: str, system_namespace: str = SYSTEM_NAMESPACE) -> Obj:
    """``makeQueueContainer``: the queue-proxy sidecar of ``rev``'s pods, running ``queue_image``."""
    out: Obj = {
        "name": QUEUE_CONTAINER,
        "image": queue_image,
        "command": list(QUEUE_COMMAND),
        "ports": queue_ports(rev),
        "env": queue_env(rev, cfg, system_namespace),
        "resources": queue_resources(rev, cfg),
        "securityContext": json.loads(json.dumps(SECURITY_CONTEXT)),
    }
    probe = queue_readiness_probe(rev)
    if probe is not None:
        out["readinessProbe"] = probe
    return out
