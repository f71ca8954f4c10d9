"""Knative resources as typed values (mirrors knative.dev/serving/pkg/apis/serving/v1).

Pure data: models, defaulting, validation and lifecycle helpers. No I/O lives here. The wire
shape (camelCase JSON, omitempty) is produced by :func:`zeroserve.api.base.to_wire`.
"""
