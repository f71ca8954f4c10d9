"""Route hosts from Knative's Go templates (controller.traffic.host; knative/serving
pkg/reconciler/route/domains/domains.go HostnameFromTemplate + DomainNameFromTemplate)."""

from __future__ import annotations

import pytest

from zeroserve.config import DomainConfig, NetworkConfig
from zeroserve.controller import traffic

DOM = DomainConfig({"example.com": {}})
LOCAL = {"networking.knative.dev/visibility": "cluster-local"}


@pytest.mark.parametrize(
    ("domain_template", "tag_template", "tag", "annotations", "want"),
    [
        pytest.param("{{.Name}}.{{.Namespace}}.{{.Domain}}", "{{.Tag}}-{{.Name}}", "", {}, "hello.ns.example.com"),
        pytest.param(
            "{{ .Name}}.{{ .Namespace }}.{{.Domain}}",
            "{{ .Tag }}-{{.Name}}",
            "v2",
            {},
            "v2-hello.ns.example.com",
            id="spacing",
        ),
        pytest.param(
            '{{.Name}}.{{index .Annotations "team"}}.{{.Domain}}',
            "{{.Tag}}-{{.Name}}",
            "",
            {"team": "blue"},
            "hello.blue.example.com",
            id="annotations",
        ),
        pytest.param(
            '{{if eq .Namespace "default"}}{{.Name}}{{else}}{{.Name}}-{{.Namespace}}{{end}}.{{.Domain}}',
            "{{.Name}}--{{.Tag}}",
            "c",
            {},
            "hello--c-ns.example.com",
            id="if-else",
        ),
        pytest.param(
            "{{.Name}}.{{.Namespace}}.{{.Domain}}",
            "{{.Name}}-{{.Tag}}",
            "",
            {},
            "hello.ns.example.com",
            id="no-tag-no-tag-template",
        ),
    ],
)
def test_templates_render_as_go_templates(
    domain_template: str, tag_template: str, tag: str, annotations: dict[str, str], want: str
) -> None:
    net = NetworkConfig(domain_template=domain_template, tag_template=tag_template)
    assert traffic.host("hello", "ns", {}, net, DOM, tag, annotations) == want


def test_cluster_local_routes_use_the_default_template() -> None:
    net = NetworkConfig(domain_template="{{.Name}}-{{.Namespace}}.{{.Domain}}")
    assert traffic.host("hello", "ns", LOCAL, net, DOM, "t") == "t-hello.ns.svc.cluster.local"


def test_labels_seen_by_the_template_carry_the_visibility() -> None:
    net = NetworkConfig(domain_template='{{.Name}}.{{index .Labels "app"}}.{{.Domain}}')
    assert traffic.host("hello", "ns", {"app": "shop"}, net, DOM) == "hello.shop.example.com"


@pytest.mark.parametrize(
    ("net", "annotations", "message"),
    [
        pytest.param(
            NetworkConfig(domain_template='{{.Name}}.{{index .Annotations "team"}}.{{.Domain}}'),
            {},
            'domain name error: invalid domain name "hello..example.com": url: Invalid value: '
            '"hello..example.com": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric '
            "characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "
            "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
            id="empty-label",
        ),
        pytest.param(
            NetworkConfig(domain_template="{{.Name}}"),
            {},
            'domain name error: invalid domain name "hello": url: Invalid value: "hello": '
            "should be a domain with at least two segments separated by dots",
            id="one-segment",
        ),
        pytest.param(
            NetworkConfig(domain_template="{{.Name}}.{{.Namespace | len | printf `%d`}}.{{.Domain}}"),
            {},
            "",
            id="pipelines-are-fine",
        ),
        pytest.param(
            NetworkConfig(domain_template="{{.Name}}.{{.Domain}}", tag_template="{{.Tag}}-{{.Namespace}}"),
            {},
            'domain name error: error executing the TagTemplate: template: tag-template:1:11: executing "tag-template" '
            "at <.Namespace>: can't evaluate field Namespace in type config.TagTemplateValues",
            id="tag-template-fails",
        ),
    ],
)
def test_a_host_that_is_no_domain_name_is_an_error(
    net: NetworkConfig, annotations: dict[str, str], message: str
) -> None:
    if not message:
        assert traffic.host("hello", "ns", {}, net, DOM, "t", annotations) == "t-hello.2.example.com"
        return
    with pytest.raises(traffic.DomainNameError) as info:
        traffic.host("hello", "ns", {}, net, DOM, "t" if "TagTemplate" in message else "", annotations)
    assert str(info.value) == message
