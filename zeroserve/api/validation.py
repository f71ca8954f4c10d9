"""Validation of serving.knative.dev/v1 resources, collecting *every* FieldError.

Mirrors Knative's webhook: ``pkg/apis/serving/v1/{service,configuration,revision,route}_validation.go``,
``pkg/apis/serving/k8s_validation.go`` (PodSpec/Container rules; volumes in :mod:`zeroserve.api.volumes`),
``pkg/apis/serving/fieldmask.go`` (fields Knative refuses, opened by config-features flags:
:mod:`zeroserve.api.fieldmask`), ``pkg/apis/serving/metadata_validation.go`` and knative.dev/pkg
``apis/field_error.go`` (how paths are joined and errors merged).

Paths are built as Knative's ``ViaField``/``ViaIndex`` build them: every function returns errors
relative to the object it was given and callers prefix them with :func:`via`. The plumbing
(:mod:`zeroserve.api.fielderrors`) and decoding (:func:`parse`, :mod:`zeroserve.api.decoding`)
are re-exported here, where callers have always found them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction
from typing import Any, Literal

from pydantic import BaseModel

from zeroserve.api import annotations as ann
from zeroserve.api import fieldmask, labels, names, wire
from zeroserve.api import volumes as volumes_
from zeroserve.api.base import INT32_MAX
from zeroserve.api.configuration import Configuration
from zeroserve.api.decoding import field_errors as field_errors
from zeroserve.api.decoding import loc_to_path as loc_to_path
from zeroserve.api.decoding import parse as parse
from zeroserve.api.fielderrors import MSG_BOTH, MSG_NEITHER, err_disallowed, err_type, join
from zeroserve.api.fielderrors import err_invalid_value as err_invalid_value
from zeroserve.api.fielderrors import err_missing as err_missing
from zeroserve.api.fielderrors import err_out_of_bounds as err_out_of_bounds
from zeroserve.api.fielderrors import merge as merge
from zeroserve.api.fielderrors import via as via
from zeroserve.api.meta import ObjectMeta
from zeroserve.api.podspec import Container, ContainerPort, HTTPGetAction, Probe, ResourceRequirements
from zeroserve.api.revision import Revision, RevisionSpec, RevisionTemplateSpec
from zeroserve.api.route import Route, TrafficTarget
from zeroserve.api.service import Service
from zeroserve.config import Config, FeaturesConfig, quantity
from zeroserve.errors import FieldError

RESERVED_PORTS = frozenset({8012, 8013, 8022, 9090, 9091, 8008})
"""Queue-proxy HTTP/h2c/admin/metrics ports and the profiling port (k8s_validation.go reservedPorts)."""
RESERVED_ENV = frozenset({"PORT", "K_SERVICE", "K_CONFIGURATION", "K_REVISION"})
RESERVED_SIDECAR_ENV = RESERVED_ENV - {"PORT"}
RESERVED_CONTAINER_NAMES = frozenset({"queue-proxy"})
RESERVED_PATHS = volumes_.RESERVED_PATHS
VALID_PORT_NAMES = frozenset({"h2c", "http1", ""})
ENV_NAME_MESSAGE = "a valid environment variable name must consist only of printable ASCII characters other than '='"
"""Kubernetes' message (``relaxedEnvVarNameFmtErrMsg``); ``my.env-name`` is valid since 1.34."""


def _is_set(value: Any) -> bool:
    """Go's non-zero value (CheckDisallowedFields ignores zero values)."""
    return value not in (None, False, 0, "", [], {})


def _extras(model: BaseModel, allowed: Iterable[str] = ()) -> list[str]:
    keep = set(allowed)
    return sorted(k for k, v in (model.model_extra or {}).items() if k not in keep and _is_set(v))


def _disallowed_keys(obj: Mapping[str, Any] | None, allowed: Iterable[str]) -> list[FieldError]:
    if not obj:
        return []
    keep = set(allowed)
    bad = sorted(k for k, v in obj.items() if k not in keep and _is_set(v))
    return [err_disallowed(*bad)] if bad else []


# ----------------------------------------------------------------------------- metadata


def validate_object_meta(meta: ObjectMeta, *, dns1035: bool = True) -> list[FieldError]:
    """knative.dev/pkg ``apis.ValidateObjectMetadata`` (relative to ``metadata``), first error only."""
    check = names.name_is_dns1035_label if dns1035 else names.name_is_dns1123_subdomain
    label = "DNS 1035 label" if dns1035 else "DNS 1123 subdomain"
    errs: list[FieldError] = []
    if meta.generate_name and (msgs := check(meta.generate_name, True)):
        errs.append(FieldError(f"not a {label} prefix: {names.go_list(msgs)}", ("generateName",)))
    elif meta.name and (msgs := check(meta.name, False)):
        errs.append(FieldError(f"not a {label}: {names.go_list(msgs)}", ("name",)))
    elif not meta.name and not meta.generate_name:
        errs.append(FieldError("name or generateName is required", ("name",)))
    if meta.namespace and (msgs := names.is_dns1123_label(meta.namespace)):
        errs.append(err_invalid_value(meta.namespace, "namespace", ", ".join(msgs)))
    return errs


def _verify_label_owner(meta: ObjectMeta, label: str, kind: str) -> list[FieldError]:
    """A reserved parent label must match an owner reference (``verifyLabelOwnerRef``)."""
    value = meta.labels.get(label)
    if value is None or any(r.kind == kind and r.name == value for r in meta.owner_references):
        return []
    return [err_missing(join("labels", label))]


def validate_creator_modifier(old_spec: Any, new_spec: Any, old: ObjectMeta, new: ObjectMeta) -> list[FieldError]:
    """``apis.ValidateCreatorAndModifier`` (relative to ``metadata.annotations``)."""
    errs: list[FieldError] = []
    if old.annotations.get(labels.CREATOR, "") != new.annotations.get(labels.CREATOR, ""):
        errs.append(FieldError("annotation value is immutable", (labels.CREATOR,)))
    modifier = new.annotations.get(labels.LAST_MODIFIER, "")
    if old_spec == new_spec and old.annotations.get(labels.LAST_MODIFIER, "") != modifier:
        errs.append(err_invalid_value(modifier, labels.LAST_MODIFIER))
    return errs


# ----------------------------------------------------------------------------- containers


def _validate_probe(p: Probe | None, port: ContainerPort | None, user: bool) -> list[FieldError]:
    """``validateProbe``: one handler; a named port must be the serving port."""
    if p is None:
        return []
    errs = [*_disallow_extras(p, ("terminationGracePeriodSeconds",))]
    handlers: list[str] = []
    for name, action in (("httpGet", p.http_get), ("tcpSocket", p.tcp_socket)):
        if action is None:
            continue
        handlers.append(name)
        allowed = ("host", "path", "scheme", "httpHeaders", "port") if name == "httpGet" else ("host", "port")
        errs += via(_disallow_extras(action, allowed), name)
        if isinstance(action, HTTPGetAction):
            errs += via(_validate_http_get(action), name)
        val = action.port
        if user and isinstance(val, str) and val and val != (port.name if port and port.name else "http"):
            errs.append(err_invalid_value(val, f"{name}.port", "Probe port must match container port"))
        if not user and val in (None, 0, ""):
            errs.append(err_invalid_value(val or 0, f"{name}.port", "Probe port must be specified"))
    if p.exec is not None:
        handlers.append("exec")
        errs += via(_disallowed_keys(p.exec, ("command",)), "exec")
    if p.grpc is not None:
        handlers.append("grpc")
        errs += via(_disallowed_keys(p.grpc, ("port", "service")), "grpc")
    if not handlers:
        errs.append(FieldError(MSG_NEITHER, ("exec", "grpc", "httpGet", "tcpSocket")))
    elif len(handlers) > 1:
        errs.append(FieldError(MSG_BOTH, tuple(handlers)))
    return errs


def _controls(text: str) -> bool:
    return any((ch < " " and ch != "\t") or ch == "\x7f" for ch in text)


def _validate_http_get(action: HTTPGetAction) -> list[FieldError]:
    """What the prober writes on the wire: a request line and headers (Kubernetes checks header
    names; Go's HTTP client, the kubelet's, refuses control characters in the URL and values)."""
    errs: list[FieldError] = []
    if action.path and _controls(action.path):
        errs.append(err_invalid_value(wire.shown(action.path), "path", "must not contain control characters"))
    for i, header in enumerate(action.http_headers):
        for msg in names.is_http_header_name(header.name):
            errs.append(err_invalid_value(wire.shown(header.name), f"httpHeaders[{i}].name", msg))
        if _controls(header.value):
            message = "must not contain control characters"
            errs.append(err_invalid_value(wire.shown(header.value), f"httpHeaders[{i}].value", message))
    return errs


def _validate_readiness_probe(p: Probe | None, port: ContainerPort | None, user: bool) -> list[FieldError]:
    if p is None:
        return []
    errs = _validate_probe(p, port, user)
    period, delay = p.period_seconds or 0, p.initial_delay_seconds or 0
    success, failure, timeout = p.success_threshold or 0, p.failure_threshold or 0, p.timeout_seconds or 0
    if period < 0:
        errs.append(err_out_of_bounds(period, 0, INT32_MAX, "periodSeconds"))
    if delay < 0:
        errs.append(err_out_of_bounds(delay, 0, INT32_MAX, "initialDelaySeconds"))
    if success < 1:
        errs.append(err_out_of_bounds(success, 1, INT32_MAX, "successThreshold"))
    if period == 0:
        if failure:
            errs.append(FieldError("failureThreshold is disallowed when periodSeconds is zero", ("failureThreshold",)))
        if timeout:
            errs.append(FieldError("timeoutSeconds is disallowed when periodSeconds is zero", ("timeoutSeconds",)))
    else:
        if timeout < 1:
            errs.append(err_out_of_bounds(timeout, 1, INT32_MAX, "timeoutSeconds"))
        if failure < 1:
            errs.append(err_out_of_bounds(failure, 1, INT32_MAX, "failureThreshold"))
    return errs


def _disallow_extras(model: BaseModel, allowed: Iterable[str] = ()) -> list[FieldError]:
    bad = _extras(model, allowed)
    return [err_disallowed(*bad)] if bad else []


def is_env_name(name: str) -> bool:
    """Kubernetes' ``IsRelaxedEnvVarName`` (the rule since 1.34): printable ASCII, no ``=``."""
    return bool(name) and all(" " <= ch <= "~" and ch != "=" for ch in name)


def _process_text(value: str | None, path: str) -> list[FieldError]:
    """What a process is given (argv, environment, working directory) cannot hold NUL or a lone
    surrogate: execve takes C strings, and a surrogate has no UTF-8 bytes."""
    if not value:
        return []
    if "\x00" in value:
        return [err_invalid_value(wire.shown(value), path, "must not contain a NUL byte")]
    if not wire.encodable(value):
        return [err_invalid_value(wire.shown(value), path, "must be valid UTF-8")]
    return []


def _validate_process(c: Container) -> list[FieldError]:
    errs = [e for i, arg in enumerate(c.command) for e in _process_text(arg, f"command[{i}]")]
    errs += [e for i, arg in enumerate(c.args) for e in _process_text(arg, f"args[{i}]")]
    return errs + _process_text(c.working_dir, "workingDir")


def _validate_env(c: Container, sidecar: bool, features: FeaturesConfig) -> list[FieldError]:
    reserved = RESERVED_SIDECAR_ENV if sidecar else RESERVED_ENV
    errs: list[FieldError] = []
    for i, env in enumerate(c.env):
        here: list[FieldError] = [*_disallow_extras(env)]
        if not env.name:
            here.append(err_missing("name"))
        elif env.name in reserved:
            here.append(FieldError(f'"{env.name}" is a reserved environment variable', ("name",)))
        elif not is_env_name(env.name):
            here.append(err_invalid_value(wire.shown(env.name), "name", ENV_NAME_MESSAGE))
        here += _process_text(env.value, "value")
        if env.value_from:  # EnvVarSourceMask: fieldRef/resourceFieldRef with podspec-fieldref
            here += via(_disallowed_keys(env.value_from, fieldmask.env_value_from_fields(features)), "valueFrom")
        errs += via(here, f"env[{i}]")
    for i, src in enumerate(c.env_from):
        errs += via(_disallowed_keys(src, ("prefix", "configMapRef", "secretRef")), f"envFrom[{i}]")
        has_cm, has_secret = bool(src.get("configMapRef")), bool(src.get("secretRef"))
        if has_cm and has_secret:  # Knative reports these without the index
            errs.append(FieldError(MSG_BOTH, ("envFrom.configMapRef", "envFrom.secretRef")))
        elif not has_cm and not has_secret:
            errs.append(FieldError(MSG_NEITHER, ("envFrom.configMapRef", "envFrom.secretRef")))
    return errs


def _validate_port_basic(p: ContainerPort) -> list[FieldError]:
    """``validateContainerPortBasic``: mask, reserved ports, range."""
    errs = [*_disallow_extras(p)]
    bad = [name for name, v in (("hostIP", p.host_ip), ("hostPort", p.host_port)) if _is_set(v)]
    if bad:
        errs.append(err_disallowed(*bad))
    port = p.container_port or 0
    if port in RESERVED_PORTS:
        errs.append(
            err_invalid_value(
                f"{port} is a reserved port",
                "containerPort",
                f"{port} is a reserved port, please use a different value",
            )
        )
    if not 0 <= port <= 65535:
        errs.append(err_out_of_bounds(port, 0, 65535, "containerPort"))
    return errs


def _validate_ports(ports: Sequence[ContainerPort]) -> list[FieldError]:
    """``validateContainerPorts``: only the first port matters (more are refused across containers)."""
    if not ports:
        return []
    p = ports[0]
    errs = _validate_port_basic(p)
    if p.protocol and p.protocol != "TCP":
        errs.append(err_invalid_value(p.protocol, "protocol"))
    if (p.name or "") not in VALID_PORT_NAMES:
        errs.append(
            FieldError(f"Port name {p.name} is not allowed", ("",), "Name must be empty, or one of: 'h2c', 'http1'")
        )
    return errs


_CONTAINER_SC = (
    "capabilities",
    "readOnlyRootFilesystem",
    "runAsUser",
    "runAsGroup",
    "runAsNonRoot",
    "allowPrivilegeEscalation",
    "seccompProfile",
)


def _validate_security_context(
    sc: object, allowed: Sequence[str], features: FeaturesConfig, known: Sequence[str] = _CONTAINER_SC
) -> list[FieldError]:
    """Security contexts: the mask (``allowed``), then types and Knative's uid/gid ranges on the
    struct's own fields (``known``), set or not."""
    if sc is None or sc == {}:
        return []
    if not isinstance(sc, Mapping):  # the pod's is an unmodelled (kept) field: any JSON value
        return [err_type(sc, ("map",), "")]
    keep = [*allowed, *(("privileged",) if sc.get("privileged") is False and allowed is _CONTAINER_SC else ())]
    errs = _disallowed_keys(sc, keep)
    fields = {*known, *(("privileged",) if known is _CONTAINER_SC else ())}
    for key in ("runAsUser", "runAsGroup", "fsGroup"):
        v = sc.get(key)
        if key not in fields:
            continue
        if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
            errs.append(err_type(v, ("integer",), key))
        elif isinstance(v, int) and not 0 <= v <= INT32_MAX:
            errs.append(err_out_of_bounds(v, 0, INT32_MAX, key))
    for key in ("runAsNonRoot", "readOnlyRootFilesystem", "allowPrivilegeEscalation", "privileged"):
        if key in fields and sc.get(key) is not None and not isinstance(sc[key], bool):
            errs.append(err_type(sc[key], ("boolean",), key))
    caps = sc.get("capabilities")
    if isinstance(caps, Mapping):
        errs += via(_disallowed_keys(caps, fieldmask.capabilities_fields(features, caps)), "capabilities")
    return errs


Role = Literal["user", "sidecar", "init"]


def _validate_container_probes(
    c: Container, port: ContainerPort | None, role: Role, features: FeaturesConfig
) -> list[FieldError]:
    probes = (
        ("livenessProbe", c.liveness_probe),
        ("readinessProbe", c.readiness_probe),
        ("startupProbe", c.startup_probe),
    )
    errs: list[FieldError] = []
    if role == "init":  # validateInitContainer: Kubernetes refuses them too
        for name, probe in probes:
            if probe is not None:
                errs.append(FieldError("field not allowed in an init container", (name,)))
        if _is_set((c.model_extra or {}).get("lifecycle")):
            errs.append(FieldError("field not allowed in an init container", ("lifecycle",)))
    elif role == "sidecar" and not features.enabled(fieldmask.MULTI_CONTAINER_PROBING):
        for name, probe in probes:  # validateSidecarContainer: no probes at all
            if probe is not None:
                errs += via(_disallowed_keys(probe.model_dump(by_alias=True, exclude_none=True), ()), name)
    else:
        user = role == "user"
        errs += via(_validate_probe(c.liveness_probe, port, user), "livenessProbe")
        errs += via(_validate_readiness_probe(c.readiness_probe, port, user), "readinessProbe")
        errs += via(_validate_probe(c.startup_probe, port, user), "startupProbe")
    return errs


def _validate_container(
    c: Container, volumes: Mapping[str, Mapping[str, Any]], port: ContainerPort | None, role: Role, cfg: Config
) -> list[FieldError]:
    """``ValidateUserContainer`` / ``validateSidecarContainer`` / ``validateInitContainer`` + ``validate``
    (relative to the container)."""
    features = cfg.features
    errs = _validate_container_probes(c, port, role, features)
    errs += _disallow_extras(c, ("terminationMessagePath",))
    if c.name in RESERVED_CONTAINER_NAMES:
        errs.append(FieldError(f'"{c.name}" is a reserved container name', ("name",)))
    errs += _validate_env(c, role != "user", features)
    errs += _validate_process(c)
    if not c.image and not c.command:
        # zeroserve: a container runs an image or a local command; Knative requires image.
        errs.append(FieldError("expected at least one, got neither", ("command", "image")))
    if role == "init":  # validateInitContainerPorts: every port, basic checks only
        errs += [e for p in c.ports for e in via(_validate_port_basic(p), "ports")]  # no index, as Knative
    else:
        errs += via(_validate_ports(c.ports), "ports")
    if c.resources is not None:
        errs += via(_validate_resources(c.resources), "resources")
    errs += via(_validate_security_context(c.security_context, _CONTAINER_SC, features), "securityContext")
    if c.termination_message_policy not in (None, "", "File", "FallbackToLogsOnError"):
        errs.append(err_invalid_value(c.termination_message_policy, "terminationMessagePolicy"))
    errs += via(volumes_.validate_volume_mounts(c.volume_mounts, volumes, features), "volumeMounts")
    return errs


def _validate_resources(r: ResourceRequirements) -> list[FieldError]:
    """``ValidateResourceRequirements``: quantities parse, are >= 0 and a request is within its limit."""
    errs = _disallow_extras(r)
    amounts: dict[tuple[str, str], Fraction] = {}
    for group, values in (("limits", r.limits), ("requests", r.requests)):
        for name, raw in values.items():
            try:
                amounts[group, name] = quantity.check_non_negative(raw)
            except quantity.QuantityError as e:
                errs.append(err_invalid_value(wire.shown_value(raw), join(group, name), str(e)))
    for (group, name), amount in amounts.items():
        limit = amounts.get(("limits", name))
        if group == "requests" and limit is not None and amount > limit:
            message = f"must be less than or equal to {name} limit of {wire.shown_value(r.limits[name])}"
            errs.append(err_invalid_value(wire.shown_value(r.requests[name]), join(group, name), message))
    return errs


def _validate_containers_ports(containers: Sequence[Container]) -> tuple[ContainerPort, list[FieldError]]:
    count = sum(len(c.ports) for c in containers)
    with_ports = [c for c in containers if c.ports]
    port = with_ports[-1].ports[0].model_copy() if with_ports else ContainerPort()
    port.name = port.name or "http"
    port.container_port = port.container_port or 8080
    if count == 0 and len(containers) > 1:
        return port, [err_missing("containers[*].ports")]
    if count > 1:
        return port, [
            FieldError(
                "more than one container port is set",
                ("containers[*].ports",),
                "Only a single port is allowed across all containers",
            )
        ]
    return port, []


_POD_SC = ("runAsUser", "runAsGroup", "runAsNonRoot", "fsGroup", "supplementalGroups", "seccompProfile")


def _init_containers(raw: Any) -> tuple[list[Container], list[FieldError]]:
    """``initContainers`` (kept unmodelled on the spec) parsed as Containers."""
    if raw is None:
        return [], []
    if not isinstance(raw, list):
        return [], [err_type(raw, ("array",), "initContainers")]
    out: list[Container] = []
    errs: list[FieldError] = []
    for i, item in enumerate(raw):
        model, problems = parse(Container, item) if isinstance(item, dict) else (None, [err_type(item, ("map",), "")])
        errs += via(problems, f"initContainers[{i}]")
        if model is not None:
            out.append(model)
    return out, errs


def _validate_init_containers(
    inits: Sequence[Container], containers: Sequence[Container], volumes: Mapping[str, Mapping[str, Any]], cfg: Config
) -> list[FieldError]:
    """``validateInitContainers``: off unless the flag is Enabled; then each is validated and, as in
    Knative, reported under ``containers[i]``."""
    if not inits:
        return []
    if not cfg.features.enabled(fieldmask.POD_SPEC_FEATURES["initContainers"]):
        return [FieldError(f"pod spec support for init-containers is off, but found {len(inits)} init containers")]
    names_ = {c.name for c in containers}
    errs: list[FieldError] = []
    for i, c in enumerate(inits):
        if c.name in names_:
            errs.append(FieldError(f'duplicate container name "{c.name}"', (f"containers[{i}].name",)))
        errs += via(_validate_container(c, volumes, None, "init", cfg), f"containers[{i}]")
    return errs


def validate_pod_spec(spec: RevisionSpec, cfg: Config | None = None) -> list[FieldError]:
    """``serving.ValidatePodSpec`` (relative to the spec), with ``PodSpecMask`` opened by the
    config-features flags (:mod:`zeroserve.api.fieldmask`)."""
    cfg = cfg or Config()
    features = cfg.features
    extras = spec.model_extra or {}
    sc = extras.get("securityContext")
    keep = fieldmask.pod_spec_fields(features, extras)
    errs = _disallow_extras(spec, [*keep, *(("securityContext",) if not isinstance(sc, Mapping) else ())])
    pod_sc = fieldmask.pod_security_context_fields(features, sc) if isinstance(sc, Mapping) else ()
    errs += via(_validate_security_context(sc, pod_sc, features, _POD_SC), "securityContext")
    inits, ierrs = _init_containers(extras.get("initContainers"))
    errs += ierrs
    mounted = {str(vm.get("name")) for c in [*inits, *spec.containers] for vm in c.volume_mounts}
    vols, verrs = volumes_.validate_volumes(spec.volumes, mounted, features)
    errs += via(verrs, "volumes")
    errs += _validate_init_containers(inits, spec.containers, vols, cfg)
    port, perrs = _validate_containers_ports(spec.containers)
    errs += perrs
    if not spec.containers:
        errs.append(err_missing("containers"))
    elif len(spec.containers) == 1:
        errs += via(_validate_container(spec.containers[0], vols, port, "user", cfg), "containers[0]")
    elif not features.enabled(fieldmask.MULTI_CONTAINER):
        errs.append(FieldError(f"multi-container is off, but found {len(spec.containers)} containers"))
    else:
        seen: set[str | None] = set()
        for i, c in enumerate(spec.containers):
            if c.name in seen:
                errs.append(FieldError(f'duplicate container name "{c.name}"', (f"containers[{i}].name",)))
            seen.add(c.name)
            role: Role = "user" if c.ports else "sidecar"
            errs += via(_validate_container(c, vols, port, role, cfg), f"containers[{i}]")
    if spec.service_account_name:
        for msg in names.is_dns1123_subdomain(spec.service_account_name):
            errs.append(err_invalid_value(spec.service_account_name, "serviceAccountName", msg))
    return errs


def validate_revision_spec(spec: RevisionSpec, cfg: Config) -> list[FieldError]:
    """``RevisionSpec.Validate`` (relative to the spec). Only ``timeoutSeconds`` is range-checked:
    Knative accepts any responseStartTimeoutSeconds and idleTimeoutSeconds."""
    errs = validate_pod_spec(spec, cfg)
    d = cfg.defaults
    t = spec.timeout_seconds
    if t is not None and t != 0 and not 0 <= t <= d.max_revision_timeout_seconds:
        errs.append(err_out_of_bounds(t, 0, d.max_revision_timeout_seconds, "timeoutSeconds"))
    cc = spec.container_concurrency
    lo = 0 if d.allow_container_concurrency_zero else 1
    if cc is not None and not lo <= cc <= d.container_concurrency_max_limit:
        errs.append(err_out_of_bounds(cc, lo, d.container_concurrency_max_limit, "containerConcurrency"))
    return errs


def _validate_revision_name(tmpl: RevisionTemplateSpec, parent: ObjectMeta) -> list[FieldError]:
    """``validateRevisionName``: BYO names are DNS-1035 and start with ``<parent>-``."""
    meta = tmpl.metadata
    if meta.generate_name and (msgs := names.name_is_dns1035_label(meta.generate_name, True)):
        return [err_invalid_value(f"not a DNS 1035 label prefix: {names.go_list(msgs)}", "metadata.generateName")]
    if not meta.name:
        return []
    if msgs := names.name_is_dns1035_label(meta.name, False):
        return [err_invalid_value(f"not a DNS 1035 label: {names.go_list(msgs)}", "metadata.name")]
    if not parent.name and parent.generate_name:
        return [err_disallowed("metadata.name")]
    prefix = f"{parent.name or ''}-"
    if not meta.name.startswith(prefix):
        return [err_invalid_value(f'"{meta.name}" must have prefix "{prefix}"', "metadata.name")]
    return []


def validate_template(tmpl: RevisionTemplateSpec, parent: ObjectMeta, cfg: Config) -> list[FieldError]:
    """``RevisionTemplateSpec.Validate`` (relative to the template)."""
    a = tmpl.metadata.annotations
    errs = via(validate_revision_spec(tmpl.spec, cfg), "spec")
    errs += via(ann.validate_autoscaling(a, cfg.autoscaler), "metadata.annotations")
    errs += _validate_revision_name(tmpl, parent)
    errs += via(ann.validate_networking(a), "metadata.annotations")
    errs += via(ann.validate_queue_sidecar(a), "metadata.annotations")
    errs += via(ann.validate_progress_deadline(a), "metadata.annotations")
    return errs


def verify_name_change(new: RevisionTemplateSpec, old: RevisionTemplateSpec) -> list[FieldError]:
    """``VerifyNameChange`` (relative to the template): a BYO name must change with the template."""
    name = new.metadata.name
    if not name or name != old.metadata.name or new == old:
        return []
    detail = short_diff(
        old.model_dump(by_alias=True, exclude_none=True), new.model_dump(by_alias=True, exclude_none=True)
    )
    return [FieldError("Saw the following changes without a name change (-old +new)", ("metadata.name",), detail)]


def short_diff(old: Any, new: Any, path: str = "") -> str:
    """A compact ``-old +new`` listing of the leaves that differ (the role of kmp.ShortDiff)."""
    if isinstance(old, dict) and isinstance(new, dict):
        return "".join(short_diff(old.get(k), new.get(k), join(path, str(k))) for k in sorted({*old, *new}))
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return "".join(short_diff(o, n, f"{path}[{i}]") for i, (o, n) in enumerate(zip(old, new, strict=True)))
    if old == new:
        return ""
    lines = f"{{{path or '.'}}}:\n"
    if old is not None:
        lines += f"\t-: {old!r}\n"
    if new is not None:
        lines += f"\t+: {new!r}\n"
    return lines


# ----------------------------------------------------------------------------- traffic


def _validate_target(tt: TrafficTarget, in_service: bool) -> list[FieldError]:
    """``TrafficTarget.Validate`` within a spec (relative to the target)."""
    errs: list[FieldError] = []
    rev, conf = tt.revision_name or "", tt.configuration_name or ""
    if tt.latest_revision is not None and bool(rev) == tt.latest_revision:
        lr = "true" if tt.latest_revision else "false"
        errs.append(FieldError(f'may not set revisionName "{rev}" when latestRevision is {lr}', ("latestRevision",)))
    if in_service and conf:
        errs.append(err_disallowed("configurationName"))
    elif rev and conf:
        errs.append(FieldError(MSG_BOTH, ("configurationName", "revisionName")))
    elif rev or conf:
        field, value = ("revisionName", rev) if rev else ("configurationName", conf)
        if msgs := names.is_qualified_name(value):
            errs.append(FieldError(f'invalid key name "{value}"', (field,), ", ".join(msgs)))
    elif not in_service:
        errs.append(FieldError(MSG_NEITHER, ("configurationName", "revisionName")))
    if tt.percent is not None and not 0 <= tt.percent <= 100:
        errs.append(err_out_of_bounds(tt.percent, 0, 100, "percent"))
    if tt.url:
        errs.append(err_disallowed("url"))
    return errs


def validate_traffic(traffic: Sequence[TrafficTarget], in_service: bool) -> list[FieldError]:
    """``validateTrafficList`` (relative to ``traffic``)."""
    errs: list[FieldError] = []
    seen: dict[str, int] = {}
    total = 0
    for i, tt in enumerate(traffic):
        errs += via(_validate_target(tt, in_service), f"[{i}]")
        total += tt.percent or 0
        if not tt.tag:
            continue
        if msgs := names.is_dns1035_label(tt.tag):
            errs.append(err_invalid_value(f"not a DNS 1035 label: {names.go_list(msgs)}", f"tag[{i}]"))
        if tt.tag in seen:
            errs.append(FieldError(f'Multiple definitions for "{tt.tag}"', (f"[{i}].tag", f"[{seen[tt.tag]}].tag")))
        else:
            seen[tt.tag] = i
    if total != 100:
        errs.append(FieldError(f"Traffic targets sum to {total}, want 100", ("",)))
    return errs


# ----------------------------------------------------------------------------- resources


def _parent_metadata(meta: ObjectMeta, rollout: bool) -> list[FieldError]:
    errs = validate_object_meta(meta)
    errs += via(ann.validate_no_autoscaling(meta.annotations), "annotations")
    if rollout:
        errs += via(ann.validate_rollout_duration(meta.annotations), "annotations")
    return errs


def validate_service(svc: Service, old: Service | None, cfg: Config) -> list[FieldError]:
    errs = via(_parent_metadata(svc.metadata, rollout=True), "metadata")
    errs += via(validate_template(svc.spec.template, svc.metadata, cfg), "spec.template")
    errs += via(validate_traffic(svc.spec.traffic, in_service=True), "spec.traffic")
    if old is not None:
        errs += via(validate_creator_modifier(old.spec, svc.spec, old.metadata, svc.metadata), "metadata.annotations")
        errs += via(verify_name_change(svc.spec.template, old.spec.template), "spec.template")
    return errs


def validate_configuration(c: Configuration, old: Configuration | None, cfg: Config) -> list[FieldError]:
    errs = _parent_metadata(c.metadata, rollout=False)
    errs += _verify_label_owner(c.metadata, labels.SERVICE, "Service")
    errs = via(errs, "metadata")
    errs += via(validate_template(c.spec.template, c.metadata, cfg), "spec.template")
    if old is not None:
        if not c.metadata.owner_references:
            errs += via(validate_creator_modifier(old.spec, c.spec, old.metadata, c.metadata), "metadata.annotations")
        errs += via(verify_name_change(c.spec.template, old.spec.template), "spec.template")
    return errs


def validate_route(r: Route, old: Route | None, cfg: Config) -> list[FieldError]:
    errs = _parent_metadata(r.metadata, rollout=True)
    errs += _verify_label_owner(r.metadata, labels.SERVICE, "Service")
    errs = via(errs, "metadata")
    errs += via(validate_traffic(r.spec.traffic, in_service=False), "spec.traffic")
    if old is not None and not r.metadata.owner_references:
        errs += via(validate_creator_modifier(old.spec, r.spec, old.metadata, r.metadata), "metadata.annotations")
    return errs


def validate_revision(rev: Revision, old: Revision | None, cfg: Config) -> list[FieldError]:
    meta = rev.metadata
    errs = validate_object_meta(meta)
    errs += via(ann.validate_autoscaling(meta.annotations, cfg.autoscaler), "annotations")
    errs += _verify_label_owner(meta, labels.CONFIGURATION, "Configuration")
    errs = via(errs, "metadata")
    if old is None:
        return errs + via(validate_revision_spec(rev.spec, cfg), "spec")
    if old.spec != rev.spec:
        detail = short_diff(
            old.spec.model_dump(by_alias=True, exclude_none=True), rev.spec.model_dump(by_alias=True, exclude_none=True)
        )
        return [FieldError("Immutable fields changed (-old +new)", ("spec",), detail)]
    return errs
