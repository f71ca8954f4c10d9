"""DeliverySpec arithmetic as Knative's kncloudevents/retries.go (pure, no sleeps)."""

from __future__ import annotations

import base64
import email.utils
from typing import Any

import pytest

from zeroserve.eventing.retry import RetryPolicy, error_extensions, next_delay, retry_after_seconds, should_retry


def delays(policy: RetryPolicy, statuses: list[int | None]) -> list[float | None]:
    return [next_delay(policy, attempt, status) for attempt, status in enumerate(statuses)]


def test_exponential_waits_d_2d_4d() -> None:
    policy = RetryPolicy.from_spec({"retry": 3, "backoffPolicy": "exponential", "backoffDelay": "PT0.2S"})
    assert delays(policy, [500, 500, 500, 500]) == pytest.approx([0.2, 0.4, 0.8, None])


def test_linear_waits_0_d_2d() -> None:
    policy = RetryPolicy.from_spec({"retry": 4, "backoffPolicy": "linear", "backoffDelay": "PT1S"})
    assert delays(policy, [503, 503, 503, 503, 503]) == [0.0, 1.0, 2.0, 3.0, None]


def test_config_br_defaults_total_wait() -> None:
    policy = RetryPolicy.from_spec({"retry": 10, "backoffPolicy": "exponential", "backoffDelay": "PT0.2S"})
    waits = delays(policy, [500] * 11)
    assert waits[-1] is None and sum(w for w in waits if w is not None) == pytest.approx(204.6)


@pytest.mark.parametrize(
    "delivery",
    [
        pytest.param({"retry": 2, "backoffDelay": "PT1S"}, id="delay-without-policy"),
        pytest.param({"retry": 2, "backoffPolicy": "exponential"}, id="policy-without-delay"),
        pytest.param({"retry": 2, "backoffPolicy": "exponential", "backoffDelay": "soon"}, id="bad-delay"),
    ],
)
def test_no_backoff_waits_zero(delivery: dict[str, Any]) -> None:
    assert delays(RetryPolicy.from_spec(delivery), [500, 500, 500]) == [0.0, 0.0, None]


def test_no_delivery_means_no_retries() -> None:
    assert delays(RetryPolicy.from_spec(None), [500]) == [None]
    assert RetryPolicy.from_spec({"retry": -1}).retry == 0


@pytest.mark.parametrize(
    ("status", "retried"),
    [
        (None, True),
        (-1, True),
        (404, True),
        (408, True),
        (409, True),
        (429, True),
        (500, True),
        (502, True),
        (503, True),
        (599, True),
        (400, False),
        (401, False),
        (403, False),
        (410, False),
        (301, False),
        (302, False),
        (200, False),
    ],
)
def test_selective_retry(status: int | None, retried: bool) -> None:
    assert should_retry(status) is retried
    policy = RetryPolicy(retry=5)
    assert (next_delay(policy, 0, status) is not None) is retried


def test_retry_after_only_with_retry_after_max() -> None:
    plain = RetryPolicy(retry=3, backoff_policy="exponential", backoff_delay=0.1)
    assert next_delay(plain, 0, 429, "30") == pytest.approx(0.1), "delivery-retryafter is opt-in"
    capped = RetryPolicy.from_spec(
        {"retry": 3, "backoffPolicy": "exponential", "backoffDelay": "PT0.1S", "retryAfterMax": "PT10S"}
    )
    assert next_delay(capped, 0, 429, "30") == 10.0
    assert next_delay(capped, 0, 503, "2") == 2.0
    assert next_delay(capped, 0, 500, "2") == pytest.approx(0.1), "only 429 and 503"
    assert next_delay(capped, 3, 503, "2") is None, "retries spent"
    ignore = RetryPolicy.from_spec({"retry": 1, "retryAfterMax": "PT0S"})
    assert next_delay(ignore, 0, 429, "30") == 0.0


def test_retry_after_http_date() -> None:
    now = 1_800_000_000.0
    assert retry_after_seconds(email.utils.formatdate(now + 7, usegmt=True), now) == 7.0
    assert retry_after_seconds("tomorrow", now) == 0.0
    assert retry_after_seconds(None, now) == 0.0


def test_per_attempt_timeout_and_format() -> None:
    policy = RetryPolicy.from_spec({"timeout": "PT2.5S", "format": "json"})
    assert (policy.timeout, policy.format) == (2.5, "json")


def test_error_extensions() -> None:
    ext = error_extensions("http://sub.default.svc.cluster.local/", 500, b"boom")
    assert ext == {
        "knativeerrordest": "http://sub.default.svc.cluster.local/",
        "knativeerrorcode": 500,
        "knativeerrordata": base64.b64encode(b"boom").decode(),
    }
    big = error_extensions("http://x/", None, b"\xff" * 5000)
    assert big["knativeerrorcode"] == 500, "no response is recorded as 500"
    assert len(big["knativeerrordata"]) == 1024
    assert base64.b64encode(b"\xff" * 5000).decode().startswith(big["knativeerrordata"])
