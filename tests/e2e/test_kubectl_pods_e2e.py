"""Pods through the real kubectl against `zeroserve up` (issue 22, item 3): each instance is a read-only
core/v1 Pod with Knative's labels, `kubectl get pods -l serving.knative.dev/service=NAME` lists it with
kube-apiserver's columns, `kubectl describe pod` shows it, `kubectl logs` reads its containers' output
(`--tail`, `-f`, `-c queue-proxy`), writes are refused, and the pod is gone once the revision scaled to
zero (a 6 s stable window and a 1 s scale-to-zero grace period in the config file)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.harness import Up
from tests.e2e.test_kubectl_e2e import HELLO, columns
from tests.support.kubectl import Kubectl
from tests.support.polling import wait_for

FAST = "config-autoscaler:\n  stable-window: 6s\n  scale-to-zero-grace-period: 1s\n"
HOST = "hello.default.localhost"


def test_pods_get_describe_logs_and_gone_at_zero(up: Up, tmp_path: Path) -> None:
    up.write_config(FAST)
    wait_for(lambda: "6s" in up.cli("config", "show").stdout, 10, "config written")
    k = Kubectl.for_data_dir(up.data_dir, tmp_path)
    manifest = tmp_path / "hello.yaml"
    manifest.write_text(HELLO)
    k.run("apply", "-f", str(manifest))
    k.run("wait", "--for=condition=Ready", "ksvc/hello", "--timeout=60s")

    def listed() -> list[dict[str, str]] | None:
        rows = columns(k.run("get", "pods", "-l", "serving.knative.dev/service=hello").stdout or "NAME\n")
        ready = rows[0].get("READY", "0/0").split("/") if rows else ["0", "1"]
        return rows if ready[0] == ready[1] else None

    rows = wait_for(listed, what="the instance as a ready pod")
    assert len(rows) == 1
    name = rows[0]["NAME"]
    assert name.startswith("hello-00001-deployment-")
    assert (rows[0]["STATUS"], rows[0]["RESTARTS"]) == ("Running", "0")
    header = k.run("get", "pods", "-o", "wide").stdout.splitlines()[0].split()
    assert header == [
        "NAME",
        "READY",
        "STATUS",
        "RESTARTS",
        "AGE",
        "IP",
        "NODE",
        "NOMINATED",
        "NODE",
        "READINESS",
        "GATES",
    ]

    pod = json.loads(k.run("get", "pod", name, "-o", "json").stdout)
    labels = pod["metadata"]["labels"]
    assert labels["serving.knative.dev/revision"] == "hello-00001"
    assert labels["serving.knative.dev/configuration"] == "hello"
    assert labels["app"] == "hello-00001"
    assert labels["serving.knative.dev/revisionUID"] and labels["serving.knative.dev/serviceUID"]
    assert [(o["kind"], o["name"]) for o in pod["metadata"]["ownerReferences"]] == [("Revision", "hello-00001")]
    assert pod["status"]["phase"] == "Running" and pod["status"]["podIP"] == "127.0.0.1"
    statuses = {c["name"]: c for c in pod["status"]["containerStatuses"]}
    # With the queue inline in the gateway (zeroserve up's default) the pod has no queue-proxy container.
    queue = "queue-proxy" in statuses
    assert set(statuses) == {"user-container", "queue-proxy"} if queue else {"user-container"}
    assert rows[0]["READY"] == ("2/2" if queue else "1/1")
    assert statuses["user-container"]["ready"] and "running" in statuses["user-container"]["state"]
    selected = k.run("get", "pods", "--field-selector", f"metadata.name={name},status.phase=Running", "-o", "name")
    assert selected.stdout.split() == [f"pod/{name}"]
    assert k.run("get", "pods", "--field-selector", "status.phase=Pending", "-o", "name").stdout.strip() == ""

    described = k.run("describe", "pod", name).stdout
    assert f"Name:             {name}" in described
    assert "Controlled By:  Revision/hello-00001" in described and "IP:               127.0.0.1" in described
    assert "user-container:" in described and ("queue-proxy:" in described) == queue

    refused = k.run("delete", "pod", name, check=False)
    assert refused.returncode != 0 and "read-only" in refused.stderr

    assert "hello listening on 127.0.0.1:" in k.run("logs", name, "-c", "user-container").stdout
    for _ in range(3):
        assert up.get(HOST)[0] == 200
    wait_for(lambda: k.run("logs", name, "-c", "user-container").stdout.count('"GET / HTTP/1.1" 200') == 3)
    tail = k.run("logs", name, "-c", "user-container", "--tail", "2").stdout.splitlines()
    assert len(tail) == 2 and all('"GET / HTTP/1.1" 200' in line for line in tail)
    with k.stream("logs", "-f", name, "-c", "user-container", "--tail", "1") as follow:
        assert '"GET / HTTP/1.1" 200' in follow.lines(1)[0]
        assert up.get(HOST)[0] == 200
        assert '"GET / HTTP/1.1" 200' in follow.lines(1)[0]
    bad = k.run("logs", name, "-c", "nope", check=False)
    assert bad.returncode != 0 and "container nope is not valid" in bad.stderr

    def gone() -> bool:
        return k.run("get", "pods", "-o", "name").stdout.strip() == ""

    wait_for(gone, 60, "the pod gone after scale to zero")


FLAKY = """\
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: flaky
spec:
  template:
    spec:
      containers:
        - command: ["python3", "-u", "-m", "http.server", "--bind", "127.0.0.1"]
          args: ["$(PORT)"]
          livenessProbe:
            httpGet:
              path: /healthz
            initialDelaySeconds: 1
            periodSeconds: 1
            failureThreshold: 1
"""


def test_a_failing_liveness_probe_restarts_the_container_of_the_same_pod(up: Up, tmp_path: Path) -> None:
    k = Kubectl.for_data_dir(up.data_dir, tmp_path)
    manifest = tmp_path / "flaky.yaml"
    manifest.write_text(FLAKY)  # http.server answers /healthz with 404
    k.run("apply", "-f", str(manifest))

    def pods() -> list[dict[str, str]]:
        return columns(k.run("get", "pods", "-l", "serving.knative.dev/service=flaky").stdout or "NAME\n")

    first = wait_for(pods, what="the pod")[0]["NAME"]
    restarted = wait_for(lambda: [r for r in pods() if r.get("RESTARTS", "0") not in ("0", "")], 60, "a restart")
    assert [r["NAME"] for r in restarted] == [first]
    pod = json.loads(k.run("get", "pod", first, "-o", "json").stdout)
    user = pod["status"]["containerStatuses"][0]
    assert user["name"] == "user-container" and user["restartCount"] >= 1
    assert user["lastState"]["terminated"]["reason"] == "Error"

    def previous() -> bool:  # once the container ran again, its log before the restart
        done = k.run("logs", first, "-c", "user-container", "--previous", check=False)
        return done.returncode == 0 and "Serving HTTP on 127.0.0.1" in done.stdout

    wait_for(previous, 30, "the log before the restart")
