"""MakeRevision (pkg/reconciler/configuration/resources/revision.go)."""

from __future__ import annotations

from datetime import datetime

from zeroserve.api import labels
from zeroserve.api.configuration import Configuration
from zeroserve.api.meta import ObjectMeta
from zeroserve.api.revision import Revision
from zeroserve.clock import rfc3339
from zeroserve.controller.resources import names, owners

PENDING = "pending"
ACTIVE = "active"
RESERVE = "reserve"


def revision_name(cfg: Configuration) -> str:
    """The BYO ``template.metadata.name``, else ``<config>-<generation %05d>``."""
    return cfg.spec.template.metadata.name or names.revision(cfg.metadata.name or "", cfg.metadata.generation or 0)


def make_revision(cfg: Configuration, now: datetime) -> Revision:
    """The Revision stamped from the Configuration's current template.

    Born ``pending`` (no route has seen it), or ``active`` with the Configuration's
    ``serving.knative.dev/routes`` when it has some: a Service's Configuration names its Route, so
    the Revision counts as routed from its creation and the labeler can move it to ``reserve``
    (Unreachable, GC-able) even if it never gets traffic."""
    template = cfg.spec.template
    meta = cfg.metadata
    rev_labels = {
        **template.metadata.labels,
        labels.CONFIGURATION: meta.name or "",
        labels.CONFIGURATION_UID: meta.uid or "",
        labels.CONFIGURATION_GENERATION: str(meta.generation or 0),
        labels.ROUTING_STATE: PENDING,
    }
    for key in (labels.SERVICE, labels.SERVICE_UID):
        if key in meta.labels:
            rev_labels[key] = meta.labels[key]
    annotations = dict(template.metadata.annotations)
    modifier = meta.annotations.get(labels.LAST_MODIFIER) or meta.annotations.get(labels.CREATOR)
    if modifier:
        annotations[labels.CREATOR] = modifier
        annotations[labels.LAST_MODIFIER] = modifier
    routes = meta.annotations.get(labels.ROUTES)
    if routes:
        annotations[labels.ROUTES] = routes
        rev_labels[labels.ROUTING_STATE] = ACTIVE
    annotations[labels.ROUTING_STATE_MODIFIED] = rfc3339(now)
    return Revision(
        metadata=ObjectMeta(
            name=revision_name(cfg),
            namespace=meta.namespace,
            labels=rev_labels,
            annotations=annotations,
            owner_references=[owners.controller_ref("Configuration", meta)],
        ),
        spec=template.spec.model_copy(deep=True),
    )
