"""Issue 22 item 9 on a real `zeroserve up` through the real kubectl: ``metadata.generateName`` for
Service, Configuration and Route (kube-apiserver's suffix, the object served end to end), and a
Configuration and a Route made on their own, not through a Service, serving and moving to a new
revision without one non-200 answer on the way (Knative's TestRouteCreation and
TestRouteAndConfigGenerateName, with the hello process instead of an image)."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

from tests.e2e.harness import Up, condition, get_object
from tests.e2e.test_kubectl_e2e import kubectl
from tests.support.polling import wait_for

HELLO = {"command": ["python3", "examples/hello/app.py"]}


def configuration(meta: dict[str, str], target: str) -> dict[str, Any]:
    container = {**HELLO, "env": [{"name": "TARGET", "value": target}]}
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Configuration",
        "metadata": meta,
        "spec": {"template": {"spec": {"containers": [container]}}},
    }


def route(meta: dict[str, str], config: str) -> dict[str, Any]:
    traffic = [{"configurationName": config, "latestRevision": True, "percent": 100}]
    return {"apiVersion": "serving.knative.dev/v1", "kind": "Route", "metadata": meta, "spec": {"traffic": traffic}}


def created_name(out: str, kind: str) -> str:
    """The name in kubectl's ``KIND/NAME created``."""
    found = re.search(rf"{kind}\.serving\.knative\.dev/(\S+) created", out)
    assert found, out
    return found.group(1)


def ready(up: Up, kind: str, name: str) -> None:
    wait_for(
        lambda: (o := get_object(up, kind, name)) and condition(o, "Ready").get("status") == "True" and o,
        60,
        f"{kind} {name} Ready",
    )


def test_generate_name_for_service_configuration_and_route(up: Up, tmp_path: Path) -> None:
    k = kubectl(up, tmp_path)
    svc = {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"generateName": "gen-svc-"},
        "spec": {"template": {"spec": {"containers": [HELLO]}}},
    }
    name = created_name(k.run("create", "-f", "-", input=json.dumps(svc)).stdout, "service")
    assert re.fullmatch(r"gen-svc-[a-z0-9]{5}", name), name
    ready(up, "ksvc", name)
    assert up.get(f"{name}.default.localhost") == (200, f"Hello World! (revision {name}-00001)\n")

    config = created_name(
        k.run("create", "-f", "-", input=json.dumps(configuration({"generateName": "gen-cfg-"}, "Generated"))).stdout,
        "configuration",
    )
    rt = created_name(
        k.run("create", "-f", "-", input=json.dumps(route({"generateName": "gen-rt-"}, config))).stdout, "route"
    )
    assert config.startswith("gen-cfg-") and rt.startswith("gen-rt-")
    ready(up, "route", rt)
    assert up.get(f"{rt}.default.localhost") == (200, f"Hello Generated! (revision {config}-00001)\n")


def test_a_configuration_and_a_route_on_their_own_move_to_a_new_revision_without_a_failure(
    up: Up, tmp_path: Path
) -> None:
    k = kubectl(up, tmp_path)
    k.run("create", "-f", "-", input=json.dumps(configuration({"name": "alone"}, "One")))
    k.run("create", "-f", "-", input=json.dumps(route({"name": "alone"}, "alone")))
    ready(up, "route", "alone")
    assert up.get("alone.default.localhost") == (200, "Hello One! (revision alone-00001)\n")

    answers: list[tuple[int, str]] = []
    stop = threading.Event()

    def prober() -> None:
        while not stop.is_set():
            answers.append(up.get("alone.default.localhost"))

    thread = threading.Thread(target=prober)
    thread.start()
    try:
        patch = {
            "spec": {"template": {"spec": {"containers": [{**HELLO, "env": [{"name": "TARGET", "value": "Two"}]}]}}}
        }
        k.run("patch", "configuration", "alone", "--type=merge", "-p", json.dumps(patch))
        wait_for(lambda: answers and answers[-1][1].startswith("Hello Two!"), 60, "the route on alone-00002")
    finally:
        stop.set()
        thread.join(60)
    assert answers and all(status == 200 for status, _ in answers), [a for a in answers if a[0] != 200][:3]
    assert {body for _, body in answers} <= {
        "Hello One! (revision alone-00001)\n",
        "Hello Two! (revision alone-00002)\n",
    }
