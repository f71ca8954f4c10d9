"""MakeConfiguration (pkg/reconciler/service/resources/configuration.go)."""

from __future__ import annotations

from collections.abc import Mapping

from zeroserve.api import annotations as ann
from zeroserve.api import labels
from zeroserve.api.configuration import Configuration, ConfigurationSpec
from zeroserve.api.service import Service
from zeroserve.controller.resources import names
from zeroserve.controller.resources.service import child_meta

ROLLOUT_DURATION_KEYS = (ann.ROLLOUT_DURATION, *ann.ALIASES[ann.ROLLOUT_DURATION])
"""The rollout is the Route's business: the Configuration does not get these annotations."""


def make_configuration(svc: Service, existing: Mapping[str, str] | None = None) -> Configuration:
    """The Configuration a Service owns: same name, the Service's template, and the Service's Route
    in its ``serving.knative.dev/routes`` annotation, added to the routes ``existing`` (the current
    Configuration's annotations) already lists (``MakeConfigurationFromExisting``). Its Revisions are
    so born ``active``: routed before any Route has seen them. It shares the Service's template
    (no deep copy: the caller serializes it at once; the copy was about a sixth of the CPU of a
    Service's reconcile)."""
    name = names.configuration(svc.metadata.name or "")
    meta = child_meta(svc, name)
    for key in ROLLOUT_DURATION_KEYS:
        meta.annotations.pop(key, None)
    routes = {r for r in (existing or {}).get(labels.ROUTES, "").split(",") if r}
    routes.add(names.route(svc.metadata.name or ""))
    meta.annotations[labels.ROUTES] = ",".join(sorted(routes))
    return Configuration(metadata=meta, spec=ConfigurationSpec(template=svc.spec.template))
