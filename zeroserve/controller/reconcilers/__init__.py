"""One level-triggered reconciler per kind (Knative's pkg/reconciler/<kind>/<kind>.go)."""
