"""config-br-defaults: parsing and Knative's lookup precedence (pkg/apis/config/defaults_test.go)."""

from __future__ import annotations

import pytest

from zeroserve.config import Config
from zeroserve.config.eventing import (
    DEFAULT_CLUSTER,
    MT_CHANNEL_BROKER,
    BrokerConfig,
    BrokerDefaultsConfig,
    parse_br_defaults,
)
from zeroserve.config.parse import config_to_data, parse_config
from zeroserve.errors import ConfigError

SHIPPED = """
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
"""

LAYERED = """
clusterDefault:
  brokerClass: cluster-class
  apiVersion: v1
  kind: ConfigMap
  name: cluster-config
  namespace: knative-eventing
  brokerClasses:
    other-class:
      kind: ConfigMap
      name: other-config
      namespace: knative-eventing
namespaceDefaults:
  ns1:
    brokerClass: ns1-class
    kind: ConfigMap
    name: ns1-config
    namespace: ns1
    delivery: {retry: 3}
  ns2:
    brokerClass: ns2-class
    brokerClasses:
      ns2-class: {kind: ConfigMap, name: ns2-per-class, namespace: ns2}
  ns3:
    disallowDifferentNamespaceConfig: true
"""


def test_default_is_knatives_shipped_configmap() -> None:
    assert Config().br_defaults == parse_br_defaults({"default-br-config": SHIPPED})
    assert BrokerDefaultsConfig().broker_class("any") == MT_CHANNEL_BROKER
    cfg = BrokerDefaultsConfig().broker_config("any", "")
    assert cfg is not None and cfg.delivery == {"retry": 10, "backoffPolicy": "exponential", "backoffDelay": "PT0.2S"}


@pytest.mark.parametrize(
    ("namespace", "broker_class", "want"),
    [
        pytest.param("default", "", "cluster-config", id="no class, no namespace entry: cluster default"),
        pytest.param("default", "cluster-class", "cluster-config", id="the cluster's class"),
        pytest.param("default", "other-class", "other-config", id="a cluster brokerClasses entry"),
        pytest.param("default", "unknown", "cluster-config", id="unknown class: cluster default config"),
        pytest.param("ns1", "", "ns1-config", id="namespace default class: its inline config"),
        pytest.param("ns1", "ns1-class", "ns1-config", id="namespace class named"),
        pytest.param("ns1", "other-class", "other-config", id="another class: the cluster's entry"),
        pytest.param("ns2", "", "ns2-per-class", id="namespace class config in brokerClasses"),
        pytest.param("ns3", "", "cluster-config", id="namespace entry without class"),
    ],
)
def test_broker_config_precedence(namespace: str, broker_class: str, want: str) -> None:
    defaults = parse_br_defaults({"default-br-config": LAYERED})
    cfg = defaults.broker_config(namespace, broker_class)
    assert cfg is not None and cfg.ref is not None
    assert cfg.ref["name"] == want


def test_broker_class_and_namespace_allowance() -> None:
    defaults = parse_br_defaults({"default-br-config": LAYERED})
    assert defaults.broker_class("ns1") == "ns1-class"
    assert defaults.broker_class("ns3") == "cluster-class"
    assert defaults.allows_different_namespace("default")
    assert not defaults.allows_different_namespace("ns3")
    empty = parse_br_defaults({"default-br-config": "namespaceDefaults: {}"})
    assert empty.broker_class("x") is None and empty.broker_config("x", "") is None


def test_delivery_only_entry_has_no_ref() -> None:
    defaults = parse_br_defaults({"default-br-config": "clusterDefault: {brokerClass: B, delivery: {retry: 1}}"})
    assert defaults.broker_config("x", "") == BrokerConfig(ref=None, delivery={"retry": 1})


def test_a_mapping_is_accepted_as_the_key_s_value() -> None:
    cfg = parse_config({"config-br-defaults": {"default-br-config": {"clusterDefault": {"brokerClass": "X"}}}})
    assert cfg.br_defaults.broker_class("default") == "X"
    assert cfg.br_defaults.broker_config("default", "") is None  # no inline config: Knative's error case


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param({}, "missing \\(or empty\\) key: 'default-br-config'", id="missing key"),
        pytest.param({"default-br-config": "a: [1"}, "invalid YAML", id="bad yaml"),
        pytest.param({"default-br-config": "clusterDefault: 3"}, "clusterDefault: must be a mapping", id="not a map"),
        pytest.param(
            {"default-br-config": "clusterDefault: {delivery: {retry: ten}}"},
            "clusterDefault.delivery.retry: must be an integer",
            id="retry type",
        ),
        pytest.param(
            {"default-br-config": "clusterDefault: {delivery: {retries: 1}}"},
            "clusterDefault.delivery.retries: unknown field",
            id="delivery typo",
        ),
        pytest.param({"default-br-config": "clusterDefaults: {}"}, "clusterDefaults: unknown field", id="top typo"),
    ],
)
def test_errors(data: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match="config-br-defaults: .*" + message):
        parse_config({"config-br-defaults": data})


def test_config_show_round_trips() -> None:
    shown = config_to_data(Config())["config-br-defaults"]
    assert parse_config({"config-br-defaults": shown}).br_defaults == Config().br_defaults
    assert DEFAULT_CLUSTER.config is not None
