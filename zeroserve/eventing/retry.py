"""DeliverySpec as Knative's sender applies it: retries, backoff, Retry-After, dead-letter extensions. PURE.

Sources: ``pkg/kncloudevents/retries.go`` (``RetryConfigFromDeliverySpec``, ``SelectiveRetry``,
``generateBackoffFn``), ``event_dispatcher.go`` (``executeRequest``, ``isFailure``,
``dispatchExecutionInfoTransformers``) and go-retryablehttp's ``Client.Do``.

**Attempts.** ``retry: n`` is the number of *retries*: at most ``n + 1`` attempts per destination.
The dead letter sink is sent the original event with the same retry config.

**Backoff arithmetic** (verified in the code, which the docs describe differently). retryablehttp
calls ``Backoff(min, max, i, resp)`` with ``i`` = 0 before the first retry, 1 before the second…
and Knative's functions are ``delay * 2**i`` (exponential) and ``delay * i`` (linear). So with
``backoffDelay: d`` the waits before retries 1, 2, 3, 4… are

* exponential: ``d, 2d, 4d, 8d…``
* linear: ``0, d, 2d, 3d…`` (the first retry is immediate)

A ``backoffDelay`` without a ``backoffPolicy`` (or the reverse) waits 0 between retries, as
``NoRetries().Backoff`` does. ``config-br-defaults``' ``retry: 10, exponential, PT0.2S`` waits
0.2 s, 0.4 s … 102.4 s: about 205 s in all before the dead letter sink.

**Which failures are retried** (``SelectiveRetry``): no response (transport error, refused
connection, per-attempt ``timeout``), 404, 408, 409, 429 and every 5xx. Not 3xx, nor any other 4xx:
those fail at once (then go to the dead letter sink). A 2xx is a success; any other status is a
failure (``isFailure``).

**Retry-After** (``retryAfterMax``, behind Knative's ``delivery-retryafter`` feature): only when
``retryAfterMax`` is set, a 429 or 503 whose ``Retry-After`` is delay-seconds or an HTTP-date waits
``max(backoff, min(retry_after, retryAfterMax))``; ``PT0S`` therefore ignores the header.

**Dead letters** carry ``knativeerrordest`` (the URL that failed), ``knativeerrorcode`` (its last
status; 500 when there was no response, whose body is then ``dispatch error: …``) and
``knativeerrordata``: the base64 of the failed response's body, cut to 1024 characters.
"""

from __future__ import annotations

import base64
import email.utils
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from zeroserve.config.period import parse_period

ERROR_DEST: Final = "knativeerrordest"
ERROR_CODE: Final = "knativeerrorcode"
ERROR_DATA: Final = "knativeerrordata"
ERROR_DATA_MAX: Final = 1024
NO_RESPONSE_CODE: Final = 500
"""``executeRequest`` records a transport error as status 500."""

Format = Literal["binary", "json"]


@dataclass(frozen=True)
class RetryPolicy:
    """A DeliverySpec's retry half (the dead letter sink is a resolved URI, kept elsewhere)."""

    retry: int = 0
    backoff_policy: str | None = None
    backoff_delay: float | None = None
    """Seconds; None when ``backoffDelay`` is unset."""
    timeout: float | None = None
    """Per attempt, seconds; None: no limit of the sender's own."""
    retry_after_max: float | None = None
    """Seconds; None: ``Retry-After`` is not read (the Alpha/Beta behaviour of delivery-retryafter)."""
    format: Format | None = None

    @classmethod
    def from_spec(cls, delivery: Mapping[str, Any] | None) -> RetryPolicy:
        """``RetryConfigFromDeliverySpec``; a value that does not parse is left unset (admission
        refuses those, with their field paths)."""
        if not delivery:
            return cls()
        retry = delivery.get("retry")
        policy = delivery.get("backoffPolicy")
        fmt = delivery.get("format")
        return cls(
            retry=retry if isinstance(retry, int) and not isinstance(retry, bool) and retry > 0 else 0,
            backoff_policy=policy if policy in ("linear", "exponential") else None,
            backoff_delay=_period(delivery.get("backoffDelay")),
            timeout=_period(delivery.get("timeout")),
            retry_after_max=_period(delivery.get("retryAfterMax")),
            format=fmt if fmt in ("binary", "json") else None,
        )


def _period(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return max(0.0, parse_period(value))
    except ValueError:
        return None


def is_success(status: int | None) -> bool:
    return status is not None and 200 <= status < 300


def should_retry(status: int | None) -> bool:
    """``SelectiveRetry``: None is no response at all (transport error, timeout)."""
    if status is None or status == -1:
        return True
    return status >= 500 or status in (404, 408, 409, 429)


def policy_backoff(policy: RetryPolicy, attempt: int) -> float:
    """The wait before retry ``attempt + 1`` (``attempt`` counts from 0, as retryablehttp's ``i``)."""
    if policy.backoff_policy is None or policy.backoff_delay is None:
        return 0.0
    if policy.backoff_policy == "exponential":
        return policy.backoff_delay * 2.0**attempt
    return policy.backoff_delay * attempt


def retry_after_seconds(header: str | None, now: float) -> float:
    """``parseRetryAfterDuration``: delay-seconds or an HTTP-date (``now`` = wall-clock seconds);
    0 when absent or unreadable."""
    if not header:
        return 0.0
    if re.fullmatch(r"[+-]?\d+", header.strip()):
        return float(int(header.strip()))
    try:
        when = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return 0.0
    return when.timestamp() - now


def next_delay(
    policy: RetryPolicy, attempt: int, status: int | None, retry_after: str | None = None, now: float = 0.0
) -> float | None:
    """After failed attempt number ``attempt`` (0 = the first try): seconds to wait before the
    next one, or None to give up (not retryable, or ``retry`` retries already made)."""
    if is_success(status) or not should_retry(status) or attempt >= policy.retry:
        return None
    delay = policy_backoff(policy, attempt)
    if policy.retry_after_max is not None and status in (429, 503):
        delay = max(delay, min(retry_after_seconds(retry_after, now), policy.retry_after_max))
    return delay


def error_extensions(destination: str, status: int | None, body: bytes) -> dict[str, Any]:
    """The extensions a dead-lettered event carries (``dispatchExecutionInfoTransformers``)."""
    return {
        ERROR_DEST: destination,
        ERROR_CODE: NO_RESPONSE_CODE if status is None else status,
        ERROR_DATA: base64.b64encode(body).decode("ascii")[:ERROR_DATA_MAX],
    }
