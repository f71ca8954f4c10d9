"""Objects checked strictly against the official Kubernetes OpenAPI schemas (``kubernetes_validate``):
unknown fields, wrong types and missing required fields all fail."""

from __future__ import annotations

from typing import Any, Final

import kubernetes_validate

K8S_VERSION: Final = "1.33.0"
"""The Kubernetes version whose schemas the objects we build must satisfy."""


def validate(obj: dict[str, Any]) -> None:
    """Raise ``kubernetes_validate.ValidationError`` unless ``obj`` is a valid object of its kind."""
    kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
