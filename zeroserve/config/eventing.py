"""config-br-defaults: the class, config and delivery a Broker is defaulted with. PURE.

Knative's ``pkg/apis/config/defaults.go``: the one key ``default-br-config`` holds YAML::

    config-br-defaults:
      default-br-config: |
        clusterDefault:
          brokerClass: MTChannelBasedBroker
          apiVersion: v1
          kind: ConfigMap
          name: config-br-default-channel
          namespace: knative-eventing
          delivery:
            retry: 10
            backoffPolicy: exponential
            backoffDelay: PT0.2S
        namespaceDefaults:
          my-ns:
            brokerClass: MTChannelBasedBroker
            delivery: {retry: 3}

A ``clusterDefault`` or namespace entry (``DefaultConfig``) has a ``brokerClass``, an inline
``BrokerConfig`` (a KReference: ``apiVersion``/``kind``/``name``/``namespace``, and ``delivery``),
per-class configs in ``brokerClasses`` and ``disallowDifferentNamespaceConfig``. Lookups follow
``GetBrokerConfig`` / ``GetBrokerClass`` exactly, including their precedence (namespace before
cluster, an explicit class before the default class). KReferences and DeliverySpecs stay plain JSON
objects here; the API layer types them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import yaml

from zeroserve.errors import ConfigError

T = TypeVar("T")

DEFAULTS_KEY = "default-br-config"
MT_CHANNEL_BROKER = "MTChannelBasedBroker"
_REF_KEYS = ("kind", "namespace", "name", "apiVersion", "group", "address")
_DELIVERY_KEYS = ("deadLetterSink", "retry", "timeout", "backoffPolicy", "backoffDelay", "retryAfterMax", "format")


@dataclass(frozen=True)
class BrokerConfig:
    """``config.BrokerConfig``: a KReference to the broker's config (None: no ref) and its delivery."""

    ref: dict[str, str] | None = None
    delivery: dict[str, Any] | None = None


@dataclass(frozen=True)
class DefaultConfig:
    """``config.DefaultConfig``: for the cluster or one namespace."""

    broker_class: str = ""
    config: BrokerConfig | None = None
    """The inline BrokerConfig (None when the entry sets none of its fields, as Go's decoding leaves it)."""
    broker_classes: dict[str, BrokerConfig] = field(default_factory=dict)
    disallow_different_namespace: bool | None = None


DEFAULT_CLUSTER = DefaultConfig(
    broker_class=MT_CHANNEL_BROKER,
    config=BrokerConfig(
        ref={
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "name": "config-br-default-channel",
            "namespace": "knative-eventing",
        },
        delivery={"retry": 10, "backoffPolicy": "exponential", "backoffDelay": "PT0.2S"},
    ),
)
"""config/core/configmaps/default-broker.yaml as Knative ships it."""


@dataclass(frozen=True)
class BrokerDefaultsConfig:
    """``config.Defaults``. ``cluster_default`` None: nothing is configured (Knative's error case)."""

    cluster_default: DefaultConfig | None = DEFAULT_CLUSTER
    namespace_defaults: dict[str, DefaultConfig] = field(default_factory=dict)

    def broker_config(self, namespace: str, broker_class: str) -> BrokerConfig | None:
        """``GetBrokerConfig``; None where Knative returns an error."""
        if broker_class:
            return self._by_class(namespace, broker_class)
        ns = self.namespace_defaults.get(namespace)
        if ns is not None and ns.broker_class:
            return self._by_class(namespace, ns.broker_class)
        return self._cluster(broker_class)

    def broker_class(self, namespace: str) -> str | None:
        """``GetBrokerClass``; None where Knative returns an error."""
        ns = self.namespace_defaults.get(namespace)
        if ns is not None and ns.broker_class:
            return ns.broker_class
        cluster = self.cluster_default
        if cluster is not None and cluster.broker_class:
            return cluster.broker_class
        return None

    def allows_different_namespace(self, namespace: str) -> bool:
        """``determineNamespaceAllowance``: whether a Broker's refs may name another namespace."""
        if self.cluster_default is None and not self.namespace_defaults:
            return True
        ns = self.namespace_defaults.get(namespace)
        if ns is not None and ns.disallow_different_namespace:
            return False
        cluster = self.cluster_default
        return not (cluster is not None and cluster.disallow_different_namespace)

    def _by_class(self, namespace: str, broker_class: str) -> BrokerConfig | None:
        """``getBrokerConfigByClassName``."""
        ns = self.namespace_defaults.get(namespace)
        if ns is not None:
            per_class = ns.broker_classes.get(broker_class)
            if per_class is not None:
                return per_class
            if ns.broker_class == broker_class:
                return ns.config if ns.config is not None else self._cluster(broker_class)
        return self._cluster(broker_class)

    def _cluster(self, broker_class: str) -> BrokerConfig | None:
        """``getClusterDefaultBrokerConfig``."""
        cluster = self.cluster_default
        if cluster is None or cluster.config is None:
            return None
        return cluster.broker_classes.get(broker_class) or cluster.config


# ----------------------------------------------------------------------------- parsing


def _mapping(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{path}: must be a mapping")
    return value


def _broker_config(data: Mapping[str, Any], path: str) -> BrokerConfig | None:
    """The inline BrokerConfig of ``data``: None when none of its fields is present."""
    ref = {k: data[k] for k in _REF_KEYS if k in data}
    for key, value in ref.items():
        if not isinstance(value, str):
            raise ConfigError(f"{path}.{key}: must be a string")
    delivery = data.get("delivery")
    if delivery is not None:
        delivery = dict(_mapping(delivery, f"{path}.delivery"))
        for key in delivery:
            if key not in _DELIVERY_KEYS:
                known = ", ".join(_DELIVERY_KEYS)
                raise ConfigError(f"{path}.delivery.{key}: unknown field (DeliverySpec has {known})")
        retry = delivery.get("retry")
        if retry is not None and (isinstance(retry, bool) or not isinstance(retry, int)):
            raise ConfigError(f"{path}.delivery.retry: must be an integer")
    if not ref and delivery is None:
        return None
    return BrokerConfig(ref=ref or None, delivery=delivery)


def _default_config(data: Any, path: str) -> DefaultConfig:
    d = _mapping(data, path)
    known = {*_REF_KEYS, "delivery", "brokerClass", "brokerClasses", "disallowDifferentNamespaceConfig"}
    for key in d:
        if key not in known:
            raise ConfigError(f"{path}.{key}: unknown field")
    classes: dict[str, BrokerConfig] = {}
    for name, raw in _mapping(d.get("brokerClasses") or {}, f"{path}.brokerClasses").items():
        cfg = _broker_config(_mapping(raw, f"{path}.brokerClasses.{name}"), f"{path}.brokerClasses.{name}")
        if cfg is not None:
            classes[str(name)] = cfg
    disallow = d.get("disallowDifferentNamespaceConfig")
    if disallow is not None and not isinstance(disallow, bool):
        raise ConfigError(f"{path}.disallowDifferentNamespaceConfig: must be true or false")
    broker_class = d.get("brokerClass", "")
    if not isinstance(broker_class, str):
        raise ConfigError(f"{path}.brokerClass: must be a string")
    return DefaultConfig(broker_class, _broker_config(d, path), classes, disallow)


def parse_br_defaults(data: Mapping[str, str], warnings: list[str] | None = None) -> BrokerDefaultsConfig:
    """``NewDefaultsConfigFromMap``: ``default-br-config`` must be present and non-empty YAML."""
    for key in sorted(set(data) - {DEFAULTS_KEY, "_example"}):
        if warnings is not None:
            warnings.append(f"config-br-defaults: key {key!r} is not used by zeroserve; ignored")
    cluster, namespaces = scoped_defaults(data, DEFAULTS_KEY, _default_config)
    return BrokerDefaultsConfig(cluster_default=cluster, namespace_defaults=namespaces)


def scoped_defaults(data: Mapping[str, str], key: str, parse: Callable[[Any, str], T]) -> tuple[T | None, dict[str, T]]:
    """Knative's ``clusterDefault`` / ``namespaceDefaults`` document under ``key`` (config-br-defaults,
    default-ch-webhook): present and non-empty YAML, those two fields only, each default read by
    ``parse(value, field path)``."""
    raw = data.get(key, "")
    if not raw.strip():
        raise ConfigError(f"ConfigMap is missing (or empty) key: {key!r}")
    try:
        doc = yaml.safe_load(raw)
    except yaml.YAMLError as e:
        raise ConfigError(f"{key}: invalid YAML: {e}") from None
    top = _mapping(doc if doc is not None else {}, key)
    for name in top:
        if name not in ("clusterDefault", "namespaceDefaults"):
            raise ConfigError(f"{key}.{name}: unknown field (clusterDefault, namespaceDefaults)")
    cluster = top.get("clusterDefault")
    namespaces = _mapping(top.get("namespaceDefaults") or {}, f"{key}.namespaceDefaults")
    return (
        parse(cluster, f"{key}.clusterDefault") if cluster is not None else None,
        {str(ns): parse(v, f"{key}.namespaceDefaults.{ns}") for ns, v in namespaces.items() if v is not None},
    )


def _default_config_data(d: DefaultConfig) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if d.broker_class:
        out["brokerClass"] = d.broker_class
    if d.config is not None:
        out.update(_broker_config_data(d.config))
    if d.broker_classes:
        out["brokerClasses"] = {k: _broker_config_data(v) for k, v in d.broker_classes.items()}
    if d.disallow_different_namespace is not None:
        out["disallowDifferentNamespaceConfig"] = d.disallow_different_namespace
    return out


def _broker_config_data(c: BrokerConfig) -> dict[str, Any]:
    return {**(c.ref or {}), **({"delivery": c.delivery} if c.delivery is not None else {})}


def br_defaults_to_data(c: BrokerDefaultsConfig) -> dict[str, str]:
    """The effective ConfigMap data (``zeroserve config show``)."""
    doc: dict[str, Any] = {}
    if c.cluster_default is not None:
        doc["clusterDefault"] = _default_config_data(c.cluster_default)
    if c.namespace_defaults:
        doc["namespaceDefaults"] = {ns: _default_config_data(d) for ns, d in c.namespace_defaults.items()}
    return {DEFAULTS_KEY: yaml.safe_dump(doc, default_flow_style=False, sort_keys=False)}
