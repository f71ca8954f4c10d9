"""Multi-container probing (config-features ``multi-container-probing``): a pod's queue-proxy gets
``SERVING_READINESS_PROBE`` as Knative's JSON list, the serving container's probe first (``null``
when it has none) and each sidecar's at its own port; it is ready only when every one passes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.queue.qp_app import App, run_app
from tests.queue.test_queue_proxy_process import env_for, start_queue_proxy
from zeroserve.errors import ConfigError
from zeroserve.queue.settings import Settings, UserProbe


def test_the_list_form_parses_each_probe_at_its_port() -> None:
    text = json.dumps(
        [
            None,
            {"httpGet": {"path": "healthz", "port": 9000}, "periodSeconds": 5},
            None,
            {"tcpSocket": {"port": 9001}},
        ]
    )
    first, http, tcp = UserProbe.list_from_json(text)
    assert first == UserProbe()  # the serving container has no probe: the default TCP one, at the user port
    assert (http.kind, http.path, http.port, http.period) == ("http", "/healthz", 9000, 5.0)
    assert (tcp.kind, tcp.port) == ("tcp", 9001)
    settings = Settings.from_env({"SERVING_READINESS_PROBE": text})
    assert (settings.readiness_probe, settings.sidecar_probes) == (first, (http, tcp))


def test_the_serving_containers_probe_runs_at_the_user_port_whatever_it_names() -> None:
    (probe,) = UserProbe.list_from_json(json.dumps({"httpGet": {"path": "/ready", "port": 8080}}))
    assert (probe.path, probe.port) == ("/ready", None)
    listed = UserProbe.list_from_json(json.dumps([{"httpGet": {"port": 8080}}, {"httpGet": {"port": 9000}}]))
    assert [p.port for p in listed] == [None, 9000]


@pytest.mark.parametrize("text", ["[1]", '["x"]', "[null, 3]", "7"])
def test_a_bad_list_is_a_clear_error(text: str) -> None:
    with pytest.raises(ConfigError, match="SERVING_READINESS_PROBE must be a JSON object or a list of them"):
        UserProbe.list_from_json(text)


@pytest.fixture
async def apps() -> AsyncIterator[tuple[App, App]]:
    async with run_app() as serving, run_app() as sidecar:
        yield serving, sidecar


async def test_the_queue_proxy_is_ready_only_when_the_sidecar_is(apps: tuple[App, App]) -> None:
    serving, sidecar = apps
    sidecar.healthy = False
    probes = [None, {"httpGet": {"path": "/healthz", "port": sidecar.port}, "periodSeconds": 1}]
    proc, port, _ = await start_queue_proxy(env_for(serving, SERVING_READINESS_PROBE=json.dumps(probes)))
    try:
        async with aiohttp.ClientSession() as client:

            async def probe() -> int:
                async with client.get(f"http://127.0.0.1:{port}/", headers={"K-Network-Probe": "queue"}) as r:
                    return r.status

            assert await probe() == 503  # the serving container answers, its sidecar does not yet
            assert sidecar.health_checks >= 1
            sidecar.healthy = True
            assert await probe() == 200
    finally:
        proc.terminate()
        await proc.wait()
