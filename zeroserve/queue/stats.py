"""Time-weighted request accounting (Knative ``networking/pkg/http/stats/request.go``).

Pure: every method takes ``now`` (monotonic seconds). Between two events the current
concurrency is integrated over time, so ``report(now)`` gives the average number of requests
in flight since the previous report (queued ones included, when ``req_in`` is called before
the breaker) and how many arrived, split into all requests and those proxied by the activator
(``K-Proxy-Request: activator``), whose load the activator reports itself.
"""

from __future__ import annotations

from zeroserve.autoscaler.metrics import Stat

REPORT_PERIOD = 1.0
"""Seconds between reports; counts are divided by it to give requests per second (Knative's
queue-proxy divides by its reporting period, not by the exact time elapsed)."""


class RequestStats:
    """Concurrency and request counts of one instance (or one revision in the activator)."""

    def __init__(self, now: float, *, pod_name: str = "", report_period: float = REPORT_PERIOD) -> None:
        self.pod_name = pod_name
        self.report_period = report_period
        self._started = now
        self._last_change = now
        self.concurrency = 0
        self.proxied_concurrency = 0
        self._seconds_in_use = 0.0
        self._concurrency_seconds = 0.0
        self._proxied_seconds = 0.0
        self._count = 0
        self._proxied_count = 0

    def _compute(self, now: float) -> None:
        """Integrate the current concurrency up to ``now``; events out of order add nothing."""
        elapsed = now - self._last_change
        if elapsed > 0:
            self._seconds_in_use += elapsed
            self._concurrency_seconds += self.concurrency * elapsed
            self._proxied_seconds += self.proxied_concurrency * elapsed
            self._last_change = now

    def req_in(self, now: float, proxied: bool) -> None:
        self._compute(now)
        self.concurrency += 1
        self._count += 1
        if proxied:
            self.proxied_concurrency += 1
            self._proxied_count += 1

    def req_out(self, now: float, proxied: bool) -> None:
        self._compute(now)
        self.concurrency -= 1
        if proxied:
            self.proxied_concurrency -= 1

    def report(self, now: float) -> Stat:
        """The averages and counts since the last report; starts the next reporting period."""
        self._compute(now)
        average = proxied = 0.0
        if self._seconds_in_use > 0:
            average = self._concurrency_seconds / self._seconds_in_use
            proxied = self._proxied_seconds / self._seconds_in_use
        stat = Stat(
            pod_name=self.pod_name,
            average_concurrent_requests=average,
            average_proxied_concurrent_requests=proxied,
            request_count=self._count / self.report_period,
            proxied_request_count=self._proxied_count / self.report_period,
            process_uptime=now - self._started,
        )
        self._seconds_in_use = self._concurrency_seconds = self._proxied_seconds = 0.0
        self._count = self._proxied_count = 0
        return stat
