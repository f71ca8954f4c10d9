"""Knative's ConfigMaps as typed settings (config-autoscaler, config-defaults, config-domain,
config-network, config-gc, config-deployment, config-features) and zeroserve's config-zeroserve-eventing,
read from ``DATA/config.yaml``.

Pure: parsing and validation only. Every section has Knative's defaults and validation
messages; ``Config()`` is the all-defaults configuration.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

from zeroserve.config.channels import ChannelDefaultsConfig
from zeroserve.config.eventing import BrokerDefaultsConfig


@dataclass(frozen=True)
class AutoscalerConfig:
    """config-autoscaler (pkg/autoscaler/config/config.go). Durations in seconds."""

    container_concurrency_target_fraction: float = 0.7
    container_concurrency_target_default: float = 100.0
    requests_per_second_target_default: float = 200.0
    target_utilization: float = 0.7
    target_burst_capacity: float = 211.0
    stable_window: float = 60.0
    panic_window_percentage: float = 10.0
    panic_threshold_percentage: float = 200.0
    max_scale_up_rate: float = 1000.0
    max_scale_down_rate: float = 2.0
    enable_scale_to_zero: bool = True
    scale_to_zero_grace_period: float = 30.0
    scale_to_zero_pod_retention_period: float = 0.0
    scale_down_delay: float = 0.0
    activator_capacity: float = 100.0
    initial_scale: int = 1
    allow_zero_initial_scale: bool = False
    min_scale: int = 0
    max_scale: int = 0
    max_scale_limit: int = 0
    pod_autoscaler_class: str = "kpa.autoscaling.knative.dev"
    metric_aggregation_algorithm: str = "linear"


@dataclass(frozen=True)
class DefaultsConfig:
    """config-defaults (pkg/apis/config/defaults.go). Durations in seconds."""

    revision_timeout_seconds: int = 300
    max_revision_timeout_seconds: int = 600
    revision_response_start_timeout_seconds: int = 300
    """Knative defaults this to revision-timeout-seconds; applied only when below a revision's timeoutSeconds."""
    revision_idle_timeout_seconds: int = 0
    container_concurrency: int = 0
    container_concurrency_max_limit: int = 1000
    allow_container_concurrency_zero: bool = True
    enable_service_links: bool | None = False
    container_name_template: str = "user-container"
    init_container_name_template: str = "init-container"
    user_container_port: int = 8080
    revision_cpu_request: str | None = None
    """``revision-cpu-request`` and the five keys below: a Kubernetes quantity each container gets
    as its request / limit when it sets none (revision_defaults.go ``applyDefault``)."""
    revision_memory_request: str | None = None
    revision_ephemeral_storage_request: str | None = None
    revision_cpu_limit: str | None = None
    revision_memory_limit: str | None = None
    revision_ephemeral_storage_limit: str | None = None

    def resource_defaults(self) -> tuple[tuple[str, str | None, str | None], ...]:
        """``(resource, default request, default limit)`` for cpu, memory and ephemeral-storage."""
        return (
            ("cpu", self.revision_cpu_request, self.revision_cpu_limit),
            ("memory", self.revision_memory_request, self.revision_memory_limit),
            ("ephemeral-storage", self.revision_ephemeral_storage_request, self.revision_ephemeral_storage_limit),
        )


@dataclass(frozen=True)
class DomainConfig:
    """config-domain: domain -> label selector ({} = the default domain for everything)."""

    domains: dict[str, dict[str, str]] = field(default_factory=lambda: {"localhost": {}})


@dataclass(frozen=True)
class NetworkConfig:
    """config-network (knative.dev/networking/pkg/config)."""

    domain_template: str = "{{.Name}}.{{.Namespace}}.{{.Domain}}"
    tag_template: str = "{{.Tag}}-{{.Name}}"
    default_external_scheme: str = "http"
    external_port: int = 8080
    """Port of the gateway; shown in URLs unless 80 (zeroserve: URLs must open in a browser)."""
    rollout_duration: int = 0
    """``rollout-duration``: seconds over which a new latest revision takes its traffic (0: at once)."""
    autocreate_cluster_domain_claims: bool = False
    """``autocreate-cluster-domain-claims``: a DomainMapping claims its host when no claim exists."""


@dataclass(frozen=True)
class GCConfig:
    """config-gc (pkg/gc/config.go). Seconds; None = disabled."""

    retain_since_create_time: float | None = 48 * 3600.0
    retain_since_last_active_time: float | None = 15 * 3600.0
    min_non_active_revisions: int = 20
    max_non_active_revisions: int | None = 1000


@dataclass(frozen=True)
class DeploymentConfig:
    """config-deployment (pkg/deployment/config.go): progress deadline and digest resolution
    timeout (seconds); the registries whose tags are not resolved to digests."""

    progress_deadline: float = 600.0
    digest_resolution_timeout: float = 10.0
    registries_skipping_tag_resolving: frozenset[str] = frozenset({"kind.local", "ko.local", "dev.local"})


Flag = Literal["Enabled", "Disabled", "Allowed"]

FEATURE_DEFAULTS: Final[dict[str, Flag]] = {
    # pkg/apis/config/features.go defaultFeaturesConfig (key -> default)
    "multi-container": "Enabled",
    "multi-container-probing": "Disabled",
    "kubernetes.podspec-affinity": "Disabled",
    "kubernetes.podspec-topologyspreadconstraints": "Disabled",
    "kubernetes.podspec-dryrun": "Allowed",
    "kubernetes.podspec-hostaliases": "Disabled",
    "kubernetes.podspec-fieldref": "Disabled",
    "kubernetes.podspec-nodeselector": "Disabled",
    "kubernetes.podspec-runtimeclassname": "Disabled",
    "kubernetes.podspec-securitycontext": "Disabled",
    "kubernetes.podspec-shareprocessnamespace": "Disabled",
    "kubernetes.podspec-hostipc": "Disabled",
    "kubernetes.podspec-hostpid": "Disabled",
    "kubernetes.podspec-hostnetwork": "Disabled",
    "kubernetes.podspec-priorityclassname": "Disabled",
    "kubernetes.podspec-schedulername": "Disabled",
    "kubernetes.containerspec-addcapabilities": "Disabled",
    "kubernetes.podspec-tolerations": "Disabled",
    "kubernetes.podspec-volumes-emptydir": "Enabled",
    "kubernetes.podspec-volumes-hostpath": "Disabled",
    "kubernetes.podspec-volumes-csi": "Disabled",
    "kubernetes.podspec-volumes-ephemeral": "Disabled",
    "kubernetes.podspec-volumes-image": "Disabled",
    "kubernetes.podspec-volumes-mount-propagation": "Disabled",
    "kubernetes.podspec-persistent-volume-claim": "Disabled",
    "kubernetes.podspec-persistent-volume-write": "Disabled",
    "queueproxy.mount-podinfo": "Disabled",
    "queueproxy.resource-defaults": "Disabled",
    "kubernetes.podspec-init-containers": "Disabled",
    "kubernetes.podspec-dnspolicy": "Disabled",
    "kubernetes.podspec-dnsconfig": "Disabled",
    "secure-pod-defaults": "Disabled",
    "tag-header-based-routing": "Disabled",
    "autodetect-http2": "Disabled",
    # Eventing's config-features (knative/eventing pkg/apis/feature/flag_names.go), same section:
    "delivery-timeout": "Enabled",
    "delivery-retryafter": "Disabled",
    "kreference-group": "Disabled",
    "cross-namespace-event-links": "Disabled",
}


@dataclass(frozen=True)
class FeaturesConfig:
    """config-features (pkg/apis/config/features.go): each key is Enabled, Disabled or Allowed."""

    flags: dict[str, Flag] = field(default_factory=lambda: dict(FEATURE_DEFAULTS))

    def flag(self, key: str) -> Flag:
        return self.flags.get(key, FEATURE_DEFAULTS.get(key, "Disabled"))

    def enabled(self, key: str) -> bool:
        return self.flag(key) == "Enabled"


@dataclass(frozen=True)
class EventingConfig:
    """config-zeroserve-eventing (zeroserve's own; Knative has no such ConfigMap): the brokers'
    durable event log (zeroserve/eventing/log.py). Durations in seconds."""

    retention: float = 24 * 3600.0
    """``retention``: events older than this are deleted once every Trigger of their Broker is done
    with them (never before); a Trigger can be replayed from within it."""
    max_backlog: int = 100_000
    """``max-backlog``: events of a Broker its slowest Trigger has not finished; at that the ingress
    answers 429 with Retry-After."""
    max_pending: int = 10_000
    """``max-pending``: events waiting for their commit (in memory) before the ingress answers 429."""
    retry_after: float = 1.0
    """``retry-after``: the Retry-After of those answers."""
    max_in_flight: int = 100
    """``trigger-max-in-flight``: deliveries one Trigger keeps going at once (1 when ordered)."""


DEFAULT_REQUEST_LOG_TEMPLATE: Final = (
    '{"httpRequest": {"requestMethod": "{{.Request.Method}}", "requestUrl": "{{js .Request.RequestURI}}", '
    '"requestSize": "{{.Request.ContentLength}}", "status": {{.Response.Code}}, "responseSize": "{{.Response.Size}}", '
    '"userAgent": "{{js .Request.UserAgent}}", "remoteIp": "{{js .Request.RemoteAddr}}", '
    '"serverIp": "{{.Revision.PodIP}}", "referer": "{{js .Request.Referer}}", "latency": "{{.Response.Latency}}s", '
    '"protocol": "{{.Request.Proto}}"}, "traceId": "{{.TraceID}}"}'
)
"""Knative's ``DefaultRequestLogTemplate`` (serving ``pkg/observability/config.go``)."""


@dataclass(frozen=True)
class MetricsExportConfig:
    """One exporter of config-observability (knative/pkg ``observability/metrics.Config``):
    ``metrics-protocol`` (``none`` by default, ``prometheus``, ``http/protobuf``, ``grpc``),
    ``metrics-endpoint`` (required for the OTLP ones; a URL) and ``metrics-export-interval``
    (seconds; 0: OTel's default, 60 s)."""

    protocol: str = "none"
    endpoint: str = ""
    export_interval: float = 0.0


@dataclass(frozen=True)
class TracingExportConfig:
    """config-observability's ``tracing-protocol`` (``none``, ``stdout``, ``http/protobuf``, ``grpc``),
    ``tracing-endpoint`` and ``tracing-sampling-rate`` (0..1), as knative/pkg ``observability/tracing``."""

    protocol: str = "none"
    endpoint: str = ""
    sampling_rate: float = 0.0


@dataclass(frozen=True)
class ObservabilityConfig:
    """config-observability (serving ``pkg/observability/config.go`` over knative/pkg's): metrics
    (the control plane's and the activator's), request metrics (``request-metrics-*``: the
    queue-proxy's), tracing and request logs."""

    metrics: MetricsExportConfig = field(default_factory=MetricsExportConfig)
    request_metrics: MetricsExportConfig = field(default_factory=MetricsExportConfig)
    tracing: TracingExportConfig = field(default_factory=TracingExportConfig)
    enable_request_log: bool = False
    request_log_template: str = DEFAULT_REQUEST_LOG_TEMPLATE
    enable_probe_request_log: bool = False


@dataclass(frozen=True)
class PingDefaultsConfig:
    """config-ping-defaults (knative/eventing ``pkg/apis/sources/config/ping_defaults.go``)."""

    data_max_size: int = -1
    """``data-max-size`` (or the legacy ``dataMaxSize``): the most bytes of a PingSource's ``data`` or
    ``dataBase64``; -1 (any negative value): no limit."""


@dataclass(frozen=True)
class Config:
    autoscaler: AutoscalerConfig = field(default_factory=AutoscalerConfig)
    defaults: DefaultsConfig = field(default_factory=DefaultsConfig)
    domain: DomainConfig = field(default_factory=DomainConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    gc: GCConfig = field(default_factory=GCConfig)
    deployment: DeploymentConfig = field(default_factory=DeploymentConfig)
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    br_defaults: BrokerDefaultsConfig = field(default_factory=BrokerDefaultsConfig)
    ch_defaults: ChannelDefaultsConfig = field(default_factory=ChannelDefaultsConfig)
    eventing: EventingConfig = field(default_factory=EventingConfig)
    ping_defaults: PingDefaultsConfig = field(default_factory=PingDefaultsConfig)
    observability: ObservabilityConfig = field(default_factory=ObservabilityConfig)
