"""Issue 12 on a real `zeroserve up`: the gateway answers the ingress network probe
(knative/networking pkg/http/probe) and, with config-features ``tag-header-based-routing: Enabled``,
routes ``Knative-Serving-Tag: TAG`` on the default host to the tag's revision, as Knative's Route
builds its ingress (pkg/reconciler/route/resources/ingress.go)."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

from tests.e2e.harness import REPO, Up
from tests.e2e.test_gateway_e2e import revision_of
from tests.support.polling import wait_for

HOST = "hello.default.localhost"


def request(up: Up, headers: dict[str, str]) -> tuple[int, str, dict[str, str]]:
    base = urlsplit(up.endpoints["gateway"])
    conn = http.client.HTTPConnection(base.hostname or "127.0.0.1", base.port, timeout=30)
    try:
        conn.request("GET", "/", headers={"Host": HOST} | headers)
        resp = conn.getresponse()
        return resp.status, resp.read().decode(errors="replace"), dict(resp.getheaders())
    finally:
        conn.close()


def two_revisions_with_the_old_one_tagged(up: Up) -> None:
    up.cli("apply", "-f", "examples/hello/service.yaml", "--wait")
    changed = (REPO / "examples/hello/service.yaml").read_text().replace("value: World", "value: Knative")
    up.cli("apply", "-f", "-", "--wait", input=changed)
    up.cli("service", "update", "hello", "--traffic", "@latest=100", "--tag", "hello-00001=old")


def test_a_tag_header_picks_the_tagged_revision_once_the_feature_is_enabled(up: Up) -> None:
    two_revisions_with_the_old_one_tagged(up)
    tagged = {"Knative-Serving-Tag": "old"}
    assert revision_of(request(up, tagged)[1]) == "hello-00002"  # Disabled (the default): ignored

    up.write_config("config-features:\n  tag-header-based-routing: Enabled\n")
    wait_for(lambda: revision_of(request(up, tagged)[1]) == "hello-00001", 30, "the tag header routed")
    assert {revision_of(request(up, tagged)[1]) for _ in range(20)} == {"hello-00001"}
    assert {revision_of(request(up, {})[1]) for _ in range(20)} == {"hello-00002"}
    unknown = {"Knative-Serving-Tag": "nope"}
    assert {revision_of(request(up, unknown)[1]) for _ in range(20)} == {"hello-00002"}  # the default route


def test_the_gateway_answers_the_ingress_network_probe(up: Up) -> None:
    up.cli("apply", "-f", "examples/hello/service.yaml", "--wait")
    status, body, headers = request(up, {"K-Network-Probe": "probe", "K-Network-Hash": "c0ffee"})
    assert (status, body, headers.get("K-Network-Hash")) == (200, "", "c0ffee")
    status, body, _ = request(up, {"K-Network-Probe": "probe"})
    assert (status, body) == (400, 'a probe request must contain a non-empty "K-Network-Hash" header\n')
