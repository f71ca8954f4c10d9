"""Pure builders of the objects reconcilers create (Knative's pkg/reconciler/*/resources)."""
