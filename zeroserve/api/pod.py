"""core/v1 Pod, as zeroserve serves it: read-only, one per instance of a Revision.

zeroserve writes them (:mod:`zeroserve.controller.pods` from the runtime's instances, the builder is
:mod:`zeroserve.controller.resources.pod`); users get, list and watch them, never write them.
``spec`` and ``status`` keep the shapes of ``k8s.io/api/core/v1`` (PodSpec, PodStatus) as plain
objects: nothing here validates a user's pod.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from zeroserve.api.base import OpenModel
from zeroserve.api.meta import ObjectMeta


class Pod(OpenModel):
    api_version: Literal["v1"] = "v1"
    kind: Literal["Pod"] = "Pod"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: dict[str, Any] = Field(default_factory=dict)
    status: dict[str, Any] = Field(default_factory=dict)
