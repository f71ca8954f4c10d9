"""zeroserve: Knative Serving, re-implemented in Python.

One machine out of the box (``zeroserve up``), Kubernetes when you outgrow it. The same
``serving.knative.dev/v1`` YAML, the same annotations, the same autoscaler numbers.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
