"""DomainMapping (``serving.knative.dev/v1beta1``) and its ClusterDomainClaim (``networking.internal...``).

A DomainMapping maps a custom host, its name, to an Addressable in its namespace (a Knative
Service or Route): the gateway serves the host by sending each request on to the target's
cluster-local host. A ClusterDomainClaim, cluster-scoped and named after the host, says which
namespace may map it (``spec.namespace``); with config-network ``autocreate-cluster-domain-claims``
the DomainMapping reconciler creates it.

Mirrors Knative's ``pkg/apis/serving/v1beta1/domainmapping_{types,defaults,validation,lifecycle}.go``,
knative.dev/pkg ``apis/duck/v1/knative_reference.go`` (KReference: defaults and validation) and
knative/networking ``pkg/apis/networking/v1alpha1/domainclaim_types.go``. One difference: a name
with a trailing dot is refused (Knative's FQDN check strips it, then the Kubernetes API server
refuses the name as a DNS-1123 subdomain; here both checks are one).
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import Field

from zeroserve.api import fielderrors, names, validation
from zeroserve.api.base import Model
from zeroserve.api.conditions import READY, ConditionManager, ConditionSet
from zeroserve.api.meta import ObjectMeta, Status
from zeroserve.api.route import Addressable
from zeroserve.config import Config
from zeroserve.errors import FieldError

CLUSTER_DOMAIN = "cluster.local"
"""``network.GetClusterDomainName()``: no DomainMapping may be named under it."""

DOMAIN_CLAIMED = "DomainClaimed"
REFERENCE_RESOLVED = "ReferenceResolved"
INGRESS_READY = "IngressReady"
CERTIFICATE_PROVISIONED = "CertificateProvisioned"

DOMAIN_MAPPING_CONDITIONS = ConditionSet(
    READY, (DOMAIN_CLAIMED, REFERENCE_RESOLVED, INGRESS_READY, CERTIFICATE_PROVISIONED)
)
"""``domainMappingCondSet``: a living condition set (Ready from the four)."""

EXTERNAL_DOMAIN_TLS_NOT_ENABLED = "external-domain-tls is not enabled"
TLS_PROVIDED_EXTERNALLY = "TLS certificate was provided externally"
DOMAIN_ALREADY_CLAIMED = "The domain name is already in use by another DomainMapping"


# ----------------------------------------------------------------------------- types


class KReference(Model):
    """knative.dev/pkg ``duckv1.KReference``; ``namespace`` defaults to the holder's."""

    kind: str | None = None
    namespace: str | None = None
    name: str | None = None
    api_version: str | None = None
    group: str | None = None
    address: str | None = None

    def describe(self) -> str:
        """``KReference.String()``, as Knative's resolver quotes it in its errors."""
        return (
            f"Kind = {self.kind or ''}, Namespace = {self.namespace or ''}, Name = {self.name or ''}, "
            f"APIVersion = {self.api_version or ''}, Group = {self.group or ''}, Address = {self.address or ''}"
        )


class SecretTLS(Model):
    secret_name: str | None = None


class DomainMappingSpec(Model):
    ref: KReference = Field(default_factory=KReference)
    tls: SecretTLS | None = None


class DomainMappingStatus(Status):
    url: str | None = None
    address: Addressable | None = None


class DomainMapping(Model):
    api_version: Literal["serving.knative.dev/v1beta1"] = "serving.knative.dev/v1beta1"
    kind: Literal["DomainMapping"] = "DomainMapping"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: DomainMappingSpec = Field(default_factory=DomainMappingSpec)
    status: DomainMappingStatus = Field(default_factory=DomainMappingStatus)

    def is_ready(self) -> bool:
        """Ready is True and the latest spec has been observed (``DomainMapping.IsReady``)."""
        ready = self.status.get_condition(READY)
        return (
            self.status.observed_generation == self.metadata.generation and ready is not None and ready.status == "True"
        )


class ClusterDomainClaimSpec(Model):
    namespace: str | None = None
    """The namespace allowed to create a DomainMapping named as this claim."""


class ClusterDomainClaim(Model):
    """A cluster-wide reservation of a domain name (no status, as Knative's)."""

    api_version: Literal["networking.internal.knative.dev/v1alpha1"] = "networking.internal.knative.dev/v1alpha1"
    kind: Literal["ClusterDomainClaim"] = "ClusterDomainClaim"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: ClusterDomainClaimSpec = Field(default_factory=ClusterDomainClaimSpec)


def make_domain_claim(dm: DomainMapping) -> ClusterDomainClaim:
    """``resources.MakeDomainClaim``: named after the mapping, owned by nobody, for its namespace."""
    return ClusterDomainClaim(
        metadata=ObjectMeta(name=dm.metadata.name), spec=ClusterDomainClaimSpec(namespace=dm.metadata.namespace)
    )


# ----------------------------------------------------------------------------- defaults


def default_domain_mapping(dm: DomainMapping) -> None:
    """``DomainMapping.SetDefaults`` less SetUserInfo (``api.defaults`` adds it): the ref's namespace."""
    if not dm.spec.ref.namespace:
        dm.spec.ref.namespace = dm.metadata.namespace


# ----------------------------------------------------------------------------- validation


def _q(s: str) -> str:
    """Go's ``%q``."""
    return json.dumps(s, ensure_ascii=False)


def _fqdn_errors(name: str) -> str:
    """``validation.IsFullyQualifiedDomainName(field.NewPath("name"), name).ToAggregate()`` as text."""
    if not name:
        return "name: Required value"
    if msgs := names.is_dns1123_subdomain(name):
        return f"name: Invalid value: {_q(name)}: {','.join(msgs)}"
    labels = name.split(".")
    if len(labels) < 2:
        return f"name: Invalid value: {_q(name)}: should be a domain with at least two segments separated by dots"
    for label in labels:
        if msgs := names.is_dns1123_label(label):
            return f"name: Invalid value: {_q(label)}: {','.join(msgs)}"
    return ""


def validate_metadata(dm: DomainMapping, old: DomainMapping | None) -> list[FieldError]:
    """``validateMetadata`` (relative to ``metadata``): the name is the host."""
    meta = dm.metadata
    errs: list[FieldError] = []
    if meta.generate_name:
        errs.append(fielderrors.err_disallowed("generateName"))
    name = meta.name or ""
    if problem := _fqdn_errors(name):
        errs.append(FieldError(f"invalid name {_q(name)}: {problem}", ("name",)))
    if name.endswith("." + CLUSTER_DOMAIN):
        errs.append(
            FieldError(
                f"invalid name {_q(name)}: must not be a subdomain of cluster local domain {_q(CLUSTER_DOMAIN)}",
                ("name",),
            )
        )
    if meta.namespace and (msgs := names.is_dns1123_label(meta.namespace)):
        errs.append(validation.err_invalid_value(meta.namespace, "namespace", ", ".join(msgs)))
    if old is not None:
        errs += validation.via(
            validation.validate_creator_modifier(old.spec, dm.spec, old.metadata, meta), "annotations"
        )
    return errs


def validate_reference(ref: KReference, parent_namespace: str) -> list[FieldError]:
    """``KReference.Validate`` without the experimental ``group`` (Knative Serving does not allow it)."""
    errs: list[FieldError] = []
    if not ref.name:
        errs.append(validation.err_missing("name"))
    if ref.group:
        errs.append(fielderrors.err_disallowed("group"))
    if not ref.api_version:
        errs.append(validation.err_missing("apiVersion"))
    if not ref.kind:
        errs.append(validation.err_missing("kind"))
    if ref.namespace and parent_namespace and ref.namespace != parent_namespace:
        details = f"parent namespace: {_q(parent_namespace)} does not match ref: {_q(ref.namespace)}"
        errs.append(FieldError("mismatched namespaces", ("namespace",), details))
    return errs


def validate_domain_mapping(dm: DomainMapping, old: DomainMapping | None, cfg: Config) -> list[FieldError]:
    """``DomainMapping.Validate``: metadata (the host), ``spec.ref`` (and the CRD's ``tls.secretName``)."""
    errs = validation.via(validate_metadata(dm, old), "metadata")
    spec = validation.via(validate_reference(dm.spec.ref, dm.metadata.namespace or ""), "ref")
    if dm.spec.tls is not None and not dm.spec.tls.secret_name:
        spec.append(validation.err_missing("tls.secretName"))
    return errs + validation.via(spec, "spec")


def validate_cluster_domain_claim(
    cdc: ClusterDomainClaim, old: ClusterDomainClaim | None, cfg: Config
) -> list[FieldError]:
    """Knative has no webhook for claims; the CRD's schema requires ``spec.namespace``, and the API
    server a DNS-1123 subdomain name."""
    errs = validation.via(validation.validate_object_meta(cdc.metadata, dns1035=False), "metadata")
    if not cdc.spec.namespace:
        errs.append(validation.err_missing("spec.namespace"))
    elif msgs := names.is_dns1123_label(cdc.spec.namespace):
        errs.append(validation.err_invalid_value(cdc.spec.namespace, "spec.namespace", ", ".join(msgs)))
    return errs


# ----------------------------------------------------------------------------- lifecycle
# ``domainmapping_lifecycle.go``'s Mark* methods, on a manager of DOMAIN_MAPPING_CONDITIONS.


def mark_ingress_not_configured(cm: ConditionManager) -> None:
    cm.mark_unknown(INGRESS_READY, "IngressNotConfigured", "Ingress has not yet been reconciled.")


def mark_domain_claimed(cm: ConditionManager) -> None:
    cm.mark_true(DOMAIN_CLAIMED)


def mark_domain_claim_not_owned(cm: ConditionManager) -> None:
    """Knative says this also when no claim exists and autocreate is off."""
    cm.mark_false(DOMAIN_CLAIMED, "DomainAlreadyClaimed", DOMAIN_ALREADY_CLAIMED)


def mark_domain_claim_failed(cm: ConditionManager, reason: str) -> None:
    cm.mark_false(DOMAIN_CLAIMED, "DomainClaimFailed", reason)


def mark_reference_resolved(cm: ConditionManager) -> None:
    cm.mark_true(REFERENCE_RESOLVED)


def mark_reference_not_resolved(cm: ConditionManager, reason: str) -> None:
    cm.mark_false(REFERENCE_RESOLVED, "ResolveFailed", reason)


def mark_tls_not_enabled(cm: ConditionManager) -> None:
    cm.mark_true(CERTIFICATE_PROVISIONED, "TLSNotEnabled", EXTERNAL_DOMAIN_TLS_NOT_ENABLED)


def mark_certificate_not_required(cm: ConditionManager) -> None:
    cm.mark_true(CERTIFICATE_PROVISIONED, "CertificateExternallyProvided", TLS_PROVIDED_EXTERNALLY)


def mark_ingress_ready(cm: ConditionManager) -> None:
    cm.mark_true(INGRESS_READY)
