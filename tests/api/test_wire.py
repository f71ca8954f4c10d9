"""The wire shape: omitempty for what we declare, verbatim for what we only keep."""

from __future__ import annotations

from zeroserve.api.base import from_wire, to_wire
from zeroserve.api.revision import Revision
from zeroserve.api.service import Service


def test_raw_kubernetes_values_survive_a_round_trip() -> None:
    obj = {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "hello", "managedFields": [{"manager": "kubectl"}]},
        "spec": {
            "template": {
                "spec": {
                    "volumes": [{"name": "scratch", "emptyDir": {}}],
                    "containers": [{"command": ["app"], "securityContext": {}, "stdin": False}],
                }
            }
        },
    }
    assert to_wire(from_wire(Service, obj)) == obj


def test_zero_values_are_kept_and_empty_declared_collections_omitted() -> None:
    rev = Revision.model_validate({"metadata": {"name": "r"}, "status": {"actualReplicas": 0}})
    wire = to_wire(rev)
    assert wire["status"] == {"actualReplicas": 0}
    assert wire["metadata"] == {"name": "r"}  # no labels: {}, annotations: {}, ownerReferences: []
    assert "spec" not in wire
