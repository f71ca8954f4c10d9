"""default-ch-webhook (Knative's ChannelDefaults): parsing and GetChannelConfig's lookup."""

from __future__ import annotations

import pytest

from zeroserve.config.channels import IN_MEMORY_CHANNEL, ChannelDefaultsConfig, parse_ch_defaults
from zeroserve.config.parse import config_to_data, parse_config
from zeroserve.errors import ConfigError

KAFKA = {"apiVersion": "messaging.knative.dev/v1beta1", "kind": "KafkaChannel", "spec": {"numPartitions": 3}}


def test_the_default_is_the_in_memory_channel() -> None:
    assert ChannelDefaultsConfig().channel_template("any") == IN_MEMORY_CHANNEL


def test_namespace_before_cluster() -> None:
    cfg = parse_ch_defaults(
        {
            "default-ch-config": (
                "clusterDefault: {apiVersion: messaging.knative.dev/v1, kind: InMemoryChannel}\n"
                "namespaceDefaults:\n  kafka-ns:\n    apiVersion: messaging.knative.dev/v1beta1\n"
                "    kind: KafkaChannel\n    spec: {numPartitions: 3}\n"
            )
        }
    )
    assert cfg.channel_template("kafka-ns") == KAFKA
    assert cfg.channel_template("default") == IN_MEMORY_CHANNEL


def test_no_cluster_default_means_no_template() -> None:
    cfg = parse_ch_defaults({"default-ch-config": "namespaceDefaults:\n  a: {apiVersion: x/v1, kind: C}\n"})
    assert cfg.channel_template("b") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "missing (or empty) key: 'default-ch-config'"),
        ("clusterDefault: [1]", "default-ch-config.clusterDefault: must be a mapping"),
        ("clusterDefault: {kind: 3}", "default-ch-config.clusterDefault.kind: must be a string"),
        ("clusterDefault: {knd: X}", "default-ch-config.clusterDefault.knd: unknown field"),
        ("other: 1", "default-ch-config.other: unknown field"),
    ],
)
def test_bad_config_names_the_field(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        parse_ch_defaults({"default-ch-config": text})


def test_section_round_trips_through_config_show() -> None:
    cfg = parse_config({"default-ch-webhook": {"default-ch-config": "clusterDefault: {apiVersion: a/v1, kind: K}"}})
    assert cfg.ch_defaults.channel_template("x") == {"apiVersion": "a/v1", "kind": "K"}
    data = config_to_data(cfg)["default-ch-webhook"]
    assert parse_ch_defaults(data) == cfg.ch_defaults
