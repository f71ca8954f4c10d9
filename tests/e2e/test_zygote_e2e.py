"""A Python app forked from its revision's zygote on a real ``zeroserve up`` (issue 19, item 3)."""

from __future__ import annotations

import json
import os
import signal

from tests.e2e.harness import REPO, Up
from tests.support.polling import wait_for
from zeroserve.runtime.supervisor import InstanceRecords


def test_a_wsgi_app_scales_from_a_zygote_through_the_gateway(up: Up) -> None:
    up.cli("apply", "-f", str(REPO / "examples" / "hello-wsgi" / "service.yaml"), "--wait")
    status, body = up.get("hello-wsgi.default.localhost")
    assert status == 200 and body.startswith("Hello World! (revision hello-wsgi-00001, pid "), body
    logs = up.data_dir / "logs" / "default" / "hello-wsgi-00001"
    zygote_log = (logs / "zygote.log").read_text()
    assert "Traceback" not in zygote_log
    pods = json.loads(up.api_get("/api/v1/namespaces/default/pods"))["items"]
    [pod] = [p for p in pods if p["metadata"]["name"].startswith("hello-wsgi-00001-deployment-")]
    assert pod["status"]["phase"] == "Running"
    assert "imported (wsgi)" in up.log()

    pid = InstanceRecords(up.data_dir / "instances.jsonl").load()[0].pid
    os.kill(pid, signal.SIGKILL)  # an instance crashes: the pod restarts, forked again; the zygote stays
    wait_for(lambda: up.get("hello-wsgi.default.localhost")[0] == 200 and _restarts(up) == 1, 30, "restart")
    assert up.log().count("imported (wsgi)") == 1


def _restarts(up: Up) -> int:
    pods = json.loads(up.api_get("/api/v1/namespaces/default/pods"))["items"]
    counts = [c["restartCount"] for p in pods for c in p["status"].get("containerStatuses", [])]
    return max(counts, default=0)
