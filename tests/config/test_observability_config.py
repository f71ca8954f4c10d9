"""config-observability as Knative reads it (serving pkg/observability, knative/pkg observability)."""

from __future__ import annotations

import pytest

from zeroserve.config import Config, MetricsExportConfig, ObservabilityConfig, TracingExportConfig
from zeroserve.config.parse import config_to_data, parse_config
from zeroserve.errors import ConfigError

OBS = "config-observability"


def test_defaults_are_knatives() -> None:
    o = Config().observability
    assert o.metrics == MetricsExportConfig("none", "", 0.0)
    assert o.request_metrics == MetricsExportConfig("none", "", 0.0)
    assert o.tracing == TracingExportConfig("none", "", 0.0)
    assert not o.enable_request_log
    assert o.request_log_template.startswith('{"httpRequest": {"requestMethod": "{{.Request.Method}}"')


def test_keys_parse_and_round_trip() -> None:
    warnings: list[str] = []
    cfg = parse_config(
        {
            OBS: {
                "metrics-protocol": "http/protobuf",
                "metrics-endpoint": "http://127.0.0.1:4318/v1/metrics",
                "metrics-export-interval": "5s",
                "request-metrics-protocol": "prometheus",
                "tracing-protocol": "grpc",
                "tracing-endpoint": "http://127.0.0.1:4317",
                "tracing-sampling-rate": "0.5",
                "logging.enable-request-log": "true",
                "logging.enable-probe-request-log": "true",
                "logging.revision-url-template": "http://logs/?uid=${REVISION_UID}",
                "runtime-profiling": "enabled",
            }
        },
        warnings,
    )
    assert warnings == []
    o = cfg.observability
    assert o.metrics == MetricsExportConfig("http/protobuf", "http://127.0.0.1:4318/v1/metrics", 5.0)
    assert o.request_metrics.protocol == "prometheus"
    assert o.tracing == TracingExportConfig("grpc", "http://127.0.0.1:4317", 0.5)
    assert o.enable_request_log and o.enable_probe_request_log
    assert parse_config(config_to_data(cfg)) == cfg
    assert parse_config(config_to_data(Config())).observability == ObservabilityConfig()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"metrics-protocol": "statsd"}, 'config-observability: unsupported protocol "statsd"'),
        ({"metrics-protocol": "grpc"}, 'config-observability: endpoint should be set when protocol is "grpc"'),
        ({"metrics-endpoint": "x:1"}, 'config-observability: endpoint should not be set when protocol is "none"'),
        ({"request-metrics-protocol": "http/protobuf"}, 'endpoint should be set when protocol is "http/protobuf"'),
        ({"metrics-export-interval": "-1s"}, 'export interval "-1s" should be greater than zero'),
        ({"metrics-export-interval": "soon"}, 'failed to parse "metrics-export-interval"'),
        ({"tracing-protocol": "zipkin"}, 'unsupported protocol "zipkin"'),
        ({"tracing-protocol": "grpc"}, 'endpoint should be set for protocol "grpc"'),
        ({"tracing-sampling-rate": "2"}, "sampling rate 2.000000 should be less than or equal to one"),
        ({"tracing-sampling-rate": "-1"}, "sampling rate -1.000000 should be greater or equal to zero"),
        (
            {"logging.enable-request-log": "true", "logging.request-log-template": ""},
            '"logging.enable-request-log" was set to true, but no "logging.request-log-template" was specified',
        ),
    ],
)
def test_invalid_values_say_what_is_wrong(data: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config({OBS: data})
    assert message in str(e.value)


def test_a_request_log_template_that_does_not_parse_is_a_config_error_with_gos_message() -> None:
    # Knative's Validate parses the template even with request logs off (serving pkg/observability).
    with pytest.raises(ConfigError) as e:
        parse_config({OBS: {"logging.request-log-template": "{{.Request.Method"}})
    assert str(e.value) == (
        "config-observability: logging.request-log-template: template: requestLog:1: unclosed action"
    )
    with pytest.raises(ConfigError) as e:
        parse_config({OBS: {"logging.request-log-template": "{{}/* a comment */}}"}})  # Knative's own test case
    assert "logging.request-log-template: template: requestLog:1:" in str(e.value)
    ok = parse_config({OBS: {"logging.request-log-template": '{{.Request.Header.Get "X-Id"}}'}})
    assert ok.observability.request_log_template == '{{.Request.Header.Get "X-Id"}}'
