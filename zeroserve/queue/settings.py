"""The queue-proxy's settings, read from its environment in one place (Knative ``pkg/queue/sharedmain``).

The variable names are Knative's (``pkg/reconciler/revision/resources/queue.go``), plus
``QUEUE_ADMIN_PORT`` (Knative's fixed 8022; 0 = ephemeral), ``QUEUE_DRAIN_QUIET_PERIOD`` and
``QUEUE_DRAIN_WEBSOCKET_GRACE`` (Knative's fixed 30 s and 60 s, made for clusters).
``SERVING_READINESS_PROBE`` is the JSON of the user container's readiness probe
(``corev1.Probe``); only what the queue-proxy runs is kept (:class:`UserProbe`). ``USER_PROTOCOL``
(``http1`` or ``h2c``) is zeroserve's: Knative's queue-proxy is told nothing and speaks HTTP/2 to the
app when the request came in so (the ingress sends an h2c revision's requests so); ours speaks h2c
to an h2c app always, a kubelet probe or an HTTP/1.1 request from the activator included.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from zeroserve.config import TracingExportConfig
from zeroserve.errors import ConfigError
from zeroserve.observability.settings import tracing_from_env
from zeroserve.queue.requestlog import RequestLogSettings


@dataclass(frozen=True)
class UserProbe:
    """The user container's readiness probe, as the queue-proxy runs it against the user port."""

    kind: Literal["tcp", "http"] = "tcp"
    """exec and gRPC probes are run as a TCP connect to the user port (Knative does the same for exec)."""
    path: str = "/"
    scheme: Literal["http", "https"] = "http"
    headers: tuple[tuple[str, str], ...] = ()
    timeout: float = 1.0
    """Seconds for one attempt when not aggressive (Knative: the user's timeoutSeconds, at least 1)."""
    period: float = 0.0
    """0 = aggressive: retry until success for up to 10 s (Knative's default user probe)."""
    success_threshold: int = 1

    @property
    def aggressive(self) -> bool:
        return self.period == 0

    port: int | None = None
    """The port it probes (a sidecar's, with multi-container probing); None: the user port."""

    @classmethod
    def from_json(cls, text: str) -> UserProbe:
        """Parse Knative's ``SERVING_READINESS_PROBE`` (empty: the default TCP probe). A JSON list (the
        multi-container form) is :meth:`list_from_json`'s: this takes its first, the serving container's."""
        return cls.list_from_json(text)[0]

    @classmethod
    def list_from_json(cls, text: str) -> tuple[UserProbe, ...]:
        """Every probe ``SERVING_READINESS_PROBE`` holds: one object (the serving container's), or with
        config-features ``multi-container-probing`` a list, the serving container's first (``null``
        when it has none: the default TCP probe) and each sidecar's at its own port. The serving
        container's is always run at the user port, whatever port it names (on one machine the
        runtime chooses that port)."""
        if not text.strip():
            return (cls(),)
        try:
            data = json.loads(text)
        except ValueError as err:
            raise ConfigError(f"SERVING_READINESS_PROBE is not valid JSON: {err}") from err
        if isinstance(data, list) and data:
            first = cls() if data[0] is None else cls._parse(data[0], text)
            sidecars = tuple(cls._parse(d, text) for d in data[1:] if d is not None)
        else:
            first, sidecars = cls._parse(data, text), ()
        return (replace(first, port=None), *sidecars)  # the serving container's: at the user port

    @classmethod
    def _parse(cls, data: object, text: str) -> UserProbe:
        if not isinstance(data, dict):
            raise ConfigError(f"SERVING_READINESS_PROBE must be a JSON object or a list of them, was: {text!r}")
        probe = cls(
            timeout=float(max(1, _int(data, "timeoutSeconds", 1))),
            period=float(_int(data, "periodSeconds", 0)),
            success_threshold=max(1, _int(data, "successThreshold", 1)),
        )
        tcp = data.get("tcpSocket")
        if isinstance(tcp, dict):
            return replace(probe, port=_port(tcp))
        action = data.get("httpGet")
        if not isinstance(action, dict):
            return probe
        path = str(action.get("path") or "/")
        headers = tuple(
            (str(h.get("name", "")), str(h.get("value", "")))
            for h in action.get("httpHeaders") or ()
            if isinstance(h, dict)
        )
        scheme: Literal["http", "https"] = "https" if str(action.get("scheme") or "").upper() == "HTTPS" else "http"
        return replace(
            probe,
            kind="http",
            path=path if path.startswith("/") else "/" + path,
            scheme=scheme,
            headers=headers,
            port=_port(action),
        )


def _port(action: Mapping[str, object]) -> int | None:
    """A probe action's numeric ``port`` (a named one, or none: the user port)."""
    port = action.get("port")
    return port if isinstance(port, int) and not isinstance(port, bool) and port > 0 else None


def _int(data: Mapping[str, object], key: str, default: int) -> int:
    value = data.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"SERVING_READINESS_PROBE {key} must be an integer, was: {value!r}")
    return value


@dataclass(frozen=True)
class Settings:
    container_concurrency: int = 0
    """CONTAINER_CONCURRENCY: requests in the app at once (0 = unlimited: no breaker)."""
    user_port: int = 8080
    """USER_PORT: where the app listens, on ``user_host``."""
    user_host: str = "127.0.0.1"
    serving_port: int = 8012
    """QUEUE_SERVING_PORT: where traffic enters (0 = ephemeral)."""
    admin_port: int = 0
    """QUEUE_ADMIN_PORT: ``/stats``, ``/drain``, ``/wait-for-drain`` (0 = ephemeral)."""
    host: str = "127.0.0.1"
    """QUEUE_LISTEN_ADDRESS: the address both ports bind (a pod's queue-proxy: ``0.0.0.0``, every
    address, as Knative's listens; on one machine the runtime's instances keep the default)."""
    timeout: float = 300.0
    """REVISION_TIMEOUT_SECONDS: the whole request, time queued included (504 ``request timeout``)."""
    response_start_timeout: float = 0.0
    """REVISION_RESPONSE_START_TIMEOUT_SECONDS: until the app's response starts (0 = none)."""
    idle_timeout: float = 0.0
    """REVISION_IDLE_TIMEOUT_SECONDS: no byte either way for this long (0 = none)."""
    readiness_probe: UserProbe = field(default_factory=UserProbe)
    sidecar_probes: tuple[UserProbe, ...] = ()
    """With multi-container probing, the sidecars' readiness probes: ready only when every one passes."""
    namespace: str = ""
    service: str = ""
    configuration: str = ""
    revision: str = ""
    pod: str = ""
    """SERVING_NAMESPACE / SERVICE / CONFIGURATION / REVISION / POD."""
    drain_quiet_period: float = 1.0
    """QUEUE_DRAIN_QUIET_PERIOD: after a drain starts, seconds without a new request before shutting down."""
    websocket_grace: float = 60.0
    """QUEUE_DRAIN_WEBSOCKET_GRACE: how long open connections (websockets) may last once drained."""
    h2c: bool = False
    """USER_PROTOCOL ``h2c``: the app speaks HTTP/2 with prior knowledge (its port is named ``h2c``)."""
    tracing: TracingExportConfig = field(default_factory=TracingExportConfig)
    """config-observability's tracing, from ``OBSERVABILITY_CONFIG`` (off when absent)."""
    request_log: RequestLogSettings = field(default_factory=RequestLogSettings)
    """OBSERVABILITY_CONFIG's ``enableRequestLog``, ``requestLogTemplate``, ``enableProbeRequestLog``."""

    @property
    def queue_depth(self) -> int:
        """Requests that may wait in the breaker: 10 x containerConcurrency (Knative)."""
        return 10 * self.container_concurrency

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """The settings in ``environ``, validated (:class:`ConfigError` quoting the bad value)."""
        probes = UserProbe.list_from_json(environ.get("SERVING_READINESS_PROBE", ""))
        settings = cls(
            container_concurrency=_env_int(environ, "CONTAINER_CONCURRENCY", 0),
            user_port=_env_int(environ, "USER_PORT", 8080),
            serving_port=_env_int(environ, "QUEUE_SERVING_PORT", 8012),
            admin_port=_env_int(environ, "QUEUE_ADMIN_PORT", 0),
            host=environ.get("QUEUE_LISTEN_ADDRESS") or "127.0.0.1",
            timeout=_env_float(environ, "REVISION_TIMEOUT_SECONDS", 300.0),
            response_start_timeout=_env_float(environ, "REVISION_RESPONSE_START_TIMEOUT_SECONDS", 0.0),
            idle_timeout=_env_float(environ, "REVISION_IDLE_TIMEOUT_SECONDS", 0.0),
            readiness_probe=probes[0],
            sidecar_probes=probes[1:],
            namespace=environ.get("SERVING_NAMESPACE", ""),
            service=environ.get("SERVING_SERVICE", ""),
            configuration=environ.get("SERVING_CONFIGURATION", ""),
            revision=environ.get("SERVING_REVISION", ""),
            pod=environ.get("SERVING_POD", ""),
            drain_quiet_period=_env_float(environ, "QUEUE_DRAIN_QUIET_PERIOD", 1.0),
            websocket_grace=_env_float(environ, "QUEUE_DRAIN_WEBSOCKET_GRACE", 60.0),
            h2c=_env_protocol(environ, "USER_PROTOCOL"),
            request_log=_env_request_log(environ),
            tracing=tracing_from_env(environ),
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        if self.container_concurrency < 0:
            raise ConfigError(f"CONTAINER_CONCURRENCY cannot be negative, was: {self.container_concurrency}")
        for name, port in (("USER_PORT", self.user_port), ("QUEUE_SERVING_PORT", self.serving_port)):
            if not 0 < port < 65536 and not (name == "QUEUE_SERVING_PORT" and port == 0):
                raise ConfigError(f"{name} must be a port number, was: {port}")
        if not 0 <= self.admin_port < 65536:
            raise ConfigError(f"QUEUE_ADMIN_PORT must be a port number or 0, was: {self.admin_port}")
        for name, value in (
            ("REVISION_TIMEOUT_SECONDS", self.timeout),
            ("REVISION_RESPONSE_START_TIMEOUT_SECONDS", self.response_start_timeout),
            ("REVISION_IDLE_TIMEOUT_SECONDS", self.idle_timeout),
            ("QUEUE_DRAIN_QUIET_PERIOD", self.drain_quiet_period),
            ("QUEUE_DRAIN_WEBSOCKET_GRACE", self.websocket_grace),
        ):
            if value < 0:
                raise ConfigError(f"{name} cannot be negative, was: {value}")


def _env_request_log(environ: Mapping[str, str]) -> RequestLogSettings:
    try:
        return RequestLogSettings.from_json(environ.get("OBSERVABILITY_CONFIG", ""))
    except ValueError as err:
        raise ConfigError(f"OBSERVABILITY_CONFIG: {err}") from None


def _env_protocol(environ: Mapping[str, str], name: str) -> bool:
    raw = environ.get(name, "").strip()
    if raw not in ("", "http1", "h2c"):
        raise ConfigError(f"{name} must be http1 or h2c, was: {raw!r}")
    return raw == "h2c"


def _env_int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name, "")
    if not raw.strip():
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, was: {raw!r}") from None


def _env_float(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name, "")
    if not raw.strip():
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, was: {raw!r}") from None
