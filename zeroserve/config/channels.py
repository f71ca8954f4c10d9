"""default-ch-webhook: the channel a Channel, Sequence or Parallel without ``channelTemplate`` gets. PURE.

Knative's ``pkg/apis/messaging/config/channel_defaults.go``: the one key ``default-ch-config`` holds
YAML::

    default-ch-webhook:
      default-ch-config: |
        clusterDefault:
          apiVersion: messaging.knative.dev/v1
          kind: InMemoryChannel
        namespaceDefaults:
          some-namespace:
            apiVersion: messaging.knative.dev/v1
            kind: InMemoryChannel
            spec: {delivery: {retry: 3}}

``GetChannelConfig``: a namespace's entry, else ``clusterDefault``, else none (the object is left
without a template, and validation then says ``channelTemplate`` is missing). Templates stay plain
JSON objects here; the API layer types them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from zeroserve.config.eventing import scoped_defaults
from zeroserve.errors import ConfigError

DEFAULTS_KEY = "default-ch-config"
IN_MEMORY_CHANNEL: dict[str, Any] = {"apiVersion": "messaging.knative.dev/v1", "kind": "InMemoryChannel"}
_TEMPLATE_KEYS = ("apiVersion", "kind", "spec")


@dataclass(frozen=True)
class ChannelDefaultsConfig:
    """``config.ChannelDefaults``: templates (``apiVersion``, ``kind``, optional ``spec``)."""

    cluster_default: dict[str, Any] | None = field(default_factory=lambda: dict(IN_MEMORY_CHANNEL))
    namespace_defaults: dict[str, dict[str, Any]] = field(default_factory=dict)

    def channel_template(self, namespace: str) -> dict[str, Any] | None:
        """``GetChannelConfig``; None where Knative returns an error."""
        found = self.namespace_defaults.get(namespace, self.cluster_default)
        return dict(found) if found is not None else None


def _template(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{path}: must be a mapping (apiVersion, kind, spec)")
    for key in value:
        if key not in _TEMPLATE_KEYS:
            raise ConfigError(f"{path}.{key}: unknown field (apiVersion, kind, spec)")
    for key in ("apiVersion", "kind"):
        if key in value and not isinstance(value[key], str):
            raise ConfigError(f"{path}.{key}: must be a string")
    if "spec" in value and not isinstance(value["spec"], Mapping):
        raise ConfigError(f"{path}.spec: must be a mapping")
    return {k: value[k] for k in _TEMPLATE_KEYS if k in value}


def parse_ch_defaults(data: Mapping[str, str], warnings: list[str] | None = None) -> ChannelDefaultsConfig:
    """``NewChannelDefaultsConfigFromConfigMap``: ``default-ch-config`` must be present and non-empty."""
    for key in sorted(set(data) - {DEFAULTS_KEY, "_example"}):
        if warnings is not None:
            warnings.append(f"default-ch-webhook: key {key!r} is not used by zeroserve; ignored")
    cluster, namespaces = scoped_defaults(data, DEFAULTS_KEY, _template)
    return ChannelDefaultsConfig(cluster_default=cluster, namespace_defaults=namespaces)


def ch_defaults_to_data(c: ChannelDefaultsConfig) -> dict[str, str]:
    """The effective ConfigMap data (``zeroserve config show``)."""
    doc: dict[str, Any] = {}
    if c.cluster_default is not None:
        doc["clusterDefault"] = c.cluster_default
    if c.namespace_defaults:
        doc["namespaceDefaults"] = c.namespace_defaults
    return {DEFAULTS_KEY: yaml.safe_dump(doc, default_flow_style=False, sort_keys=False)}
