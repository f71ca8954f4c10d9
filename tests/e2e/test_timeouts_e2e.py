"""Issue 12 item 4 on a real `zeroserve up`: time a request waits in a breaker or in the activator
counts toward ``responseStartTimeoutSeconds``, as Knative wraps its breaker
(``pkg/queue/sharedmain/handlers.go``) and its throttler (``cmd/activator/main.go``) in the timeout
handler (``pkg/http/handler/timeout.go``).

The issue's case scaled by two (``responseStartTimeoutSeconds`` is whole seconds, and the margins
must hold on a loaded machine): containerConcurrency 1, responseStart 2 s, two concurrent requests
of 1.4 s. The first is answered at 1.4 s; the second waits for it, would be answered at 2.8 s, and
gets 504 at 2 s instead.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from tests.e2e.harness import Up
from tests.e2e.test_dataplane_e2e import sks_mode
from tests.support.polling import wait_for

HOST = "slow.default.localhost"


def manifest(burst_capacity: str) -> str:
    return json.dumps(
        {
            "apiVersion": "serving.knative.dev/v1",
            "kind": "Service",
            "metadata": {"name": "slow", "namespace": "default"},
            "spec": {
                "template": {
                    "metadata": {
                        "annotations": {
                            "autoscaling.knative.dev/min-scale": "1",
                            "autoscaling.knative.dev/max-scale": "1",
                            "autoscaling.knative.dev/target-burst-capacity": burst_capacity,
                        }
                    },
                    "spec": {
                        "containerConcurrency": 1,
                        "responseStartTimeoutSeconds": 2,
                        "containers": [{"command": ["python3", "examples/sleep/app.py"]}],
                    },
                }
            },
        }
    )


async def two_at_once(up: Up) -> list[tuple[int, str]]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:

        async def one() -> tuple[int, str]:
            async with session.get(up.endpoints["gateway"] + "/?ms=1400", headers={"Host": HOST}) as resp:
                return resp.status, await resp.text()

        return sorted(await asyncio.gather(one(), one()))


@pytest.mark.parametrize(
    ("burst_capacity", "mode", "message"),
    [
        pytest.param("200", "Proxy", "activator request timeout\n", id="held-by-the-activator"),
        pytest.param("0", "Serve", "request timeout\n", id="queued-in-the-breaker"),
    ],
)
def test_the_second_of_two_requests_at_cc1_times_out_while_waiting(
    up: Up, burst_capacity: str, mode: str, message: str
) -> None:
    up.cli("apply", "-f", "-", "--wait", input=manifest(burst_capacity))
    wait_for(lambda: sks_mode(up, "slow-00001") == mode, 30, f"{mode} mode")
    assert up.get(HOST, "/?ms=0")[0] == 200
    first, second = asyncio.run(two_at_once(up))
    assert first[0] == 200 and first[1].startswith("slept 1400 ms")
    assert second == (504, message)


def test_timeout_seconds_ends_a_started_stream_cleanly_with_the_message(up: Up) -> None:
    """``timeoutSeconds`` bounds the whole request even after the response started, and ends it
    as Knative's timeout handler does: the 504 is ignored once the head went out, the message is
    written as more body and the response ends cleanly (TestRevisionTimeout's "writes first byte
    before timeout" reads the whole body and wants 200). A response that did not start in time is 504."""
    stream = {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "stream", "namespace": "default"},
        "spec": {
            "template": {
                "metadata": {"annotations": {"autoscaling.knative.dev/min-scale": "1"}},
                "spec": {"timeoutSeconds": 1, "containers": [{"command": ["python3", "examples/stream/app.py"]}]},
            }
        },
    }
    up.cli("apply", "-f", "-", "--wait", input=json.dumps(stream))
    status, body = up.get("stream.default.localhost", "/?n=10&ms=400")
    assert status == 200
    events = [line for line in body.splitlines() if line.startswith("data: ")]
    assert 1 <= len(events) <= 4, body  # 1 s of a 3.6 s stream
    assert body.endswith("request timeout"), body
    assert up.get("stream.default.localhost", "/?n=1&ms=0") == (200, "id: 0\ndata: event 0 from stream-00001\n\n")
