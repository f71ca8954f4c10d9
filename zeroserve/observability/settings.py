"""config-observability handed to a queue-proxy sidecar in its environment, as Knative's revision reconciler
does (``OBSERVABILITY_CONFIG``, JSON with knative/pkg's keys). No OpenTelemetry import here: a sidecar
loads the SDK only when tracing is on."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from zeroserve.config import TracingExportConfig
from zeroserve.errors import ConfigError

OBSERVABILITY_ENV: Final = "OBSERVABILITY_CONFIG"
"""The queue-proxy's variable holding config-observability as JSON (Knative's revision reconciler sets
it; the tracing part is ``{"tracing": {"protocol", "endpoint", "samplingRate"}}``, knative/pkg's keys)."""


def tracing_json(cfg: TracingExportConfig) -> dict[str, Any]:
    """The ``tracing`` member of ``OBSERVABILITY_CONFIG`` (Go's ``omitempty``)."""
    out: dict[str, Any] = {"protocol": cfg.protocol}
    if cfg.endpoint:
        out["endpoint"] = cfg.endpoint
    if cfg.sampling_rate:
        out["samplingRate"] = cfg.sampling_rate
    return out


def tracing_from_env(environ: Mapping[str, str]) -> TracingExportConfig:
    """The tracing configuration in ``OBSERVABILITY_CONFIG`` (absent: off); ConfigError when it is not valid."""
    text = environ.get(OBSERVABILITY_ENV, "")
    if not text.strip():
        return TracingExportConfig()
    try:
        data = json.loads(text)
    except ValueError as e:
        raise ConfigError(f"failed to parse {OBSERVABILITY_ENV}: {e}") from None
    section = data.get("tracing", {}) if isinstance(data, dict) else None
    if not isinstance(section, dict):
        raise ConfigError(f"failed to parse {OBSERVABILITY_ENV}: tracing: must be an object")
    protocol, endpoint = section.get("protocol") or "none", section.get("endpoint") or ""
    rate = section.get("samplingRate") or 0.0
    if not isinstance(protocol, str) or not isinstance(endpoint, str) or not isinstance(rate, (int, float)):
        raise ConfigError(
            f"failed to parse {OBSERVABILITY_ENV}: tracing: protocol, endpoint: strings; samplingRate: a number"
        )
    if protocol not in ("none", "stdout", "http/protobuf", "grpc"):
        raise ConfigError(f'{OBSERVABILITY_ENV}: tracing: unsupported protocol "{protocol}"')
    return TracingExportConfig(protocol, endpoint, float(rate))


__all__ = ["OBSERVABILITY_ENV", "tracing_from_env", "tracing_json"]
