from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from zeroserve.config import Config
from zeroserve.config.duration import format_duration, parse_duration
from zeroserve.config.parse import config_to_data, load_config_file, parse_config
from zeroserve.errors import ConfigError


def test_defaults_round_trip_through_data() -> None:
    assert parse_config(config_to_data(Config())) == Config()


def test_missing_file_means_defaults(tmp_path: Path) -> None:
    assert load_config_file(tmp_path / "nope.yaml") == Config()


def test_deployment_defaults_and_legacy_keys() -> None:
    """pkg/deployment/config.go: kind.local, ko.local, dev.local by default; camelCase keys read, the new key wins."""
    assert Config().deployment.registries_skipping_tag_resolving == {"kind.local", "ko.local", "dev.local"}
    legacy = parse_config(
        {"config-deployment": {"registriesSkippingTagResolving": "x.io", "digestResolutionTimeout": "3s"}}
    )
    assert legacy.deployment.registries_skipping_tag_resolving == {"x.io"}
    assert legacy.deployment.digest_resolution_timeout == 3.0
    both = {"registriesSkippingTagResolving": "x.io", "registries-skipping-tag-resolving": "y.io"}
    assert parse_config({"config-deployment": both}).deployment.registries_skipping_tag_resolving == {"y.io"}


def test_load_file(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "config-autoscaler:\n  stable-window: 2m\n  container-concurrency-target-percentage: '80'\n"
        "config-gc:\n  max-non-active-revisions: disabled\n  retain-since-create-time: disabled\n"
        "config-domain:\n  example.com: ''\n  internal.example.com: |\n    selector:\n      app: secret\n"
        "config-defaults:\n  revision-timeout-seconds: 120\n  enable-service-links: 'true'\n"
        "config-deployment:\n  progress-deadline: 5m\n  registries-skipping-tag-resolving: ' a.local, b.io'\n"
    )
    cfg = load_config_file(path)
    assert cfg.autoscaler.stable_window == 120.0
    assert cfg.autoscaler.container_concurrency_target_fraction == pytest.approx(0.8)
    assert cfg.gc.max_non_active_revisions is None and cfg.gc.retain_since_create_time is None
    assert cfg.domain.domains == {"example.com": {}, "internal.example.com": {"app": "secret"}}
    assert cfg.defaults.revision_timeout_seconds == 120
    assert cfg.defaults.revision_response_start_timeout_seconds == 120  # follows the timeout, as Knative
    assert cfg.defaults.enable_service_links is True
    assert cfg.deployment.progress_deadline == 300.0
    assert cfg.deployment.registries_skipping_tag_resolving == {"a.local", "b.io"}
    data = config_to_data(cfg)
    assert data["config-gc"]["max-non-active-revisions"] == "disabled"
    assert data["config-autoscaler"]["stable-window"] == "2m0s"
    assert parse_config(data) == cfg


def test_fraction_values_below_one_are_kept() -> None:
    cfg = parse_config({"config-autoscaler": {"container-concurrency-target-percentage": "0.5"}})
    assert cfg.autoscaler.container_concurrency_target_fraction == 0.5


AS = "config-autoscaler"
CASES = [
    pytest.param(
        {AS: {"stable-window": "5s"}},
        "config-autoscaler: stable-window = 5s, must be in [6s; 1h0m0s] range",
        id="stable-window-range",
    ),
    pytest.param(
        {AS: {"stable-window": "6500ms"}},
        "config-autoscaler: stable-window = 6.5s, must be specified with at most second precision",
        id="stable-window-precision",
    ),
    pytest.param(
        {AS: {"stable-window": "soon"}},
        'config-autoscaler: failed to parse data: failed to parse "stable-window": time: invalid duration "soon"',
        id="stable-window-invalid",
    ),
    pytest.param(
        {AS: {"container-concurrency-target-percentage": "0"}},
        "config-autoscaler: container-concurrency-target-percentage = 0.000000 is outside of valid range of (0, 100]",
        id="target-percentage",
    ),
    pytest.param(
        {AS: {"container-concurrency-target-percentage": "101"}},
        "config-autoscaler: container-concurrency-target-percentage = 1.010000 is outside of valid range of (0, 100]",
        id="target-percentage-over",
    ),
    pytest.param(
        {AS: {"target-burst-capacity": "-2"}},
        "config-autoscaler: target-burst-capacity must be either non-negative or -1 (for unlimited), was: -2.000000",
        id="tbc",
    ),
    pytest.param(
        {AS: {"scale-to-zero-grace-period": "0s"}},
        "config-autoscaler: scale-to-zero-grace-period must be positive, was: 0s",
        id="grace",
    ),
    pytest.param(
        {AS: {"scale-down-delay": "-1s"}},
        "config-autoscaler: scale-down-delay cannot be negative, was: -1s",
        id="delay-negative",
    ),
    pytest.param(
        {AS: {"max-scale-up-rate": "1"}},
        "config-autoscaler: max-scale-up-rate = 1, must be greater than 1.0",
        id="up-rate",
    ),
    pytest.param(
        {AS: {"max-scale-down-rate": "0.5"}},
        "config-autoscaler: max-scale-down-rate = 0.5, must be greater than 1.0",
        id="down-rate",
    ),
    pytest.param(
        {AS: {"activator-capacity": "0.5"}},
        "config-autoscaler: activator-capacity = 0.5, must be at least 1",
        id="activator-capacity",
    ),
    pytest.param(
        {AS: {"panic-window-percentage": "101"}},
        "config-autoscaler: panic-window-percentage = 101, must be in [1, 100] interval",
        id="panic-window",
    ),
    pytest.param(
        {AS: {"initial-scale": "0"}},
        "config-autoscaler: initial-scale = 0, must be at least 0 "
        "(or at least 1 when allow-zero-initial-scale is false)",
        id="initial-scale",
    ),
    pytest.param(
        {AS: {"max-scale-limit": "10", "max-scale": "11"}},
        "config-autoscaler: max-scale = 11, must be in [1, max-scale-limit(10)] range",
        id="max-scale-limit",
    ),
    pytest.param(
        {AS: {"min-scale": "5", "max-scale": "2"}},
        "config-autoscaler: min-scale (5) must be less than max-scale (2)",
        id="min-over-max",
    ),
    pytest.param(
        {AS: {"enable-scale-to-zero": "yes"}},
        'config-autoscaler: failed to parse data: failed to parse "enable-scale-to-zero": '
        'strconv.ParseBool: parsing "yes": invalid syntax',
        id="bool",
    ),
    pytest.param(
        {"config-defaults": {"revision-timeout-seconds": "700"}},
        "config-defaults: revision-timeout-seconds (700) cannot be greater than max-revision-timeout-seconds (600)",
        id="timeout-over-max",
    ),
    pytest.param(
        {"config-defaults": {"container-concurrency": "1001"}},
        "config-defaults: expected 0 <= 1001 <= 1000: container-concurrency",
        id="cc-over-limit",
    ),
    pytest.param(
        {"config-defaults": {"revision-idle-timeout-seconds": "301"}},
        "config-defaults: revision-idle-timeout-seconds (301) cannot be greater than revision-timeout-seconds (300)",
        id="idle-over-timeout",
    ),
    pytest.param(
        {"config-gc": {"min-non-active-revisions": "-1"}},
        "config-gc: min-non-active-revisions must be non-negative, was: -1",
        id="gc-min",
    ),
    pytest.param(
        {"config-gc": {"min-non-active-revisions": "30", "max-non-active-revisions": "10"}},
        "config-gc: min-non-active-revisions(30) must be <= max-non-active-revisions(10)",
        id="gc-min-over-max",
    ),
    pytest.param(
        {"config-gc": {"retain-since-create-time": "-1h"}},
        "config-gc: failed to parse retain-since-create-time: must be non-negative",
        id="gc-negative-duration",
    ),
    pytest.param(
        {"config-deployment": {"progress-deadline": "0s"}},
        "config-deployment: progress-deadline cannot be a non-positive duration, was 0s",
        id="progress-deadline",
    ),
    pytest.param(
        {"config-network": {"domain-template": "{{.Name}}.{{.Domain}}/path"}},
        "config-network: domain template has url path: /path",
        id="domain-template-path",
    ),
    pytest.param(
        {"config-network": {"domain-template": "{{.Name}}.{{.Domain}}?x=1"}},
        "config-network: domain template has url path: /?x=1",
        id="domain-template-query",
    ),
    pytest.param(
        {"config-network": {"domain-template": "{{.Name}"}},
        'config-network: template: domain-template:1: unexpected "}" in operand',
        id="domain-template-syntax",
    ),
    pytest.param(
        {"config-network": {"domain-template": "{{.Tag}}.{{.Domain}}"}},
        'config-network: template: domain-template:1:2: executing "domain-template" at <.Tag>: '
        "can't evaluate field Tag in type config.DomainTemplateValues",
        id="domain-template-field",
    ),
    pytest.param(
        {"config-network": {"domain-template": "{{.Annotations.team}}.{{.Domain}}"}},
        'config-network: parse "https://<no value>.baz.com": invalid character " " in host name',
        id="domain-template-no-value",
    ),
    pytest.param(
        {"config-network": {"domain-template": "{{.Name}}:web.{{.Domain}}"}},
        'config-network: parse "https://foo:web.baz.com": invalid port ":web.baz.com" after host',
        id="domain-template-port",
    ),
    pytest.param({"config-network": {"domain-template": ""}}, "config-network: empty hostname", id="empty-hostname"),
    pytest.param(
        {"config-network": {"tag-template": "{{.Namespace}}-{{.Tag}}"}},
        'config-network: template: tag-template:1:2: executing "tag-template" at <.Namespace>: '
        "can't evaluate field Namespace in type config.TagTemplateValues",
        id="tag-template-field",
    ),
    pytest.param(
        {"config-network": {"rollout-duration": "-1"}},
        "config-network: rollout-duration must be a positive integer, but was -1",
        id="rollout-duration",
    ),
    pytest.param(
        {"config-defaults": {"container-name-template": "{{.Name"}},
        "config-defaults: template: container-template:1: unclosed action",
        id="container-template-syntax",
    ),
    pytest.param(
        {"config-defaults": {"init-container-name-template": "{{.Tag}}"}},
        'config-defaults: error executing template: template: container-template:1:2: executing "container-template" '
        "at <.Tag>: can't evaluate field Tag in type v1.ObjectMeta",
        id="container-template-field",
    ),
    pytest.param(
        {"config-defaults": {"revision-memory-limit": "lots"}},
        'config-defaults: failed to parse "revision-memory-limit": quantities must match the regular expression '
        "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
        id="resource-quantity",
    ),
    pytest.param(
        {"config-network": {"default-external-scheme": "ftp"}},
        'config-network: default-external-scheme must be "http" or "https", was: "ftp"',
        id="scheme",
    ),
    pytest.param(
        {"config-domain": {"example.com": "selector: 3"}},
        'config-domain: value for "example.com" must be empty or a "selector:" mapping',
        id="domain-selector",
    ),
]


@pytest.mark.parametrize(("data", "message"), CASES)
def test_config_errors(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("text", "ns", "shown"),
    [
        pytest.param("60s", 60 * 10**9, "1m0s", id="minute"),
        pytest.param("1h", 3600 * 10**9, "1h0m0s", id="hour"),
        pytest.param("1.5h", 5400 * 10**9, "1h30m0s", id="fraction"),
        pytest.param("-42s", -42 * 10**9, "-42s", id="negative"),
        pytest.param("300ms", 300 * 10**6, "300ms", id="millis"),
        pytest.param("0", 0, "0s", id="zero"),
        pytest.param("2m3.5s", 123_500_000_000, "2m3.5s", id="mixed"),
    ],
)
def test_go_durations(text: str, ns: int, shown: str) -> None:
    assert parse_duration(text) == ns
    assert format_duration(ns) == shown


@pytest.mark.parametrize("text", ["", "x", "10", "1d", "-"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_features_and_the_network_keys_of_rollouts_and_domain_claims() -> None:
    """pkg/apis/config/features.go: Enabled/Allowed/Disabled in any case; anything else keeps the default."""
    cfg = parse_config(
        {
            "config-features": {
                "tag-header-based-routing": "enabled",
                "multi-container": "bogus",
                "new-flag": "Allowed",
            },
            "config-network": {"rollout-duration": "120", "autocreate-cluster-domain-claims": "true"},
        }
    )
    assert cfg.features.enabled("tag-header-based-routing")
    assert cfg.features.flag("multi-container") == "Enabled"
    assert cfg.features.flag("kubernetes.podspec-dryrun") == "Allowed"
    assert cfg.features.flag("new-flag") == "Allowed"
    assert not Config().features.enabled("kubernetes.podspec-volumes-hostpath")
    assert (cfg.network.rollout_duration, cfg.network.autocreate_cluster_domain_claims) == (120, True)


def test_unknown_sections_and_keys_are_ignored_with_warnings() -> None:
    """Knative's cm.Parse reads only the keys it knows and ignores the rest (silently); so does
    zeroserve, saying what it ignored."""
    warnings: list[str] = []
    cfg = parse_config(
        {
            "config-tracing": {"backend": "zipkin"},
            AS: {"stabel-window": "1m"},
            "config-network": {"ingress-class": "kourier.ingress.networking.knative.dev"},
            "config-features": {"some-future-flag": "enabled"},
        },
        warnings,
    )
    assert cfg == Config(features=cfg.features)
    assert warnings == [
        "config-tracing: section not used by zeroserve; ignored (it reads config-autoscaler, config-defaults, "
        "config-domain, config-network, config-gc, config-deployment, config-features, config-zeroserve-eventing, "
        "config-br-defaults, default-ch-webhook, config-ping-defaults, config-observability)",
        "config-autoscaler: key 'stabel-window' is not used by zeroserve; ignored",
        "config-network: key 'ingress-class' is not used by zeroserve; ignored",
        "config-features: key 'some-future-flag' is not used by zeroserve; ignored",
    ]


def test_ignored_keys_are_logged_once_per_content(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("config-network:\n  ingress-class: x\n")
    with caplog.at_level(logging.WARNING, logger="zeroserve.config"):
        load_config_file(path)
        load_config_file(path)
        assert [r.getMessage() for r in caplog.records] == [
            f"config: {path}: config-network: key 'ingress-class' is not used by zeroserve; ignored"
        ]
        path.write_text("config-network:\n  ingress-class: y\n")
        load_config_file(path)
        assert len(caplog.records) == 2


def test_network_legacy_keys_and_templates() -> None:
    """knative/networking config.go: camelCase legacy keys, the new key wins; templates any spacing."""
    cfg = parse_config(
        {
            "config-network": {
                "domainTemplate": "{{.Name}}.legacy.{{.Domain}}",
                "tagTemplate": "{{ .Name }}-{{ .Tag }}",
                "rolloutDuration": "30",
                "rollout-duration": "60",
            }
        }
    )
    assert cfg.network.domain_template == "{{.Name}}.legacy.{{.Domain}}"
    assert cfg.network.tag_template == "{{ .Name }}-{{ .Tag }}"
    assert cfg.network.rollout_duration == 60


def test_defaults_resource_keys_and_container_templates() -> None:
    """pkg/apis/config/defaults.go: revision-*-request/limit as quantities, both name templates,
    enable-service-links tri-state (anything but true/false leaves it unset)."""
    cfg = parse_config(
        {
            "config-defaults": {
                "revision-cpu-request": "100m",
                "revision-memory-limit": "1Gi",
                "revision-ephemeral-storage-request": "500Mi",
                "container-name-template": "{{.Name}}-app",
                "init-container-name-template": "{{.Name}}-init",
                "enable-service-links": "1",
            }
        }
    )
    d = cfg.defaults
    assert d.resource_defaults() == (
        ("cpu", "100m", None),
        ("memory", None, "1Gi"),
        ("ephemeral-storage", "500Mi", None),
    )
    assert (d.container_name_template, d.init_container_name_template) == ("{{.Name}}-app", "{{.Name}}-init")
    assert d.enable_service_links is None
    assert parse_config(config_to_data(cfg)) == cfg


def test_domain_values_keep_the_selector_and_ignore_the_rest() -> None:
    """route/config/domain.go decodes selector and type; zeroserve uses the selector."""
    warnings: list[str] = []
    cfg = parse_config({"config-domain": {"example.com": "selector:\n  app: web\ntype: wildcard\n"}}, warnings)
    assert cfg.domain.domains == {"example.com": {"app": "web"}}
    assert warnings == ["config-domain: example.com: key 'type' is not used by zeroserve; ignored"]
