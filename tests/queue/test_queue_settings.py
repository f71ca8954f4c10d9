"""Queue-proxy settings from the environment, probe JSON, and the pure drain/probe timing helpers."""

from __future__ import annotations

import json

import pytest

from zeroserve.errors import ConfigError
from zeroserve.queue.drain import quiet_deadline
from zeroserve.queue.readiness import FAST_INTERVAL, SLOW_INTERVAL, WARM_INTERVAL, retry_interval
from zeroserve.queue.settings import Settings, UserProbe


def test_defaults_from_an_empty_environment() -> None:
    settings = Settings.from_env({})
    assert settings == Settings()
    assert (settings.container_concurrency, settings.timeout, settings.drain_quiet_period) == (0, 300.0, 1.0)
    assert settings.readiness_probe == UserProbe()


def test_knative_variables() -> None:
    probe = {"httpGet": {"path": "healthz", "httpHeaders": [{"name": "X", "value": "1"}]}, "periodSeconds": 5}
    settings = Settings.from_env(
        {
            "CONTAINER_CONCURRENCY": "3",
            "USER_PORT": "9000",
            "QUEUE_SERVING_PORT": "0",
            "QUEUE_ADMIN_PORT": "0",
            "REVISION_TIMEOUT_SECONDS": "60",
            "REVISION_RESPONSE_START_TIMEOUT_SECONDS": "10",
            "REVISION_IDLE_TIMEOUT_SECONDS": "20",
            "SERVING_READINESS_PROBE": json.dumps(probe),
            "SERVING_POD": "hello-1",
            "SERVING_REVISION": "hello-00001",
            "QUEUE_DRAIN_QUIET_PERIOD": "0.5",
        }
    )
    assert settings.queue_depth == 30
    assert (settings.user_port, settings.serving_port, settings.admin_port) == (9000, 0, 0)
    assert (settings.timeout, settings.response_start_timeout, settings.idle_timeout) == (60, 10, 20)
    assert settings.readiness_probe == UserProbe(kind="http", path="/healthz", headers=(("X", "1"),), period=5)
    assert not settings.readiness_probe.aggressive
    assert (settings.pod, settings.revision, settings.drain_quiet_period) == ("hello-1", "hello-00001", 0.5)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        pytest.param({"CONTAINER_CONCURRENCY": "lots"}, "CONTAINER_CONCURRENCY must be an integer, was: 'lots'"),
        pytest.param({"CONTAINER_CONCURRENCY": "-1"}, "CONTAINER_CONCURRENCY cannot be negative, was: -1"),
        pytest.param({"USER_PORT": "0"}, "USER_PORT must be a port number, was: 0"),
        pytest.param({"REVISION_TIMEOUT_SECONDS": "-5"}, "REVISION_TIMEOUT_SECONDS cannot be negative, was: -5.0"),
        pytest.param({"SERVING_READINESS_PROBE": "{"}, "SERVING_READINESS_PROBE is not valid JSON"),
        pytest.param({"SERVING_READINESS_PROBE": '{"periodSeconds": "x"}'}, "periodSeconds must be an integer"),
        pytest.param({"USER_PROTOCOL": "h2"}, "USER_PROTOCOL must be http1 or h2c, was: 'h2'"),
    ],
)
def test_invalid_values_are_quoted(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        Settings.from_env(environ)


def test_exec_and_tcp_probes_become_tcp() -> None:
    assert UserProbe.from_json('{"exec": {"command": ["true"]}}').kind == "tcp"
    assert UserProbe.from_json('{"tcpSocket": {"port": 8080}, "timeoutSeconds": 3}') == UserProbe(timeout=3.0)


def test_quiet_deadline_restarts_with_each_request() -> None:
    assert quiet_deadline(10.0, float("-inf"), 1.0) == 11.0
    assert quiet_deadline(10.0, 10.7, 1.0) == pytest.approx(11.7)
    assert quiet_deadline(10.0, 3.0, 1.0) == 11.0


def test_probe_retries_fast_for_the_first_100ms_then_back_off() -> None:
    assert retry_interval(0.0) == FAST_INTERVAL == 0.001
    assert retry_interval(0.099) == FAST_INTERVAL
    assert retry_interval(0.1) == WARM_INTERVAL == 0.005
    assert retry_interval(1.999) == WARM_INTERVAL
    assert retry_interval(2.0) == SLOW_INTERVAL == 0.05


@pytest.mark.parametrize(("value", "h2c"), [("", False), ("http1", False), ("h2c", True)])
def test_user_protocol_says_whether_the_app_speaks_h2c(value: str, h2c: bool) -> None:
    assert Settings.from_env({"USER_PROTOCOL": value}).h2c is h2c
