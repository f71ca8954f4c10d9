"""DomainMapping (issue 12) on a real `zeroserve up`: a custom host answers from a Service through
the gateway, claimed automatically with config-network ``autocreate-cluster-domain-claims``, and
not claimed without it until a ClusterDomainClaim names the namespace (Knative's
pkg/reconciler/domainmapping/reconciler.go, test/conformance/api/v1beta1/domain_mapping_test.go)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import Up
from tests.support.polling import wait_for
from zeroserve import errors
from zeroserve.api import kinds
from zeroserve.api.base import Obj

HOST = "echo.example.com"
APP = (
    "import http.server, os\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    def do_GET(self):\n"
    "        b = ('host=%s original=%s\\n' % (self.headers['Host'], self.headers['K-Original-Host'])).encode()\n"
    "        self.send_response(200)\n"
    "        self.send_header('Content-Length', str(len(b)))\n"
    "        self.end_headers()\n"
    "        self.wfile.write(b)\n"
    "http.server.HTTPServer(('127.0.0.1', int(os.environ['PORT'])), H).serve_forever()\n"
)
SERVICE = f"""apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: echo
spec:
  template:
    spec:
      containers:
        - command: ["python3", "-c", {APP!r}]
"""
CLAIM = f"""apiVersion: networking.internal.knative.dev/v1alpha1
kind: ClusterDomainClaim
metadata:
  name: {HOST}
spec:
  namespace: default
"""


@pytest.fixture
def autocreating(tmp_path: Path) -> Iterator[Up]:
    """`zeroserve up` started with config-network's autocreate-cluster-domain-claims on."""
    server = Up(tmp_path / "data")
    server.data_dir.mkdir(parents=True)
    (server.data_dir / "config.yaml").write_text('config-network:\n  autocreate-cluster-domain-claims: "true"\n')
    server.start()
    try:
        yield server
    finally:
        if server.proc is not None:  # stop() closes the log of one that died too
            server.stop()


def curl(up: Up, host: str) -> str:
    exe = shutil.which("curl")
    assert exe, "curl is needed for this test (.ci/run installs it)"
    done = subprocess.run(
        [exe, "-s", "-H", f"Host: {host}", f"http://127.0.0.1:{up.port}/"], capture_output=True, text=True, timeout=60
    )
    return done.stdout


def mapping(up: Up) -> Obj | None:
    try:
        return up.client().get(kinds.DOMAINMAPPING, "default", HOST)
    except errors.NotFound:
        return None


def condition(obj: Obj | None, type_: str) -> tuple[str, str, str]:
    for c in (obj or {}).get("status", {}).get("conditions") or []:
        if c["type"] == type_:
            return c["status"], c.get("reason", ""), c.get("message", "")
    return "", "", ""


def test_a_mapped_host_answers_from_the_service_and_stops_when_deleted(autocreating: Up) -> None:
    up = autocreating
    up.cli("apply", "-f", "-", "--wait", input=SERVICE)
    created = up.cli("domain", "create", HOST, "--ref", "echo")
    assert created.stdout == f"Domain mapping '{HOST}' created in namespace 'default'.\n"
    wait_for(lambda: condition(mapping(up), "Ready")[0] == "True", 60, "the DomainMapping Ready")
    dm = mapping(up)
    assert dm is not None and dm["status"]["url"] == f"http://{HOST}:{up.port}"
    # Knative's ingress rewrites the Host to route and appends K-Original-Host, which the
    # queue-proxy turns back into the Host: the app sees the mapped host.
    assert curl(up, HOST) == f"host={HOST} original=None\n"
    claim = up.client().get(kinds.CLUSTERDOMAINCLAIM, "", HOST)
    assert claim["spec"] == {"namespace": "default"}
    assert up.cli("get", "dm").stdout.split("\n")[1].split() == [HOST, f"http://{HOST}:{up.port}", "True"]
    assert up.cli("get", "cdc").stdout.split("\n")[1].split()[0] == HOST

    assert up.cli("domain", "delete", HOST).stdout == f"Domain mapping '{HOST}' deleted in namespace 'default'.\n"
    wait_for(lambda: mapping(up) is None, 30, "the DomainMapping gone")
    assert curl(up, HOST).startswith(f"no route for host '{HOST}'")
    assert up.cli("get", "cdc").stderr == "No resources found.\n"  # the finalizer gave the claim back
    assert curl(up, "echo.default.localhost") == "host=echo.default.localhost original=None\n"


def test_without_autocreate_a_claim_must_exist(up: Up) -> None:
    up.cli("apply", "-f", "-", "--wait", input=SERVICE)
    up.cli("domain", "create", HOST, "--ref", "echo")
    not_owned = ("False", "DomainAlreadyClaimed", "The domain name is already in use by another DomainMapping")
    wait_for(lambda: condition(mapping(up), "DomainClaimed") == not_owned, 30, "DomainClaimed False")
    assert condition(mapping(up), "Ready") == not_owned
    assert up.cli("get", "dm").stdout.split("\n")[1].split()[2:] == ["False", "DomainAlreadyClaimed"]
    assert curl(up, HOST).startswith(f"no route for host '{HOST}'")

    up.cli("apply", "-f", "-", input=CLAIM)  # an operator grants the namespace the host
    wait_for(lambda: condition(mapping(up), "Ready")[0] == "True", 30, "the DomainMapping Ready")
    assert curl(up, HOST) == f"host={HOST} original=None\n"
    up.cli("domain", "delete", HOST)
    wait_for(lambda: mapping(up) is None, 30, "the DomainMapping gone")
    assert up.client().get(kinds.CLUSTERDOMAINCLAIM, "", HOST)["spec"] == {"namespace": "default"}
