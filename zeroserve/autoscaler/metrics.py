"""``Stat``: the one wire type the data plane shares with the autoscaler (Knative ``metrics.Stat``).

A queue-proxy reports one Stat per second (its time-averaged concurrency and request count
over that second); the activator pushes Stats for the requests it holds or proxies, wrapped in
a ``StatMessage`` naming the revision. On the wire a Stat is a JSON object with the field
names of Knative's ``stat.proto`` in protobuf's JSON casing (``averageConcurrentRequests``...).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypedDict


class StatWire(TypedDict, total=False):
    podName: str
    averageConcurrentRequests: float
    averageProxiedConcurrentRequests: float
    requestCount: float
    proxiedRequestCount: float
    processUptime: float
    timestamp: int


class StatMessageWire(TypedDict):
    namespace: str
    name: str
    stat: StatWire


_FLOATS = {
    "averageConcurrentRequests": "average_concurrent_requests",
    "averageProxiedConcurrentRequests": "average_proxied_concurrent_requests",
    "requestCount": "request_count",
    "proxiedRequestCount": "proxied_request_count",
    "processUptime": "process_uptime",
}


@dataclass(frozen=True, slots=True)
class Stat:
    """One measurement of one instance (or the extrapolated revision, see ``sample.extrapolate``)."""

    pod_name: str = ""
    average_concurrent_requests: float = 0.0
    """Time-averaged requests in flight (including queued ones) over the reporting period."""
    average_proxied_concurrent_requests: float = 0.0
    """Part of the above that came through the activator (``K-Proxy-Request: activator``)."""
    request_count: float = 0.0
    """Requests received per second over the reporting period."""
    proxied_request_count: float = 0.0
    process_uptime: float = 0.0
    timestamp: int = 0
    """Unix seconds at which the stat was produced."""

    @property
    def concurrency(self) -> float:
        """Load the autoscaler records: proxied load is reported by the activator itself."""
        return self.average_concurrent_requests - self.average_proxied_concurrent_requests

    @property
    def rps(self) -> float:
        return self.request_count - self.proxied_request_count

    def to_wire(self) -> StatWire:
        return {
            "podName": self.pod_name,
            "averageConcurrentRequests": self.average_concurrent_requests,
            "averageProxiedConcurrentRequests": self.average_proxied_concurrent_requests,
            "requestCount": self.request_count,
            "proxiedRequestCount": self.proxied_request_count,
            "processUptime": self.process_uptime,
            "timestamp": self.timestamp,
        }

    @classmethod
    def from_wire(cls, data: Mapping[str, object]) -> Stat:
        """Parse a wire dict; missing fields are 0 (proto3); ValueError on a wrong type."""
        values: dict[str, float] = {}
        for key, attr in _FLOATS.items():
            raw = data.get(key, 0.0)
            if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
                raise ValueError(f"stat field {key} must be a finite number, got {raw!r}")
            values[attr] = float(raw)
        name = data.get("podName", "")
        if not isinstance(name, str):
            raise ValueError(f"stat field podName must be a string, got {name!r}")
        ts = data.get("timestamp", 0)
        if isinstance(ts, str) and ts.lstrip("-").isdigit():
            ts = int(ts)  # proto3 JSON renders int64 as a string
        if isinstance(ts, bool) or not isinstance(ts, int):
            raise ValueError(f"stat field timestamp must be an integer, got {ts!r}")
        return cls(pod_name=name, timestamp=ts, **values)


def with_workers(own: Stat, others: list[Stat]) -> Stat:
    """One instance's stat as its one queue-proxy would report it, from the main process's own
    count and each gateway worker's (``up --workers``): the averages and rates add up (each
    process counted only its own requests); the name, uptime and time are the main process's."""
    if not others:
        return own
    return Stat(
        pod_name=own.pod_name,
        average_concurrent_requests=own.average_concurrent_requests
        + sum(o.average_concurrent_requests for o in others),
        average_proxied_concurrent_requests=own.average_proxied_concurrent_requests
        + sum(o.average_proxied_concurrent_requests for o in others),
        request_count=own.request_count + sum(o.request_count for o in others),
        proxied_request_count=own.proxied_request_count + sum(o.proxied_request_count for o in others),
        process_uptime=own.process_uptime,
        timestamp=own.timestamp,
    )


@dataclass(frozen=True, slots=True)
class StatMessage:
    """A Stat for one revision, as the activator sends it (Knative ``StatMessage``)."""

    namespace: str
    name: str
    stat: Stat

    def to_wire(self) -> StatMessageWire:
        return {"namespace": self.namespace, "name": self.name, "stat": self.stat.to_wire()}

    @classmethod
    def from_wire(cls, data: Mapping[str, object]) -> StatMessage:
        namespace, name, stat = data.get("namespace"), data.get("name"), data.get("stat")
        if not isinstance(namespace, str) or not isinstance(name, str) or not namespace or not name:
            raise ValueError("stat message needs a non-empty namespace and name")
        if not isinstance(stat, Mapping):
            raise ValueError("stat message needs a stat object")
        return cls(namespace, name, Stat.from_wire(stat))
