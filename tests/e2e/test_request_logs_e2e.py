"""Request logs (issue 18, item 2) on a real `zeroserve up`: config-observability's
``logging.enable-request-log`` and ``logging.request-log-template`` (a Go template) make the instance's
queue-proxy write one line per request, in the pod's queue-proxy log (the pods/log subresource with
``container=queue-proxy``, which ``kubectl logs POD -c queue-proxy`` reads in Knative);
probe requests only with ``logging.enable-probe-request-log``; a template that does not parse is
refused and the last good one stays. The default mode: the queue inline in the gateway."""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from urllib.parse import urlsplit

from tests.e2e.harness import Up
from tests.e2e.test_kubectl_e2e import HELLO, columns
from tests.support.kubectl import Kubectl
from tests.support.polling import wait_for

HOST = "hello.default.localhost"
TEMPLATE = (
    "{{.Request.Method}} {{.Request.RequestURI}} {{.Response.Code}} {{.Response.Size}} "
    "{{.Revision.Namespace}}/{{.Revision.Service}}/{{.Revision.Name}} {{.Revision.PodName}} "
    '{{.Request.Header.Get "X-Id"}}'
)


def config(template: str = TEMPLATE, probes: bool = False) -> str:
    return (
        "config-observability:\n"
        "  logging.enable-request-log: 'true'\n"
        f"  logging.request-log-template: {json.dumps(template)}\n"
        f"  logging.enable-probe-request-log: '{str(probes).lower()}'\n"
    )


def get(up: Up, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    base = urlsplit(up.endpoints["gateway"])
    conn = http.client.HTTPConnection(base.hostname or "127.0.0.1", base.port, timeout=30)
    try:
        conn.request("GET", path, headers={"Host": HOST, **headers})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_one_line_per_request_in_the_queue_proxy_log(up: Up, tmp_path: Path) -> None:
    up.write_config(config())
    # the running `up` must have applied it (it looks at the file once a second; `config show` reads the
    # file itself), or the first requests may come before request logs are on (a CI run timed out waiting for 5 lines)
    wait_for(lambda: "config: reloaded" in up.log(), 10, "config applied by up")
    k = Kubectl.for_data_dir(up.data_dir, tmp_path)
    manifest = tmp_path / "hello.yaml"
    manifest.write_text(HELLO)
    k.run("apply", "-f", str(manifest))
    k.run("wait", "--for=condition=Ready", "ksvc/hello", "--timeout=60s")
    pods = wait_for(lambda: columns(k.run("get", "pods", "-l", "serving.knative.dev/service=hello").stdout or "N\n"))
    pod = pods[0]["NAME"]

    sizes = []
    for i in range(5):
        status, body = get(up, f"/r{i}?q={i}", {"X-Id": f"id-{i}"})
        assert status == 200
        sizes.append(len(body))

    def lines() -> list[str]:
        # The pods/log subresource with container=queue-proxy (what `kubectl logs POD -c queue-proxy` asks;
        # inline the pod lists no queue-proxy container, and kubectl checks the name before asking).
        path = f"/api/v1/namespaces/default/pods/{pod}/log?container=queue-proxy"
        return k.run("get", "--raw", path).stdout.splitlines()

    got = wait_for(lambda: (found := lines()) and len(found) >= 5 and found, 10, "five request lines")
    # the first request may be the one that woke the revision (through the activator): logged the same way
    want = [f"GET /r{i}?q={i} 200 {sizes[i]} default/hello/hello-00001 {pod} id-{i}" for i in range(5)]
    assert got == want

    # Probes (Knative's IsProbe: a kube-probe/ User-Agent here; a K-Kubelet-Probe header would be answered by
    # the activator while it is in the path, as Knative's activator answers kubelet probes): logged only if asked.
    assert get(up, "/healthz", {"User-Agent": "kube-probe/1.30"}) == (200, b"Hello World! (revision hello-00001)\n")
    assert get(up, "/after-probe", {"X-Id": "x"})[0] == 200
    wait_for(lambda: len(lines()) >= 6, 10, "the request after the probe")
    assert [line.split()[1] for line in lines()[5:]] == ["/after-probe"]

    up.write_config(config(probes=True))
    wait_for(lambda: "logging.enable-probe-request-log: 'true'" in up.cli("config", "show").stdout, 10, "probes on")
    # the running `up` reads the file within a second: probe until one is logged
    wait_for(
        lambda: get(up, "/healthz", {"User-Agent": "kube-probe/1.30"})[0] == 200 and "/healthz" in lines()[-1],
        10,
        "probe",
    )
    assert lines()[-1].startswith("GET /healthz 200 ")
    seen = len(lines())

    # A template that does not parse: refused with its key, the last good one stays in force.
    up.write_config(config("{{.Request.Method"))
    wait_for(lambda: "logging.request-log-template: template: requestLog:1: unclosed action" in up.log(), 10)
    assert get(up, "/still", {"X-Id": "y"})[0] == 200
    wait_for(lambda: len(lines()) > seen, 10, "a line with the previous template")
    assert lines()[seen].startswith("GET /still 200 ") and lines()[seen].endswith(" y")

    # Knative's default template: JSON with the request's fields.
    up.write_config("config-observability:\n  logging.enable-request-log: 'true'\n")
    headers = {"User-Agent": "e2e", "traceparent": f"00-{'ab' * 16}-{'cd' * 8}-01"}
    wait_for(lambda: get(up, "/json?a=b", headers)[0] == 200 and "httpRequest" in lines()[-1], 10, "a JSON line")
    entry = json.loads(lines()[-1])
    assert entry["traceId"] == "ab" * 16
    r = entry["httpRequest"]
    assert (r["requestMethod"], r["requestUrl"], r["status"], r["userAgent"]) == ("GET", "/json?a=b", 200, "e2e")
    assert r["protocol"] == "HTTP/1.1" and r["serverIp"] == "127.0.0.1" and r["latency"].endswith("s")

    # Off again: nothing more is written.
    up.write_config("config-observability:\n  logging.enable-request-log: 'false'\n")

    def unlogged() -> bool:
        before = len(lines())
        return get(up, "/quiet", {})[0] == 200 and len(lines()) == before

    wait_for(unlogged, 10, "no more lines")
    count = len(lines())
    assert get(up, "/quiet", {})[0] == 200
    assert len(lines()) == count


def test_a_sidecar_queue_proxy_writes_them_to_its_stdout(tmp_path: Path) -> None:
    """Sidecar mode: the queue-proxy gets Knative's OBSERVABILITY_CONFIG and writes the lines to its
    stdout, which `kubectl logs POD -c queue-proxy` reads (this pod lists its queue-proxy container)."""
    up = Up(tmp_path / "data", args=("--queue-proxy", "sidecar"))
    (tmp_path / "data").mkdir(mode=0o700)
    up.write_config(config(probes=False))  # read at start: a sidecar keeps the settings it started with
    up.start()
    try:
        k = Kubectl.for_data_dir(up.data_dir, tmp_path)
        up.cli("service", "create", "hello", "--cmd", "python3", "--arg", "examples/hello/app.py")
        k.run("wait", "--for=condition=Ready", "ksvc/hello", "--timeout=60s")
        pods = wait_for(
            lambda: columns(k.run("get", "pods", "-l", "serving.knative.dev/service=hello").stdout or "N\n")
        )
        pod = pods[0]["NAME"]
        for i in range(3):
            assert get(up, f"/s{i}", {"X-Id": f"s-{i}"})[0] == 200

        def lines() -> list[str]:
            out = k.run("logs", pod, "-c", "queue-proxy").stdout.splitlines()
            return [line for line in out if line.startswith("GET ")]  # after its "queue-proxy ready" line

        got = wait_for(lambda: (found := lines()) and len(found) >= 3 and found, 10, "three lines")
        assert got == [f"GET /s{i} 200 36 default/hello/hello-00001 {pod} s-{i}" for i in range(3)]
    finally:
        up.stop()
