"""Container instances through a real `zeroserve up` (issue 13, parts 3 and 4).

Images come from a real registry on 127.0.0.1 (tests/support/images.py): examples/hello-image
(``/hello``: "Hello <TARGET>! (revision <K_REVISION>)" on $PORT, default 8080) and toybox
(tests/runtime/apps/toybox.c: serves, fetches 127.0.0.1:N, exits with a code). Every instance has
a network namespace of its own, reached by the gateway through a socket made inside it.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.e2e.harness import Up, condition
from tests.e2e.harness import get_object as get
from tests.support.images import Pushed, Registry, build_image
from tests.support.polling import wait_for
from zeroserve.net import netns
from zeroserve.runtime import pod

TOYBOX_C = Path(__file__).parents[1] / "runtime" / "apps" / "toybox.c"
FAST = "config-autoscaler:\n  stable-window: 6s\n  scale-to-zero-grace-period: 1s\n"
FEATURES = "config-features:\n  kubernetes.podspec-init-containers: enabled\n  multi-container-probing: enabled\n"

pytestmark = pytest.mark.skipif((why := netns.available()) is not None, reason=why or "")


@pytest.fixture(scope="module")
def toybox(
    registry: Registry, static_binary: Callable[[Path], Path], tmp_path_factory: pytest.TempPathFactory
) -> Pushed:
    """toybox as ``/bin/toybox``, entrypoint ``toybox serve 8080``: it binds 8080 whatever PORT says."""
    layout = build_image(
        tmp_path_factory.mktemp("toybox") / "layout",
        {"/bin/toybox": static_binary(TOYBOX_C)},
        entrypoint=["/bin/toybox", "serve", "8080"],
        env={"PATH": "/bin"},
    )
    return registry.push(layout, "e2e-containers/toybox:v1")


def apply(
    up: Up, name: str, template: dict[str, Any], traffic: list[dict[str, Any]] | None = None, *, check: bool = True
) -> bool:
    spec: dict[str, Any] = {"template": template}
    if traffic is not None:
        spec["traffic"] = traffic
    doc = {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}
    return up.cli("apply", "-f", "-", input=json.dumps(doc), check=check).returncode == 0


def ready(up: Up, kind: str, name: str, timeout: float = 60) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        obj = get(up, kind, name)
        return obj if condition(obj, "Ready").get("status") == "True" else None

    return wait_for(check, timeout, f"{kind} {name} Ready")  # type: ignore[no-any-return]


def replicas(up: Up, revision: str) -> int:
    return int(get(up, "revision", revision).get("status", {}).get("actualReplicas", -1))


def test_an_image_serves_scales_to_zero_and_comes_back_through_the_gateway(up: Up, hello_pushed: Pushed) -> None:
    up.write_config(FAST)
    wait_for(lambda: "6s" in up.cli("config", "show").stdout, 10, "config read")
    template = {"spec": {"containers": [{"image": hello_pushed.ref, "env": [{"name": "TARGET", "value": "box"}]}]}}
    apply(up, "hello", template)
    revision = ready(up, "revision", "hello-00001")
    assert revision["status"]["containerStatuses"][0]["imageDigest"] == hello_pushed.pinned
    assert up.get("hello.default.localhost") == (200, "Hello box! (revision hello-00001)\n")

    wait_for(lambda: replicas(up, "hello-00001") == 0, 90, "hello-00001 scaled to zero")
    assert up.get("hello.default.localhost") == (200, "Hello box! (revision hello-00001)\n")  # from zero
    assert replicas(up, "hello-00001") >= 1
    logs = up.cli("logs", "hello").stdout  # the app's stderr: one line per request
    assert '"GET /" 200' in logs and "hello listening on :8080" in logs


def test_two_revisions_of_an_image_that_binds_8080_serve_side_by_side(up: Up, toybox: Pushed) -> None:
    def template(name: str, stamp: str) -> dict[str, Any]:
        return {
            "metadata": {"name": f"fixed-{stamp}"},
            "spec": {"containers": [{"image": toybox.ref, "env": [{"name": "NAME", "value": name}]}]},
        }

    apply(up, "fixed", template("one", "00001"))
    ready(up, "revision", "fixed-00001")
    split = [
        {"revisionName": "fixed-00001", "percent": 50, "tag": "one"},
        {"revisionName": "fixed-00002", "percent": 50, "tag": "two"},
    ]
    apply(up, "fixed", template("two", "00002"), traffic=split)
    ready(up, "ksvc", "fixed")
    assert up.get("one-fixed.default.localhost") == (200, "one\n")
    assert up.get("two-fixed.default.localhost") == (200, "two\n")
    assert replicas(up, "fixed-00001") >= 1 and replicas(up, "fixed-00002") >= 1
    env = up.get("two-fixed.default.localhost", "/env")[1]
    assert "K_REVISION=fixed-00002" in env and "PORT=8080" in env


def test_sidecars_and_init_containers_run_as_in_a_pod(up: Up, toybox: Pushed) -> None:
    up.write_config(FEATURES)
    serve = {"name": "app", "image": toybox.ref, "ports": [{"containerPort": 8080}]}
    side = {
        "name": "side",
        "image": toybox.ref,
        "command": ["/bin/toybox", "serve", "9000", "from the sidecar"],
        "readinessProbe": {"tcpSocket": {"port": 9000}},
    }
    init = {"name": "warm-up", "image": toybox.ref, "command": ["/bin/toybox", "say", "warmed up"]}
    pod = {"spec": {"containers": [serve, side], "initContainers": [init]}}
    wait_for(lambda: apply(up, "pod", pod, check=False), 10, "admitted once up has read config-features")
    ready(up, "revision", "pod-00001")
    assert up.get("pod.default.localhost", "/fetch/9000") == (200, "from the sidecar\n")
    logs = up.cli("logs", "pod").stdout
    assert "warmed up" in logs and "listening on 9000" in logs

    failing = {"name": "migrate", "image": toybox.ref, "command": ["/bin/toybox", "exit", "3"]}
    apply(up, "broken", {"spec": {"containers": [serve], "initContainers": [failing]}})

    def failed() -> dict[str, Any] | None:
        rev = get(up, "revision", "broken-00001")
        return rev if condition(rev, "ContainerHealthy").get("status") == "False" else None

    rev = wait_for(failed, 60, "broken-00001 ContainerHealthy=False")
    healthy = condition(rev, "ContainerHealthy")
    assert healthy["reason"] == "ExitCode3"
    assert "init container 'migrate' exited with code 3" in healthy["message"]


def test_a_container_reaches_cluster_local_addresses_through_its_proxy(up: Up, toybox: Pushed) -> None:
    """The only way out of an instance's namespace: the platform's proxy on 127.0.0.1:8008 in it
    (``http_proxy``), which serves what zeroserve serves and nothing of the host."""
    apply(up, "callee", {"spec": {"containers": [{"image": toybox.ref, "env": [{"name": "NAME", "value": "callee"}]}]}})
    apply(up, "caller", {"spec": {"containers": [{"image": toybox.ref}]}})
    ready(up, "service", "callee")
    ready(up, "service", "caller")
    caller = "caller.default.localhost"
    env = set(up.get(caller, "/env")[1].splitlines())
    proxy = f"http://127.0.0.1:{pod.PROXY_PORT}"
    assert {f"http_proxy={proxy}", f"HTTP_PROXY={proxy}", "no_proxy=127.0.0.1,::1", "NO_PROXY=127.0.0.1,::1"} <= env
    assert f"ZEROSERVE_INTERNAL_URL={proxy}" in env

    assert up.get(caller, "/proxy/callee.default.svc.cluster.local/") == (200, "200\ncallee\n")
    assert up.get(caller, "/proxy/callee.default.svc/") == (200, "200\ncallee\n")
    # A Broker's address answers too (the ingress, in the gateway's process): GET is 405 there.
    assert up.get(caller, "/proxy/broker-ingress.knative-eventing.svc.cluster.local/default/default")[1] == "405\n"
    # localhost is the instance itself, as in a pod (toybox serves 8080 in it).
    assert up.get(caller, "/proxy/localhost:8080/") == (200, "200\ntoybox\n")

    # Never the platform: the API's port is the instance's own loopback there (nothing listens: 502),
    # and no other address is forwarded to at all (403).
    api_port = urlsplit(up.endpoints["api"]).port
    for host in ("127.0.0.1", "localhost", "0.0.0.0", "127.1"):
        status, body = up.get(caller, f"/proxy/{host}:{api_port}/version")
        assert status == 200 and body.startswith("502\n"), (host, body)
    for host in ("example.com", "10.0.0.1", "2130706433"):
        status, body = up.get(caller, f"/proxy/{host}:{api_port}/version")
        assert (status, body.split("\n")[0]) == (200, "403"), (host, body)
    # The platform's own listener never reaches the API either (resolved first, refused: 403).
    internal = urlsplit(up.endpoints["internal"])
    conn = http.client.HTTPConnection(internal.hostname or "127.0.0.1", internal.port, timeout=30)
    try:
        conn.request("GET", f"http://localhost:{api_port}/version")  # as a client given http_proxy sends it
        resp = conn.getresponse()
        assert resp.status == 403 and "zeroserve's own listeners" in resp.read().decode()
    finally:
        conn.close()
