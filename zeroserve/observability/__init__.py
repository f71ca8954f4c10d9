"""OpenTelemetry for zeroserve, set up from config-observability as Knative's components do
(knative/pkg ``observability``): :mod:`.tracing` (W3C trace context, the tracer provider and its
OTLP exporter). Off by default: with ``tracing-protocol: none`` nothing here runs per request."""
