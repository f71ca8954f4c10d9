"""The ingress gateway (Knative's KIngress + Kourier): host routing, weighted splits, tags.

:mod:`zeroserve.gateway.routing` is the pure table; :mod:`zeroserve.gateway.server` runs it on
the shared streaming proxy (:mod:`zeroserve.net.proxy`).
"""

from __future__ import annotations

from zeroserve.gateway.routing import Backend, RouteEntry, RoutingTable, Rule
from zeroserve.gateway.server import Gateway

__all__ = ["Backend", "Gateway", "RouteEntry", "RoutingTable", "Rule"]
