"""``config.yaml`` -> :class:`Config`, with Knative's ConfigMap keys and validation messages.

The file's top-level keys are ConfigMap names; each holds that ConfigMap's ``data`` as Knative
spells it (string values such as ``"60s"``, ``"70"``, ``"true"``, ``"disabled"``)::

    config-autoscaler:
      stable-window: 60s
      container-concurrency-target-percentage: "70"
    config-gc:
      max-non-active-revisions: disabled

Sources: ``pkg/autoscaler/config/config.go``, ``pkg/apis/config/defaults.go``, ``pkg/gc/config.go``,
``pkg/deployment/config.go``, ``knative.dev/networking/pkg/config/config.go``.

Keys and sections zeroserve does not read are ignored, as Knative ignores them (``cm.Parse`` reads
only the keys it knows); instead of Knative's silence each one is a warning (:func:`parse_config`
collects them, :func:`load_config_file` logs them once per content of the file), so that a typo
is still noticed.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import yaml

from zeroserve.config import (
    AutoscalerConfig,
    Config,
    DefaultsConfig,
    DeploymentConfig,
    DomainConfig,
    EventingConfig,
    FeaturesConfig,
    Flag,
    GCConfig,
    MetricsExportConfig,
    NetworkConfig,
    ObservabilityConfig,
    PingDefaultsConfig,
    TracingExportConfig,
    quantity,
    templates,
)
from zeroserve.config.channels import ch_defaults_to_data, parse_ch_defaults
from zeroserve.config.duration import SECOND, format_duration, parse_duration
from zeroserve.config.eventing import br_defaults_to_data, parse_br_defaults
from zeroserve.config.gotemplate import Template, TemplateError
from zeroserve.errors import ConfigError

log = logging.getLogger("zeroserve.config")

T = TypeVar("T")
Data = dict[str, str]

INT32_MAX = 2**31 - 1
TARGET_MIN = 0.01
WINDOW_MIN = 6 * SECOND
WINDOW_MAX = 3600 * SECOND
KPA = "kpa.autoscaling.knative.dev"


# ----------------------------------------------------------------------------- value parsers


def _as_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return yaml.safe_dump(value, default_flow_style=False)
    return str(value)


def _bool(key: str, raw: str) -> bool:
    """Go ``strconv.ParseBool``."""
    if raw in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if raw in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise ConfigError(f'failed to parse "{key}": strconv.ParseBool: parsing "{raw}": invalid syntax')


def _int(key: str, raw: str, bits: int = 64) -> int:
    if re.fullmatch(r"[+-]?\d+", raw) is None:
        raise ConfigError(f'failed to parse "{key}": strconv.ParseInt: parsing "{raw}": invalid syntax')
    value = int(raw)
    if not -(2 ** (bits - 1)) <= value < 2 ** (bits - 1):
        raise ConfigError(f'failed to parse "{key}": strconv.ParseInt: parsing "{raw}": value out of range')
    return value


def _float(key: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f'failed to parse "{key}": strconv.ParseFloat: parsing "{raw}": invalid syntax') from None
    if math.isnan(value) and raw.lower() != "nan":
        raise ConfigError(f'failed to parse "{key}": strconv.ParseFloat: parsing "{raw}": invalid syntax')
    return value


def _duration(key: str, raw: str) -> int:
    try:
        return parse_duration(raw)
    except ValueError as e:
        raise ConfigError(f'failed to parse "{key}": {e}') from None


def _go(value: float) -> str:
    """Go's ``%v`` for a float64: ``1``, ``0.5``, ``1000``."""
    value = round(value, 9)
    return str(int(value)) if value == int(value) and abs(value) < 1e21 else repr(value)


class _Reader:
    """Reads one ConfigMap's data, remembering which keys were used (to warn about the others)."""

    def __init__(self, section: str, data: Data, warnings: list[str] | None = None) -> None:
        self.section = section
        self.data = data
        self.known: set[str] = {"_example"}
        self.warnings = warnings

    def get(self, key: str, parse: Callable[[str, str], T], default: T) -> T:
        self.known.add(key)
        return parse(key, self.data[key]) if key in self.data else default

    def check_unknown(self) -> None:
        """Keys nobody read: ignored as Knative ignores them, with a warning."""
        for key in sorted(set(self.data) - self.known):
            if self.warnings is not None:
                self.warnings.append(f"{self.section}: key {key!r} is not used by zeroserve; ignored")


# ----------------------------------------------------------------------------- sections


def parse_autoscaler(data: Data, warnings: list[str] | None = None) -> AutoscalerConfig:
    """config-autoscaler (``NewConfigFromMap`` + ``validate``)."""
    r = _Reader("config-autoscaler", data, warnings)
    d = AutoscalerConfig()
    try:
        fraction = r.get("container-concurrency-target-percentage", _float, d.container_concurrency_target_fraction)
        durations = {
            k: r.get(k, _duration, int(default * SECOND))
            for k, default in (
                ("stable-window", d.stable_window),
                ("scale-down-delay", d.scale_down_delay),
                ("scale-to-zero-grace-period", d.scale_to_zero_grace_period),
                ("scale-to-zero-pod-retention-period", d.scale_to_zero_pod_retention_period),
            )
        }
        ints = {
            k: r.get(k, lambda key, raw: _int(key, raw, 32), default)
            for k, default in (
                ("initial-scale", d.initial_scale),
                ("min-scale", d.min_scale),
                ("max-scale", d.max_scale),
                ("max-scale-limit", d.max_scale_limit),
            )
        }
        c = replace(
            d,
            pod_autoscaler_class=r.get("pod-autoscaler-class", lambda _k, v: v, d.pod_autoscaler_class),
            enable_scale_to_zero=r.get("enable-scale-to-zero", _bool, d.enable_scale_to_zero),
            allow_zero_initial_scale=r.get("allow-zero-initial-scale", _bool, d.allow_zero_initial_scale),
            max_scale_up_rate=r.get("max-scale-up-rate", _float, d.max_scale_up_rate),
            max_scale_down_rate=r.get("max-scale-down-rate", _float, d.max_scale_down_rate),
            container_concurrency_target_fraction=fraction / 100.0 if fraction > 1.0 else fraction,
            container_concurrency_target_default=r.get(
                "container-concurrency-target-default", _float, d.container_concurrency_target_default
            ),
            requests_per_second_target_default=r.get(
                "requests-per-second-target-default", _float, d.requests_per_second_target_default
            ),
            target_burst_capacity=r.get("target-burst-capacity", _float, d.target_burst_capacity),
            panic_window_percentage=r.get("panic-window-percentage", _float, d.panic_window_percentage),
            activator_capacity=r.get("activator-capacity", _float, d.activator_capacity),
            panic_threshold_percentage=r.get("panic-threshold-percentage", _float, d.panic_threshold_percentage),
            stable_window=durations["stable-window"] / SECOND,
            scale_down_delay=durations["scale-down-delay"] / SECOND,
            scale_to_zero_grace_period=durations["scale-to-zero-grace-period"] / SECOND,
            scale_to_zero_pod_retention_period=durations["scale-to-zero-pod-retention-period"] / SECOND,
            initial_scale=ints["initial-scale"],
            min_scale=ints["min-scale"],
            max_scale=ints["max-scale"],
            max_scale_limit=ints["max-scale-limit"],
        )
    except ConfigError as e:
        raise ConfigError(f"failed to parse data: {e}") from None
    r.check_unknown()
    _validate_autoscaler(c, durations)
    return c


def _validate_autoscaler(c: AutoscalerConfig, ns: Mapping[str, int]) -> None:
    grace, delay = ns["scale-to-zero-grace-period"], ns["scale-down-delay"]
    retention, window = ns["scale-to-zero-pod-retention-period"], ns["stable-window"]
    fmt = format_duration
    checks: list[tuple[bool, str]] = [
        (grace <= 0, f"scale-to-zero-grace-period must be positive, was: {fmt(grace)}"),
        (delay < 0, f"scale-down-delay cannot be negative, was: {fmt(delay)}"),
        (delay % SECOND != 0, f"scale-down-delay = {fmt(delay)}, must be specified with at most second precision"),
        (retention < 0, f"scale-to-zero-pod-retention-period cannot be negative, was: {fmt(retention)}"),
        (
            c.target_burst_capacity < 0 and c.target_burst_capacity != -1,
            "target-burst-capacity must be either non-negative or -1 (for unlimited), "
            f"was: {c.target_burst_capacity:f}",
        ),
        (
            not 0 < c.container_concurrency_target_fraction <= 1,
            f"container-concurrency-target-percentage = {c.container_concurrency_target_fraction:f} "
            "is outside of valid range of (0, 100]",
        ),
        (
            c.container_concurrency_target_fraction * c.container_concurrency_target_default < TARGET_MIN,
            "container-concurrency-target-percentage and container-concurrency-target-default yield target "
            f"concurrency of {_go(c.container_concurrency_target_fraction * c.container_concurrency_target_default)}"
            f", can't be less than {TARGET_MIN}",
        ),
        (
            c.requests_per_second_target_default < TARGET_MIN,
            f"requests-per-second-target-default must be at least {TARGET_MIN}, "
            f"was: {_go(c.requests_per_second_target_default)}",
        ),
        (c.activator_capacity < 1, f"activator-capacity = {_go(c.activator_capacity)}, must be at least 1"),
        (c.max_scale_up_rate <= 1, f"max-scale-up-rate = {_go(c.max_scale_up_rate)}, must be greater than 1.0"),
        (c.max_scale_down_rate <= 1, f"max-scale-down-rate = {_go(c.max_scale_down_rate)}, must be greater than 1.0"),
        (
            not WINDOW_MIN <= window <= WINDOW_MAX,
            f"stable-window = {fmt(window)}, must be in [{fmt(WINDOW_MIN)}; {fmt(WINDOW_MAX)}] range",
        ),
        (window % SECOND != 0, f"stable-window = {fmt(window)}, must be specified with at most second precision"),
        (
            not 1 <= c.panic_window_percentage <= 100,
            f"panic-window-percentage = {_go(c.panic_window_percentage)}, must be in [1, 100] interval",
        ),
        (
            c.initial_scale < 0 or (c.initial_scale == 0 and not c.allow_zero_initial_scale),
            f"initial-scale = {c.initial_scale}, must be at least 0 (or at least 1 when "
            "allow-zero-initial-scale is false)",
        ),
        (c.min_scale < 0, f"min-scale = {c.min_scale}, must be at least 0"),
    ]
    min_max = 1 if c.max_scale_limit > 0 else 0
    checks += [
        (
            c.max_scale < min_max or (c.max_scale_limit > 0 and c.max_scale > c.max_scale_limit),
            f"max-scale = {c.max_scale}, must be in [{min_max}, max-scale-limit({c.max_scale_limit})] range",
        ),
        (c.max_scale_limit < 0, f"max-scale-limit = {c.max_scale_limit}, must be at least 0"),
        (
            c.min_scale > c.max_scale > 0,
            f"min-scale ({c.min_scale}) must be less than max-scale ({c.max_scale})",
        ),
    ]
    _first_failure(checks)


def _first_failure(checks: list[tuple[bool, str]]) -> None:
    """Knative's validators return the first failing check."""
    for failed, message in checks:
        if failed:
            raise ConfigError(message)


def parse_defaults(data: Data, warnings: list[str] | None = None) -> DefaultsConfig:
    """config-defaults (``NewDefaultsConfigFromMap``, in its order: templates parse, values parse,
    ranges, then the templates execute over an empty ObjectMeta)."""
    r = _Reader("config-defaults", data, warnings)
    d = DefaultsConfig()
    names = {
        key: r.get(key, _template, default)
        for key, default in (
            ("init-container-name-template", d.init_container_name_template),
            ("container-name-template", d.container_name_template),
        )
    }
    timeout = r.get("revision-timeout-seconds", _int, d.revision_timeout_seconds)
    c = replace(
        d,
        init_container_name_template=names["init-container-name-template"],
        container_name_template=names["container-name-template"],
        allow_container_concurrency_zero=r.get(
            "allow-container-concurrency-zero", _bool, d.allow_container_concurrency_zero
        ),
        enable_service_links=r.get("enable-service-links", _tri_state, d.enable_service_links),
        revision_timeout_seconds=timeout,
        max_revision_timeout_seconds=r.get("max-revision-timeout-seconds", _int, d.max_revision_timeout_seconds),
        revision_idle_timeout_seconds=r.get("revision-idle-timeout-seconds", _int, d.revision_idle_timeout_seconds),
        container_concurrency=r.get("container-concurrency", _int, d.container_concurrency),
        container_concurrency_max_limit=r.get(
            "container-concurrency-max-limit", _int, d.container_concurrency_max_limit
        ),
        revision_cpu_request=r.get("revision-cpu-request", _quantity, None),
        revision_memory_request=r.get("revision-memory-request", _quantity, None),
        revision_ephemeral_storage_request=r.get("revision-ephemeral-storage-request", _quantity, None),
        revision_cpu_limit=r.get("revision-cpu-limit", _quantity, None),
        revision_memory_limit=r.get("revision-memory-limit", _quantity, None),
        revision_ephemeral_storage_limit=r.get("revision-ephemeral-storage-limit", _quantity, None),
        # Knative: the response-start default follows the revision timeout unless set.
        revision_response_start_timeout_seconds=r.get("revision-response-start-timeout-seconds", _int, timeout),
    )
    r.check_unknown()
    _first_failure(
        [
            (
                c.revision_timeout_seconds > c.max_revision_timeout_seconds,
                f"revision-timeout-seconds ({c.revision_timeout_seconds}) cannot be greater than "
                f"max-revision-timeout-seconds ({c.max_revision_timeout_seconds})",
            ),
            (
                c.revision_timeout_seconds < c.revision_response_start_timeout_seconds,
                f"revision-response-start-timeout-seconds ({c.revision_response_start_timeout_seconds}) cannot be "
                f"greater than revision-timeout-seconds ({c.revision_timeout_seconds})",
            ),
            (
                c.revision_timeout_seconds < c.revision_idle_timeout_seconds,
                f"revision-idle-timeout-seconds ({c.revision_idle_timeout_seconds}) cannot be greater than "
                f"revision-timeout-seconds ({c.revision_timeout_seconds})",
            ),
            (
                c.container_concurrency_max_limit < 1,
                f"expected 1 <= {c.container_concurrency_max_limit} <= {INT32_MAX}: container-concurrency-max-limit",
            ),
            (
                not 0 <= c.container_concurrency <= c.container_concurrency_max_limit,
                f"expected 0 <= {c.container_concurrency} <= {c.container_concurrency_max_limit}: "
                "container-concurrency",
            ),
        ]
    )
    templates.check_container_template(c.container_name_template)
    templates.check_container_template(c.init_container_name_template)
    return c


def _tri_state(_key: str, raw: str) -> bool | None:
    """``asTriState``: ``true`` / ``false`` in any case; anything else (``default``) leaves it unset."""
    lowered = raw.lower()
    return True if lowered == "true" else False if lowered == "false" else None


def _template(_key: str, raw: str) -> str:
    """``asTemplate``: the value must parse as a Go template (Go's message, no key prefix)."""
    templates.parse(templates.CONTAINER_TEMPLATE, raw)
    return raw


def _quantity(key: str, raw: str) -> str:
    """``cm.AsQuantity``: ``resource.ParseQuantity``; kept as written."""
    try:
        quantity.parse(raw)
    except quantity.QuantityError as e:
        raise ConfigError(f'failed to parse "{key}": {e}') from None
    return raw


def parse_gc(data: Data, warnings: list[str] | None = None) -> GCConfig:
    """config-gc (``pkg/gc/config.go``): durations and max accept ``disabled``."""
    r = _Reader("config-gc", data, warnings)
    d = GCConfig()

    def disabled_or_duration(key: str, raw: str) -> float | None:
        if raw.lower() == "disabled":
            return None
        try:
            ns = parse_duration(raw)
        except ValueError as e:
            raise ConfigError(f"failed to parse {key}: {e}") from None
        if ns < 0:
            raise ConfigError(f"failed to parse {key}: must be non-negative")
        return ns / SECOND

    def disabled_or_int(key: str, raw: str) -> int | None:
        if raw.lower() == "disabled":
            return None
        if not raw.isdigit():
            raise ConfigError(f'failed to parse {key}: strconv.ParseUint: parsing "{raw}": invalid syntax')
        return int(raw)

    c = replace(
        d,
        retain_since_create_time=r.get("retain-since-create-time", disabled_or_duration, d.retain_since_create_time),
        retain_since_last_active_time=r.get(
            "retain-since-last-active-time", disabled_or_duration, d.retain_since_last_active_time
        ),
        min_non_active_revisions=r.get("min-non-active-revisions", _int, d.min_non_active_revisions),
        max_non_active_revisions=r.get("max-non-active-revisions", disabled_or_int, d.max_non_active_revisions),
    )
    r.check_unknown()
    if c.min_non_active_revisions < 0:
        raise ConfigError(f"min-non-active-revisions must be non-negative, was: {c.min_non_active_revisions}")
    if c.max_non_active_revisions is not None and c.min_non_active_revisions > c.max_non_active_revisions:
        raise ConfigError(
            f"min-non-active-revisions({c.min_non_active_revisions}) must be <= "
            f"max-non-active-revisions({c.max_non_active_revisions})"
        )
    return c


def parse_deployment(data: Data, warnings: list[str] | None = None) -> DeploymentConfig:
    """config-deployment: ``progress-deadline``, ``digest-resolution-timeout`` and
    ``registries-skipping-tag-resolving`` (comma-separated, each trimmed: ``AsStringSet``), each
    also under its legacy camelCase key (the new key wins)."""
    merged = {new: data[old] for old, new in _DEPLOYMENT_LEGACY_KEYS.items() if old in data}
    merged.update({k: v for k, v in data.items() if k not in _DEPLOYMENT_LEGACY_KEYS})
    r = _Reader("config-deployment", merged, warnings)
    d = DeploymentConfig()
    deadline = r.get("progress-deadline", _duration, int(d.progress_deadline * SECOND))
    digest = r.get("digest-resolution-timeout", _duration, int(d.digest_resolution_timeout * SECOND))
    skipping = r.get("registries-skipping-tag-resolving", _string_set, d.registries_skipping_tag_resolving)
    r.check_unknown()
    _first_failure(
        [
            (deadline <= 0, f"progress-deadline cannot be a non-positive duration, was {format_duration(deadline)}"),
            (
                deadline % SECOND != 0,
                f"progress-deadline must be rounded to a whole second, was: {format_duration(deadline)}",
            ),
            (
                digest <= 0,
                f"digest-resolution-timeout cannot be a non-positive duration, was {format_duration(digest)}",
            ),
        ]
    )
    return DeploymentConfig(
        progress_deadline=deadline / SECOND,
        digest_resolution_timeout=digest / SECOND,
        registries_skipping_tag_resolving=skipping,
    )


_DEPLOYMENT_LEGACY_KEYS = {
    "progressDeadline": "progress-deadline",
    "digestResolutionTimeout": "digest-resolution-timeout",
    "registriesSkippingTagResolving": "registries-skipping-tag-resolving",
}


def _string_set(_key: str, raw: str) -> frozenset[str]:
    """knative.dev/pkg/configmap ``AsStringSet``: split at commas, each element trimmed."""
    return frozenset(part.strip() for part in raw.split(","))


def parse_domain(data: Mapping[str, Any], warnings: list[str] | None = None) -> DomainConfig:
    """config-domain (route/config/domain.go): ``{domain: ""}`` (default domain) or
    ``{domain: "selector:\n  app: x"}``; ``type`` (wildcard certificates) and other keys of a
    value are not used by zeroserve and ignored, as Knative's YAML decoding ignores unknown keys."""
    domains: dict[str, dict[str, str]] = {}
    for domain, raw in data.items():
        if domain == "_example":
            continue
        value = yaml.safe_load(raw) if isinstance(raw, str) else raw
        if value in (None, "", {}):
            domains[domain] = {}
            continue
        selector = value.get("selector", {}) if isinstance(value, dict) else None
        if not isinstance(selector, dict):
            raise ConfigError(f'config-domain: value for "{domain}" must be empty or a "selector:" mapping')
        for key in sorted(str(k) for k in value if k != "selector"):
            if warnings is not None:
                warnings.append(f"config-domain: {domain}: key {key!r} is not used by zeroserve; ignored")
        domains[domain] = {str(k): _as_str(v) for k, v in (selector or {}).items()}
    return DomainConfig(domains=domains)


_NETWORK_LEGACY_KEYS: dict[str, str] = {
    "domainTemplate": "domain-template",
    "tagTemplate": "tag-template",
    "rolloutDuration": "rollout-duration",
    "autocreateClusterDomainClaims": "autocreate-cluster-domain-claims",
    "defaultExternalScheme": "default-external-scheme",
}


def parse_network(data: Data, warnings: list[str] | None = None) -> NetworkConfig:
    """config-network (knative/networking ``NewConfigFromMap``): ``domain-template`` and
    ``tag-template`` parse and pass ``checkDomainTemplate`` / ``checkTagTemplate``;
    ``rollout-duration``, ``autocreate-cluster-domain-claims``, ``default-external-scheme``, each
    also under its legacy camelCase key (the new key wins); zeroserve's ``external-port``."""
    merged = {new: data[old] for old, new in _NETWORK_LEGACY_KEYS.items() if old in data}
    merged.update({k: v for k, v in data.items() if k not in _NETWORK_LEGACY_KEYS})
    r = _Reader("config-network", merged, warnings)
    d = NetworkConfig()
    ident: Callable[[str, str], str] = lambda _k, v: v  # noqa: E731
    c = NetworkConfig(
        domain_template=r.get("domain-template", ident, d.domain_template),
        tag_template=r.get("tag-template", ident, d.tag_template),
        default_external_scheme=r.get("default-external-scheme", ident, d.default_external_scheme),
        external_port=r.get("external-port", _int, d.external_port),
        rollout_duration=r.get("rollout-duration", _int, d.rollout_duration),
        autocreate_cluster_domain_claims=r.get(
            "autocreate-cluster-domain-claims", _bool, d.autocreate_cluster_domain_claims
        ),
    )
    r.check_unknown()
    if c.rollout_duration < 0:
        raise ConfigError(f"rollout-duration must be a positive integer, but was {c.rollout_duration}")
    templates.check_domain_template(c.domain_template)
    templates.check_tag_template(c.tag_template)
    if c.default_external_scheme not in ("http", "https"):
        raise ConfigError(f'default-external-scheme must be "http" or "https", was: "{c.default_external_scheme}"')
    if not 0 < c.external_port < 65536:
        raise ConfigError(f"external-port = {c.external_port}, must be in [1, 65535]")
    return c


_FLAGS: tuple[Flag, ...] = ("Enabled", "Allowed", "Disabled")


def parse_features(data: Data, warnings: list[str] | None = None) -> FeaturesConfig:
    """config-features: a value that is not Enabled/Allowed/Disabled (any case) keeps the default, as
    Knative's asFlag does; keys it does not know are kept too (a newer Knative's flag), with a warning."""
    flags = dict(FeaturesConfig().flags)
    for key, raw in data.items():
        if key == "_example":
            continue
        if key not in flags and warnings is not None:
            warnings.append(f"config-features: key {key!r} is not used by zeroserve; ignored")
        flag = next((f for f in _FLAGS if f.lower() == raw.strip().lower()), None)
        if flag is not None:
            flags[key] = flag
    return FeaturesConfig(flags)


# ----------------------------------------------------------------------------- whole file


def parse_eventing(data: Data, warnings: list[str] | None = None) -> EventingConfig:
    """config-zeroserve-eventing: the brokers' event log (``retention``, ``max-backlog``, ...)."""
    r = _Reader("config-zeroserve-eventing", data, warnings)
    d = EventingConfig()
    c = EventingConfig(
        retention=r.get("retention", _duration, int(d.retention * SECOND)) / SECOND,
        max_backlog=r.get("max-backlog", _int, d.max_backlog),
        max_pending=r.get("max-pending", _int, d.max_pending),
        retry_after=r.get("retry-after", _duration, int(d.retry_after * SECOND)) / SECOND,
        max_in_flight=r.get("trigger-max-in-flight", _int, d.max_in_flight),
    )
    r.check_unknown()
    for key, value in (("retention", c.retention), ("retry-after", c.retry_after)):
        if value < 0:
            raise ConfigError(f"{key} must be non-negative, was: {format_duration(int(value * SECOND))}")
    for key, count in (
        ("max-backlog", c.max_backlog),
        ("max-pending", c.max_pending),
        ("trigger-max-in-flight", c.max_in_flight),
    ):
        if count < 1:
            raise ConfigError(f"{key} must be at least 1, was: {count}")
    return c


def parse_ping_defaults(data: Data, warnings: list[str] | None = None) -> PingDefaultsConfig:
    """config-ping-defaults: ``data-max-size`` (the legacy ``dataMaxSize`` first, as Knative reads both)."""
    r = _Reader("config-ping-defaults", data, warnings)
    size = r.get("dataMaxSize", _int, PingDefaultsConfig().data_max_size)
    size = r.get("data-max-size", _int, size)
    r.check_unknown()
    return PingDefaultsConfig(data_max_size=max(size, -1))


_METRICS_PROTOCOLS = ("grpc", "http/protobuf", "prometheus", "none")
_TRACING_PROTOCOLS = ("grpc", "http/protobuf", "none", "stdout")


def _metrics_export(r: _Reader, prefix: str) -> MetricsExportConfig:
    """knative/pkg ``metrics.NewFromMapWithPrefix`` + ``Validate`` (its messages)."""
    protocol = r.get(f"{prefix}metrics-protocol", lambda _k, v: v, "none")
    endpoint = r.get(f"{prefix}metrics-endpoint", lambda _k, v: v, "")
    interval = r.get(f"{prefix}metrics-export-interval", _duration, 0)
    if protocol not in _METRICS_PROTOCOLS:
        raise ConfigError(f"unsupported protocol {protocol!r}".replace("'", '"'))
    if protocol in ("grpc", "http/protobuf") and not endpoint:
        raise ConfigError(f'endpoint should be set when protocol is "{protocol}"')
    if protocol == "none" and endpoint:
        raise ConfigError('endpoint should not be set when protocol is "none"')
    if interval < 0:
        raise ConfigError(f'export interval "{format_duration(interval)}" should be greater than zero')
    return MetricsExportConfig(protocol, endpoint, interval / SECOND)


def parse_observability(data: Data, warnings: list[str] | None = None) -> ObservabilityConfig:
    """config-observability (serving ``pkg/observability.NewFromMap``): metrics, ``request-`` metrics,
    tracing and the request-log keys, with knative/pkg's validation messages."""
    r = _Reader("config-observability", data, warnings)
    metrics = _metrics_export(r, "")
    request_metrics = _metrics_export(r, "request-")
    protocol = r.get("tracing-protocol", lambda _k, v: v, "none")
    endpoint = r.get("tracing-endpoint", lambda _k, v: v, "")
    rate = r.get("tracing-sampling-rate", _float, 0.0)
    if protocol not in _TRACING_PROTOCOLS:
        raise ConfigError(f'unsupported protocol "{protocol}"')
    if protocol in ("grpc", "http/protobuf") and not endpoint:
        raise ConfigError(f'endpoint should be set for protocol "{protocol}"')
    if protocol in ("none", "stdout") and endpoint:
        raise ConfigError("endpoint should not be set when protocol is 'none'")
    if not 0 <= rate <= 1:
        side = "greater or equal to zero" if rate < 0 else "less than or equal to one"
        raise ConfigError(f"sampling rate {rate:f} should be {side}")
    defaults = ObservabilityConfig()
    enable_log = r.get("logging.enable-request-log", _bool, False)
    template = r.get("logging.request-log-template", lambda _k, v: v, defaults.request_log_template)
    probe_log = r.get("logging.enable-probe-request-log", _bool, False)
    for key in ("logging.enable-var-log-collection", "logging.revision-url-template", "runtime-profiling"):
        r.known.add(key)  # Kubernetes-only (fluentd, a logging URL in status, pprof): accepted, no effect
    if enable_log and not template:
        raise ConfigError(
            '"logging.enable-request-log" was set to true, but no "logging.request-log-template" was specified'
        )
    if template:  # Knative's Validate parses it whether or not request logs are on
        try:
            Template.parse("requestLog", template)
        except TemplateError as e:
            raise ConfigError(f"logging.request-log-template: {e}") from None
    r.check_unknown()
    return ObservabilityConfig(
        metrics=metrics,
        request_metrics=request_metrics,
        tracing=TracingExportConfig(protocol, endpoint, rate),
        enable_request_log=enable_log,
        request_log_template=template,
        enable_probe_request_log=probe_log,
    )


_SECTIONS: dict[str, str] = {
    "config-autoscaler": "autoscaler",
    "config-defaults": "defaults",
    "config-domain": "domain",
    "config-network": "network",
    "config-gc": "gc",
    "config-deployment": "deployment",
    "config-features": "features",
    "config-zeroserve-eventing": "eventing",
    "config-br-defaults": "br_defaults",
    "default-ch-webhook": "ch_defaults",
    "config-ping-defaults": "ping_defaults",
    "config-observability": "observability",
}


def parse_config(data: Mapping[str, Any] | None, warnings: list[str] | None = None) -> Config:
    """A :class:`Config` from the loaded ``config.yaml`` (top-level keys are ConfigMap names).

    Sections and keys zeroserve does not read are ignored; each is described in ``warnings``."""
    if not data:
        return Config()
    if not isinstance(data, Mapping):
        raise ConfigError("config must be a mapping of ConfigMap names (config-autoscaler, ...)")
    for name in sorted(str(k) for k in set(data) - set(_SECTIONS)):
        if warnings is not None:
            warnings.append(f"{name}: section not used by zeroserve; ignored (it reads {', '.join(_SECTIONS)})")
    parsed: dict[str, Any] = {}
    for section, attr in _SECTIONS.items():
        raw = data.get(section)
        if raw is None:
            continue
        if not isinstance(raw, Mapping):
            raise ConfigError(f"{section}: must be a mapping of keys to values")
        if section == "config-domain":
            parsed[attr] = parse_domain(raw, warnings)
            continue
        strings = {str(k): _as_str(v) for k, v in raw.items()}
        try:
            parsed[attr] = _PARSERS[section](strings, warnings)
        except ConfigError as e:
            raise ConfigError(f"{section}: {e}") from None
    return Config(**parsed)


_PARSERS: dict[str, Callable[[Data, list[str] | None], Any]] = {
    "config-autoscaler": parse_autoscaler,
    "config-defaults": parse_defaults,
    "config-network": parse_network,
    "config-gc": parse_gc,
    "config-deployment": parse_deployment,
    "config-features": parse_features,
    "config-zeroserve-eventing": parse_eventing,
    "config-br-defaults": parse_br_defaults,
    "default-ch-webhook": parse_ch_defaults,
    "config-ping-defaults": parse_ping_defaults,
    "config-observability": parse_observability,
}


_warned: dict[Path, str] = {}
"""Per file, the digest of the content whose warnings were last logged."""


def load_config_file(path: str | Path) -> Config:
    """Parse ``path`` (YAML); a missing file means all defaults. The warnings about ignored
    sections and keys are logged once per content of the file, however often it is read."""
    p = Path(path)
    try:
        text = p.read_text()
    except FileNotFoundError:
        return Config()
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: invalid YAML: {e}") from None
    warnings: list[str] = []
    try:
        cfg = parse_config(data, warnings)
    except ConfigError as e:
        raise ConfigError(f"{p}: {e}") from None
    digest = hashlib.sha256(text.encode()).hexdigest()
    if _warned.get(p) != digest:
        _warned[p] = digest
        for warning in warnings:
            log.warning("config: %s: %s", p, warning)
    return cfg


# ----------------------------------------------------------------------------- effective values


def _dur(seconds: float | None) -> str:
    return "disabled" if seconds is None else format_duration(round(seconds * SECOND))


def config_to_data(cfg: Config) -> dict[str, dict[str, str]]:
    """The effective configuration as ConfigMap data (for ``zeroserve config show``)."""
    a, d, g, n = cfg.autoscaler, cfg.defaults, cfg.gc, cfg.network
    return {
        "config-autoscaler": {
            "container-concurrency-target-percentage": _go(a.container_concurrency_target_fraction * 100),
            "container-concurrency-target-default": _go(a.container_concurrency_target_default),
            "requests-per-second-target-default": _go(a.requests_per_second_target_default),
            "target-burst-capacity": _go(a.target_burst_capacity),
            "stable-window": _dur(a.stable_window),
            "panic-window-percentage": _go(a.panic_window_percentage),
            "panic-threshold-percentage": _go(a.panic_threshold_percentage),
            "max-scale-up-rate": _go(a.max_scale_up_rate),
            "max-scale-down-rate": _go(a.max_scale_down_rate),
            "enable-scale-to-zero": _as_str(a.enable_scale_to_zero),
            "scale-to-zero-grace-period": _dur(a.scale_to_zero_grace_period),
            "scale-to-zero-pod-retention-period": _dur(a.scale_to_zero_pod_retention_period),
            "scale-down-delay": _dur(a.scale_down_delay),
            "activator-capacity": _go(a.activator_capacity),
            "initial-scale": str(a.initial_scale),
            "allow-zero-initial-scale": _as_str(a.allow_zero_initial_scale),
            "min-scale": str(a.min_scale),
            "max-scale": str(a.max_scale),
            "max-scale-limit": str(a.max_scale_limit),
            "pod-autoscaler-class": a.pod_autoscaler_class,
        },
        "config-defaults": {
            "revision-timeout-seconds": str(d.revision_timeout_seconds),
            "max-revision-timeout-seconds": str(d.max_revision_timeout_seconds),
            "revision-response-start-timeout-seconds": str(d.revision_response_start_timeout_seconds),
            "revision-idle-timeout-seconds": str(d.revision_idle_timeout_seconds),
            "container-concurrency": str(d.container_concurrency),
            "container-concurrency-max-limit": str(d.container_concurrency_max_limit),
            "allow-container-concurrency-zero": _as_str(d.allow_container_concurrency_zero),
            "enable-service-links": "default" if d.enable_service_links is None else _as_str(d.enable_service_links),
            "container-name-template": d.container_name_template,
            "init-container-name-template": d.init_container_name_template,
            **{
                f"revision-{name}-{kind}": value
                for name, request, limit in d.resource_defaults()
                for kind, value in (("request", request), ("limit", limit))
                if value is not None
            },
        },
        "config-domain": {
            domain: (yaml.safe_dump({"selector": sel}, default_flow_style=False) if sel else "")
            for domain, sel in cfg.domain.domains.items()
        },
        "config-network": {
            "domain-template": n.domain_template,
            "tag-template": n.tag_template,
            "default-external-scheme": n.default_external_scheme,
            "external-port": str(n.external_port),
            "rollout-duration": str(n.rollout_duration),
            "autocreate-cluster-domain-claims": str(n.autocreate_cluster_domain_claims).lower(),
        },
        "config-gc": {
            "retain-since-create-time": _dur(g.retain_since_create_time),
            "retain-since-last-active-time": _dur(g.retain_since_last_active_time),
            "min-non-active-revisions": str(g.min_non_active_revisions),
            "max-non-active-revisions": (
                "disabled" if g.max_non_active_revisions is None else str(g.max_non_active_revisions)
            ),
        },
        "config-deployment": {
            "progress-deadline": _dur(cfg.deployment.progress_deadline),
            "digest-resolution-timeout": _dur(cfg.deployment.digest_resolution_timeout),
            "registries-skipping-tag-resolving": ",".join(sorted(cfg.deployment.registries_skipping_tag_resolving)),
        },
        "config-features": dict(sorted(cfg.features.flags.items())),
        "config-br-defaults": br_defaults_to_data(cfg.br_defaults),
        "default-ch-webhook": ch_defaults_to_data(cfg.ch_defaults),
        "config-ping-defaults": {"data-max-size": str(cfg.ping_defaults.data_max_size)},
        "config-observability": _observability_to_data(cfg.observability),
    }


def _observability_to_data(o: ObservabilityConfig) -> dict[str, str]:
    data: dict[str, str] = {}
    for prefix, m in (("", o.metrics), ("request-", o.request_metrics)):
        data[f"{prefix}metrics-protocol"] = m.protocol
        if m.endpoint:
            data[f"{prefix}metrics-endpoint"] = m.endpoint
        data[f"{prefix}metrics-export-interval"] = format_duration(round(m.export_interval * SECOND))
    data["tracing-protocol"] = o.tracing.protocol
    if o.tracing.endpoint:
        data["tracing-endpoint"] = o.tracing.endpoint
    data["tracing-sampling-rate"] = _go(o.tracing.sampling_rate)
    data["logging.enable-request-log"] = _as_str(o.enable_request_log)
    data["logging.request-log-template"] = o.request_log_template
    data["logging.enable-probe-request-log"] = _as_str(o.enable_probe_request_log)
    return data


__all__ = ["config_to_data", "load_config_file", "parse_config"]
