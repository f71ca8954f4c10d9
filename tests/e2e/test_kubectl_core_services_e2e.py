"""core/v1 Services through the real kubectl (issue 22 items 1, 2, 4): the gateways' Services in
kourier-system (how Knative's test client finds the ingress), one Service per Route (Knative's
placeholder: ExternalName, the Route's labels and annotations, owned by it, gone with it), both
read-only to users; and a namespace made with ``kubectl create namespace``, a ksvc served in it, and
``kubectl delete namespace`` taking everything with it.
"""

from __future__ import annotations

import http.client
import json
from pathlib import Path

from tests.e2e.harness import Up
from tests.e2e.test_kubectl_e2e import HELLO, columns, kubectl
from tests.support.polling import wait_for


def _dial(port: int, host: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/", headers={"Host": host})
        return conn.getresponse().status
    finally:
        conn.close()


def test_gateway_and_route_services(up: Up, tmp_path: Path) -> None:
    k = kubectl(up, tmp_path)
    [gw, local] = columns(k.run("get", "svc", "-n", "kourier-system").stdout)
    assert (gw["NAME"], gw["TYPE"], gw["EXTERNAL-IP"]) == ("kourier", "LoadBalancer", "127.0.0.1")
    assert local["NAME"] == "kourier-internal"
    gateway = json.loads(k.run("get", "svc", "kourier", "-n", "kourier-system", "-o", "json").stdout)
    assert gateway["status"]["loadBalancer"]["ingress"] == [{"ip": "127.0.0.1"}]

    manifest = tmp_path / "hello.yaml"
    manifest.write_text(
        HELLO.replace("  name: hello\n", "  name: hello\n  labels: {team: a}\n  annotations: {note: x}\n")
    )
    k.run("apply", "-f", str(manifest))
    k.run("wait", "--for=condition=Ready", "ksvc/hello", "--timeout=60s")
    # As knative.dev/pkg/test/ingress with -ingressendpoint: the nodePort of the port equal to the URL's.
    node_port = next(p["nodePort"] for p in gateway["spec"]["ports"] if p["port"] == up.port)
    assert _dial(node_port, f"hello.default.localhost:{up.port}") == 200

    svc = json.loads(k.run("get", "svc", "hello", "-o", "json").stdout)
    assert svc["spec"]["type"] == "ExternalName"
    assert svc["spec"]["externalName"] == "kourier-internal.kourier-system.svc.cluster.local"
    assert svc["metadata"]["labels"]["serving.knative.dev/route"] == "hello"
    assert svc["metadata"]["labels"]["serving.knative.dev/service"] == "hello"
    assert svc["metadata"]["labels"]["team"] == "a"
    assert svc["metadata"]["annotations"]["note"] == "x"
    [owner] = svc["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("Route", "hello", True)
    assert "kourier-internal" in k.run("get", "svc", "-l", "serving.knative.dev/route=hello").stdout

    refused = k.run("delete", "svc", "hello", check=False)
    assert refused.returncode != 0 and "read-only" in refused.stderr

    k.run("delete", "ksvc", "hello")
    wait_for(lambda: "No resources found" in k.run("get", "svc").stderr, what="the Route's Service gone")


def test_a_namespace_of_its_own(up: Up, tmp_path: Path) -> None:
    k = kubectl(up, tmp_path)
    assert k.run("create", "namespace", "serving-tests").stdout.strip() == "namespace/serving-tests created"
    manifest = tmp_path / "hello.yaml"
    manifest.write_text(HELLO)
    k.run("apply", "-n", "serving-tests", "-f", str(manifest))
    k.run("wait", "-n", "serving-tests", "--for=condition=Ready", "ksvc/hello", "--timeout=60s")
    host = f"hello.serving-tests.localhost:{up.port}"
    assert up.get(host)[0] == 200
    assert [r["NAME"] for r in columns(k.run("get", "svc", "-n", "serving-tests").stdout)] == ["hello"]

    k.run("delete", "namespace", "serving-tests", "--timeout=60s")
    assert "NotFound" in k.run("get", "namespace", "serving-tests", check=False).stderr
    for what in ("ksvc", "revisions", "svc"):
        assert "No resources found" in k.run("get", what, "-n", "serving-tests").stderr
    wait_for(lambda: up.get(host)[0] == 404, what="the route withdrawn")
