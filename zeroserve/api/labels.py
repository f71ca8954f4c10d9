"""Knative's label and annotation keys (pkg/apis/serving/register.go)."""

from __future__ import annotations

GROUP = "serving.knative.dev"

SERVICE = f"{GROUP}/service"
SERVICE_UID = f"{GROUP}/serviceUID"
CONFIGURATION = f"{GROUP}/configuration"
CONFIGURATION_UID = f"{GROUP}/configurationUID"
CONFIGURATION_GENERATION = f"{GROUP}/configurationGeneration"
REVISION = f"{GROUP}/revision"
REVISION_UID = f"{GROUP}/revisionUID"
ROUTE = f"{GROUP}/route"
ROUTES = f"{GROUP}/routes"  # annotation on Revisions: the routes that point at it
ROUTING_STATE = f"{GROUP}/routingState"
ROUTING_STATE_MODIFIED = f"{GROUP}/routingStateModified"
CREATOR = f"{GROUP}/creator"
LAST_MODIFIER = f"{GROUP}/lastModifier"
NO_GC = f"{GROUP}/no-gc"
PROGRESS_DEADLINE = f"{GROUP}/progress-deadline"
ROLLOUT_DURATION = f"{GROUP}/rollout-duration"

VISIBILITY = "networking.knative.dev/visibility"
VISIBILITY_CLUSTER_LOCAL = "cluster-local"

AUTOSCALING = "autoscaling.knative.dev"
