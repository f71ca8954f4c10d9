"""A container instance's queue-proxy gets what a process instance's gets from up (OBSERVABILITY_CONFIG)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from zeroserve.observability.settings import OBSERVABILITY_ENV
from zeroserve.runtime import pod
from zeroserve.runtime.base import Workload, WorkloadKey
from zeroserve.runtime.local import LocalRuntime


def workload() -> Workload:
    return Workload(
        key=WorkloadKey("default", "hello-00001"),
        service="hello",
        configuration="hello",
        image=None,
        command=(sys.executable, "-c", "pass"),
        args=(),
        working_dir=None,
        env=(),
        container_port=8080,
        readiness_probe=None,
        liveness_probe=None,
        termination_grace_seconds=5,
        container_concurrency=0,
        timeout_seconds=300,
    )


async def test_a_container_instances_queue_proxy_has_the_observability_config(tmp_path: Path) -> None:
    config = json.dumps({"tracing": {"protocol": "http/protobuf"}, "enableRequestLog": True})
    runtime = LocalRuntime(tmp_path, subreaper=False, queue_proxy=True, queue_proxy_env={OBSERVABILITY_ENV: config})
    w = workload()
    try:
        process_sidecar = runtime._sidecar_spec(w, "hello-00001-deployment-abc-x1", 8080, set())
        container_sidecar = pod.queue_sidecar(w, process_sidecar)  # as _container_spec makes it
    finally:
        await runtime.close()
    assert process_sidecar.env[OBSERVABILITY_ENV] == config
    assert container_sidecar.env[OBSERVABILITY_ENV] == config
    assert container_sidecar.env["QUEUE_SERVING_PORT"] == str(pod.QUEUE_SERVING_PORT)
    assert container_sidecar.env["SERVING_SERVICE"] == "hello"
