"""Prometheus metrics of the Brokers and Triggers (Knative's ``event_count`` and
``event_dispatch_latencies`` in spirit, zeroserve's names).

Per Broker (labels ``namespace``, ``broker``): events accepted into the log and refused because it
was full. Per Trigger (``namespace``, ``broker``, ``trigger``): events delivered (a 2xx), retries
made, events dead-lettered (the dead letter sink took them), events dropped (retries spent and no
dead letter sink, or it failed too), the backlog (events still owed, read when scraped) and the
latency from arrival at the ingress to the subscriber's 2xx. The metrics live on the
``CollectorRegistry`` passed in (the API's ``/metrics``), never the global one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_BROKER = ("namespace", "broker")
_TRIGGER = (*_BROKER, "trigger")
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class EventingMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        def counter(name: str, doc: str, labels: tuple[str, ...] = _TRIGGER) -> Counter:
            return Counter(f"zeroserve_eventing_{name}", doc, labels, registry=registry)

        self.accepted = counter("accepted_events", "Events the ingress accepted (durable in the log).", _BROKER)
        self.refused = counter("refused_events", "Events refused because the log was full (429).", _BROKER)
        self.delivered = counter("delivered_events", "Events a Trigger's subscriber answered with a 2xx.")
        self.retried = counter("retried_deliveries", "Deliveries retried after a retryable failure.")
        self.dead_lettered = counter("dead_lettered_events", "Events the dead letter sink took.")
        self.dropped = counter("dropped_events", "Events given up on: retries spent, no dead letter sink took them.")
        self.backlog = Gauge(
            "zeroserve_eventing_backlog_events", "Events a Trigger still owes.", _TRIGGER, registry=registry
        )
        self.latency = Histogram(
            "zeroserve_eventing_delivery_latency_seconds",
            "From the event's arrival at the ingress to the subscriber's 2xx.",
            _TRIGGER,
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

    def track_backlog(self, labels: tuple[str, str, str], owed: Callable[[], int]) -> None:
        self.backlog.labels(*labels).set_function(lambda: float(owed()))

    def forget_trigger(self, labels: tuple[str, str, str]) -> None:
        for metric in (self.delivered, self.retried, self.dead_lettered, self.dropped, self.backlog, self.latency):
            with contextlib.suppress(KeyError):
                metric.remove(*labels)
