"""DomainMapping and ClusterDomainClaim admission: defaults and validation, through admit().

Expected messages are Knative's: pkg/apis/serving/v1beta1/domainmapping_validation_test.go and
domainmapping_defaults_test.go; knative.dev/pkg apis/duck/v1/knative_reference.go (ref rules).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from zeroserve.api import labels
from zeroserve.api.admission import admit
from zeroserve.api.base import Obj
from zeroserve.api.conditions import READY
from zeroserve.api.domainmapping import (
    DOMAIN_MAPPING_CONDITIONS,
    DomainMapping,
    DomainMappingStatus,
    KReference,
    make_domain_claim,
    mark_domain_claim_not_owned,
    mark_domain_claimed,
    mark_ingress_ready,
    mark_reference_resolved,
    mark_tls_not_enabled,
)
from zeroserve.api.kinds import CLUSTERDOMAINCLAIM, DOMAINMAPPING, lookup
from zeroserve.clock import FakeClock
from zeroserve.config import Config
from zeroserve.errors import FieldError, Invalid


def dm(host: str = "hello.example.com", ns: str = "ns", **ref: Any) -> Obj:
    r = {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": "hello", **ref}
    return {
        "apiVersion": "serving.knative.dev/v1beta1",
        "kind": "DomainMapping",
        "metadata": {"name": host, "namespace": ns},
        "spec": {"ref": {k: v for k, v in r.items() if v is not None}},
    }


def errors_of(obj: Obj, old: Obj | None = None, kind: Any = DOMAINMAPPING) -> list[FieldError]:
    with pytest.raises(Invalid) as info:
        admit(kind, obj, old, Config())
    return info.value.errors


def test_kinds_are_knatives() -> None:
    assert (DOMAINMAPPING.api_version, DOMAINMAPPING.plural, DOMAINMAPPING.namespaced) == (
        "serving.knative.dev/v1beta1",
        "domainmappings",
        True,
    )
    assert (CLUSTERDOMAINCLAIM.api_version, CLUSTERDOMAINCLAIM.plural, CLUSTERDOMAINCLAIM.namespaced) == (
        "networking.internal.knative.dev/v1alpha1",
        "clusterdomainclaims",
        False,
    )
    assert lookup("dm") is DOMAINMAPPING and lookup("cdc") is CLUSTERDOMAINCLAIM


def test_defaults_the_ref_namespace_and_the_creator() -> None:
    out = admit(DOMAINMAPPING, dm(), None, Config(), user="alice")
    assert out["spec"]["ref"] == {
        "kind": "Service",
        "namespace": "ns",
        "name": "hello",
        "apiVersion": "serving.knative.dev/v1",
    }
    assert out["metadata"]["annotations"] == {labels.CREATOR: "alice", labels.LAST_MODIFIER: "alice"}
    assert admit(DOMAINMAPPING, copy.deepcopy(out), None, Config(), user="alice") == out


def test_a_spec_change_records_the_modifier() -> None:
    old = admit(DOMAINMAPPING, dm(), None, Config(), user="alice")
    new = copy.deepcopy(old)
    new["spec"]["ref"]["name"] = "other"
    out = admit(DOMAINMAPPING, new, old, Config(), user="bob")
    assert out["metadata"]["annotations"] == {labels.CREATOR: "alice", labels.LAST_MODIFIER: "bob"}


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        pytest.param(
            dm("invalid"),
            [
                FieldError(
                    'invalid name "invalid": name: Invalid value: "invalid": should be a domain with at least two '
                    "segments separated by dots",
                    ("metadata.name",),
                )
            ],
            id="one-segment",
        ),
        pytest.param(
            dm("notallowed.svc.cluster.local"),
            [
                FieldError(
                    'invalid name "notallowed.svc.cluster.local": must not be a subdomain of cluster local domain '
                    '"cluster.local"',
                    ("metadata.name",),
                )
            ],
            id="cluster-local",
        ),
        pytest.param(
            dm("Hello.example.com"),
            [
                FieldError(
                    'invalid name "Hello.example.com": name: Invalid value: "Hello.example.com": a lowercase RFC '
                    "1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start "
                    "and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
                    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
                    ("metadata.name",),
                )
            ],
            id="upper-case",
        ),
        pytest.param(
            dm("wrong-ref-ns.example.com", "good-namespace", namespace="bad-namespace"),
            [
                FieldError(
                    "mismatched namespaces",
                    ("spec.ref.namespace",),
                    'parent namespace: "good-namespace" does not match ref: "bad-namespace"',
                )
            ],
            id="ref-other-namespace",
        ),
        pytest.param(dm(kind=None), [FieldError("missing field(s)", ("spec.ref.kind",))], id="ref-no-kind"),
        pytest.param(
            dm(apiVersion=None, name=None),
            [FieldError("missing field(s)", ("spec.ref.apiVersion", "spec.ref.name"))],
            id="ref-no-apiversion-no-name",
        ),
        pytest.param(
            dm(group="serving.knative.dev"),
            [FieldError("must not set the field(s)", ("spec.ref.group",))],
            id="ref-group",
        ),
    ],
)
def test_validation(obj: Obj, expected: list[FieldError]) -> None:
    assert errors_of(obj) == expected


def test_generate_name_is_refused_and_the_name_required() -> None:
    obj = dm()
    obj["metadata"] = {"generateName": "cant-use-this", "namespace": "ns"}
    assert errors_of(obj) == [
        FieldError('invalid name "": name: Required value', ("metadata.name",)),
        FieldError("must not set the field(s)", ("metadata.generateName",)),
    ]


def test_tls_needs_a_secret_name() -> None:
    obj = dm()
    obj["spec"]["tls"] = {}
    assert errors_of(obj) == [FieldError("missing field(s)", ("spec.tls.secretName",))]
    obj["spec"]["tls"] = {"secretName": "my-cert"}
    assert admit(DOMAINMAPPING, obj, None, Config())["spec"]["tls"] == {"secretName": "my-cert"}


def test_the_creator_annotation_is_immutable() -> None:
    old = admit(DOMAINMAPPING, dm(), None, Config(), user="alice")
    new = copy.deepcopy(old)
    new["metadata"]["annotations"][labels.CREATOR] = "mallory"
    assert errors_of(new, old) == [
        FieldError("annotation value is immutable", (f"metadata.annotations.{labels.CREATOR}",))
    ]


def test_unknown_fields_are_refused() -> None:
    obj = dm()
    obj["spec"]["host"] = "x"
    assert [e.paths for e in errors_of(obj)] == [("spec.host",)]


def test_cluster_domain_claim() -> None:
    claim = {
        "apiVersion": "networking.internal.knative.dev/v1alpha1",
        "kind": "ClusterDomainClaim",
        "metadata": {"name": "hello.example.com"},
        "spec": {"namespace": "ns"},
    }
    assert admit(CLUSTERDOMAINCLAIM, copy.deepcopy(claim), None, Config()) == claim
    del claim["spec"]
    assert errors_of(claim, kind=CLUSTERDOMAINCLAIM) == [FieldError("missing field(s)", ("spec.namespace",))]


def test_make_domain_claim_names_the_host_and_the_namespace() -> None:
    mapping = DomainMapping.model_validate(dm())
    claim = make_domain_claim(mapping)
    assert (claim.metadata.name, claim.spec.namespace, claim.metadata.owner_references) == (
        "hello.example.com",
        "ns",
        [],
    )


def test_lifecycle_ready_from_the_four_conditions() -> None:
    """domainmapping_lifecycle_test.go: Ready only once every dependent is True."""
    status = DomainMappingStatus()
    cm = DOMAIN_MAPPING_CONDITIONS.manage(status, FakeClock().wall())
    cm.initialize()
    assert [c.type for c in status.conditions] == [
        "CertificateProvisioned",
        "DomainClaimed",
        "IngressReady",
        "Ready",
        "ReferenceResolved",
    ]
    for mark in (mark_domain_claimed, mark_reference_resolved, mark_tls_not_enabled):
        mark(cm)
        assert status.get_condition(READY).status == "Unknown"  # type: ignore[union-attr]
    mark_ingress_ready(cm)
    assert status.get_condition(READY).status == "True"  # type: ignore[union-attr]
    mark_domain_claim_not_owned(cm)
    ready = status.get_condition(READY)
    assert (ready.status, ready.reason, ready.message) == (  # type: ignore[union-attr]
        "False",
        "DomainAlreadyClaimed",
        "The domain name is already in use by another DomainMapping",
    )


def test_kreference_string_as_knatives() -> None:
    ref = KReference(kind="Service", namespace="ns", name="x", api_version="serving.knative.dev/v1")
    assert ref.describe() == (
        "Kind = Service, Namespace = ns, Name = x, APIVersion = serving.knative.dev/v1, Group = , Address = "
    )
