"""MakeRoute (pkg/reconciler/service/resources/route.go)."""

from __future__ import annotations

from zeroserve.api.route import Route, RouteSpec, TrafficTarget
from zeroserve.api.service import Service
from zeroserve.controller.resources import names
from zeroserve.controller.resources.service import child_meta


def make_route(svc: Service) -> Route:
    """The Route a Service owns: its traffic, with latest-revision targets naming its Configuration."""
    name = names.route(svc.metadata.name or "")
    traffic = svc.spec.traffic or [TrafficTarget(percent=100, latest_revision=True)]
    targets = [_target(t, names.configuration(svc.metadata.name or "")) for t in traffic]
    return Route(metadata=child_meta(svc, name), spec=RouteSpec(traffic=targets))


def _target(t: TrafficTarget, configuration: str) -> TrafficTarget:
    if t.revision_name:
        return t.model_copy(update={"configuration_name": None, "url": None})
    return t.model_copy(update={"configuration_name": configuration, "latest_revision": True, "url": None})
