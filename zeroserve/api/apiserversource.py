"""ApiServerSource (``sources.knative.dev/v1``): types, defaults, validation and lifecycle (PURE).

Mirrors knative/eventing ``pkg/apis/sources/v1/apiserver_{types,defaults,validation,lifecycle}.go``
and knative.dev/pkg ``apis/duck/v1/source_types.go`` (``SourceSpec``: ``sink`` and ``ceOverrides``;
``SourceStatus``: ``sinkUri``, ``ceAttributes``). The event types are ``pkg/apis/sources/register.go``'s.

Differences, each toward a clearer error: a ``resources[i]`` whose apiVersion and kind zeroserve
does not serve is refused at admission (Knative accepts it and its adapter logs "doesn't exist"
and skips it: a cluster may install the CRD later, zeroserve's kinds are fixed); a label selector's
operators are checked as apimachinery's ``ValidateLabelSelector`` checks them (Knative fails later,
in its reconciler). ``serviceAccountName`` is accepted and defaulted to ``default`` but not
enforced: zeroserve has no RBAC, its adapter reads the store with zeroserve's own rights (the
``SufficientPermissions`` condition is True, as Knative's after a passing access review).
"""

from __future__ import annotations

import json
import re
from typing import Literal

from pydantic import Field

from zeroserve.api import fielderrors, validation
from zeroserve.api.base import Model
from zeroserve.api.conditions import READY, ConditionManager, ConditionSet
from zeroserve.api.eventing import Destination, SubscriptionsAPIFilter, validate_destination, validate_filters
from zeroserve.api.meta import ObjectMeta, Status
from zeroserve.api.selectors import Requirement, Selector
from zeroserve.config import Config
from zeroserve.errors import FieldError

GROUP = "sources.knative.dev"
API_VERSION = f"{GROUP}/v1"
REFERENCE_MODE = "Reference"
RESOURCE_MODE = "Resource"
DEFAULT_SERVICE_ACCOUNT = "default"

ADD_EVENT = "dev.knative.apiserver.resource.add"
UPDATE_EVENT = "dev.knative.apiserver.resource.update"
DELETE_EVENT = "dev.knative.apiserver.resource.delete"
ADD_REF_EVENT = "dev.knative.apiserver.ref.add"
UPDATE_REF_EVENT = "dev.knative.apiserver.ref.update"
DELETE_REF_EVENT = "dev.knative.apiserver.ref.delete"
RESOURCE_MODE_TYPES = (ADD_EVENT, DELETE_EVENT, UPDATE_EVENT)
REFERENCE_MODE_TYPES = (ADD_REF_EVENT, DELETE_REF_EVENT, UPDATE_REF_EVENT)
"""``ApiServerSourceEvent{Resource,Reference}ModeTypes``, in register.go's order."""

EVENT_TYPE_DESCRIPTIONS = {
    ADD_EVENT: "CloudEvent type used for add operations when in Resource mode",
    DELETE_EVENT: "CloudEvent type used for delete operations when in Resource mode",
    UPDATE_EVENT: "CloudEvent type used for update operations when in Resource mode",
    ADD_REF_EVENT: "CloudEvent type used for add operations when in Reference mode",
    DELETE_REF_EVENT: "CloudEvent type used for delete operations when in Reference mode",
    UPDATE_REF_EVENT: "CloudEvent type used for update operations when in Reference mode",
}
"""The CRD's ``registry.knative.dev/eventTypes`` annotation: the EventTypes' descriptions."""

NEW_APISERVER_FILTERS = "new-apiserversource-filters"
"""Eventing's config-features flag for ``spec.filters`` (``feature.NewAPIServerFilters``), Disabled by default."""

# Conditions (apiserver_lifecycle.go)
SINK_PROVIDED = "SinkProvided"
DEPLOYED = "Deployed"
SUFFICIENT_PERMISSIONS = "SufficientPermissions"
OIDC_IDENTITY_CREATED = "OIDCIdentityCreated"
CONDITIONS = ConditionSet(READY, (SINK_PROVIDED, DEPLOYED, SUFFICIENT_PERMISSIONS, OIDC_IDENTITY_CREATED))

_EXTENSION_NAME = re.compile(r"[a-zA-Z0-9]+")
_OPERATORS = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}


# ----------------------------------------------------------------------------- types


class LabelSelectorRequirement(Model):
    key: str = ""
    operator: str = ""
    values: list[str] = Field(default_factory=list)


class LabelSelector(Model):
    """apimachinery ``metav1.LabelSelector``."""

    match_labels: dict[str, str] = Field(default_factory=dict)
    match_expressions: list[LabelSelectorRequirement] = Field(default_factory=list)

    def selector(self) -> Selector:
        """``LabelSelectorAsSelector`` (call after validation: unknown operators are skipped)."""
        reqs = [Requirement(k, "=", frozenset({v})) for k, v in sorted(self.match_labels.items())]
        for e in self.match_expressions:
            op = _OPERATORS.get(e.operator)
            if op is not None:
                reqs.append(Requirement(e.key, op, frozenset(e.values)))  # type: ignore[arg-type]
        return Selector(tuple(reqs))


class CloudEventOverrides(Model):
    extensions: dict[str, str] = Field(default_factory=dict)


class APIVersionKind(Model):
    api_version: str = ""
    kind: str = ""


class APIVersionKindSelector(Model):
    api_version: str = ""
    kind: str = ""
    selector: LabelSelector | None = None


class ApiServerSourceSpec(Model):
    sink: Destination = Field(default_factory=Destination)
    ce_overrides: CloudEventOverrides | None = None
    resources: list[APIVersionKindSelector] = Field(default_factory=list)
    owner: APIVersionKind | None = None
    mode: str | None = None
    service_account_name: str | None = None
    namespace_selector: LabelSelector | None = None
    filters: list[SubscriptionsAPIFilter] = Field(default_factory=list)


class CloudEventAttributes(Model):
    type: str | None = None
    source: str | None = None


class AuthStatus(Model):
    service_account_name: str | None = None
    service_account_names: list[str] = Field(default_factory=list)


class SourceStatus(Status):
    """duckv1 ``SourceStatus`` (every source's; :mod:`zeroserve.api.sources` uses it as it is)."""

    sink_uri: str | None = None
    ce_attributes: list[CloudEventAttributes] = Field(default_factory=list)
    sink_ca_certs: str | None = Field(default=None, alias="sinkCACerts")
    sink_audience: str | None = None
    auth: AuthStatus | None = None


class ApiServerSourceStatus(SourceStatus):
    namespaces: list[str] = Field(default_factory=list)


class ApiServerSource(Model):
    api_version: Literal["sources.knative.dev/v1"] = "sources.knative.dev/v1"
    kind: Literal["ApiServerSource"] = "ApiServerSource"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: ApiServerSourceSpec = Field(default_factory=ApiServerSourceSpec)
    status: ApiServerSourceStatus = Field(default_factory=ApiServerSourceStatus)


# ----------------------------------------------------------------------------- defaults


def default_apiserversource(s: ApiServerSource) -> None:
    """``ApiServerSourceSpec.SetDefaults``."""
    if not s.spec.mode:
        s.spec.mode = REFERENCE_MODE
    if not s.spec.service_account_name:
        s.spec.service_account_name = DEFAULT_SERVICE_ACCOUNT


# ----------------------------------------------------------------------------- validation


def parse_group_version(text: str) -> tuple[str, str] | None:
    """apimachinery ``schema.ParseGroupVersion``: (group, version), None when it does not parse
    (more than one ``/``); ``""`` and ``/`` are the empty group version."""
    if text in ("", "/"):
        return "", ""
    group, sep, version = text.partition("/")
    if not sep:
        return "", text
    return None if "/" in version else (group, version)


def validate_ce_overrides(o: CloudEventOverrides | None) -> list[FieldError]:
    """``CloudEventOverrides.Validate`` (relative to ``ceOverrides``): the first bad extension name."""
    if o is None:
        return []
    for key in sorted(o.extensions):
        if not key:
            return [FieldError('invalid key name ""', ("extensions",), "keys MUST NOT be empty")]
        if not _EXTENSION_NAME.fullmatch(key):
            return [
                FieldError(
                    f"invalid key name {json.dumps(key)}", ("extensions",), "keys are expected to be alphanumeric"
                )
            ]
    return []


def validate_label_selector(sel: LabelSelector | None) -> list[FieldError]:
    """apimachinery ``ValidateLabelSelector`` (relative to the selector): operators and their values."""
    if sel is None:
        return []
    errs: list[FieldError] = []
    for i, e in enumerate(sel.match_expressions):
        path = f"matchExpressions[{i}]"
        if e.operator in ("In", "NotIn") and not e.values:
            errs.append(FieldError("Required value: must be specified when `operator` is 'In' or 'NotIn'", (path,)))
        elif e.operator in ("Exists", "DoesNotExist") and e.values:
            msg = "Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
            errs.append(FieldError(msg, (f"{path}.values",)))
        elif e.operator not in _OPERATORS:
            errs.append(FieldError(f'Unsupported value: "{e.operator}": not a valid selector operator', (path,)))
        if not e.key:
            errs.append(validation.err_missing(f"{path}.key"))
    return errs


def _validate_resources(
    resources: list[APIVersionKindSelector], served: frozenset[tuple[str, str]]
) -> list[FieldError]:
    if not resources:
        return [validation.err_missing("resources")]
    errs: list[FieldError] = []
    for i, res in enumerate(resources):
        path = f"resources[{i}]"
        if parse_group_version(res.api_version) is None:
            errs.append(validation.err_invalid_value(res.api_version, f"{path}.apiVersion"))
        if not res.kind.strip():
            errs.append(validation.err_missing(f"{path}.kind"))
        elif served and (res.api_version, res.kind) not in served:
            errs.append(
                FieldError(
                    f"invalid value: {res.kind}:{res.api_version}",
                    (path,),
                    "zeroserve serves no such kind (`kubectl api-resources` lists those it does)",
                )
            )
        errs += validation.via(validate_label_selector(res.selector), f"{path}.selector")
    return errs


def _validate_owner(owner: APIVersionKind | None) -> list[FieldError]:
    if owner is None:
        return []
    errs: list[FieldError] = []
    if parse_group_version(owner.api_version) is None:
        errs.append(validation.err_invalid_value(owner.api_version, "owner.apiVersion"))
    if not owner.kind.strip():
        errs.append(validation.err_missing("owner.kind"))
    return errs


def validate_source_spec(sink: Destination, overrides: CloudEventOverrides | None, cfg: Config) -> list[FieldError]:
    """duckv1 ``SourceSpec.Validate`` (relative to the spec): ``sink`` and ``ceOverrides``; every
    source kind's spec embeds it. The sink's ref may name another namespace (Knative validates a
    source's sink without its parent)."""
    group = cfg.features.enabled("kreference-group")
    errs = validation.via(validate_destination(sink, "", other_namespace=True, group=group), "sink")
    return errs + validation.via(validate_ce_overrides(overrides), "ceOverrides")


def validate_apiserversource(
    s: ApiServerSource,
    old: ApiServerSource | None,
    cfg: Config,
    served: frozenset[tuple[str, str]] = frozenset(),
) -> list[FieldError]:
    """``ApiServerSource.Validate``; ``served``: the (apiVersion, kind) pairs a resource may name
    (empty: any)."""
    spec = s.spec
    errs: list[FieldError] = []
    if spec.mode not in (REFERENCE_MODE, RESOURCE_MODE):
        errs.append(validation.err_invalid_value(spec.mode or "", "mode"))
    errs += _validate_resources(spec.resources, served)
    errs += _validate_owner(spec.owner)
    errs += validate_source_spec(spec.sink, spec.ce_overrides, cfg)
    errs += validation.via(validate_label_selector(spec.namespace_selector), "namespaceSelector")
    if spec.filters:
        if cfg.features.enabled(NEW_APISERVER_FILTERS):
            errs += validation.via(validate_filters(spec.filters), "filters")
        else:
            errs.append(
                FieldError("Filters is not empty but the NewAPIServerFilters feature is disabled.", ("filters",))
            )
    meta = validation.via(validation.validate_object_meta(s.metadata, dns1035=False), "metadata")
    return meta + fielderrors.via(errs, "spec")


# ----------------------------------------------------------------------------- lifecycle


def event_types(mode: str | None) -> tuple[str, ...]:
    """The types a source of ``mode`` sends (``createCloudEventAttributes``)."""
    return RESOURCE_MODE_TYPES if mode == RESOURCE_MODE else REFERENCE_MODE_TYPES


def mark_sink(cm: ConditionManager, status: SourceStatus, uri: str | None) -> None:
    """``MarkSink`` (ApiServerSource, PingSource and SinkBinding alike)."""
    status.sink_uri = uri
    status.sink_ca_certs = status.sink_audience = None
    if uri:
        cm.mark_true(SINK_PROVIDED)
    else:
        cm.mark_false(SINK_PROVIDED, "SinkEmpty", "Sink has resolved to empty.")


def mark_no_sink(cm: ConditionManager, status: SourceStatus, reason: str, message: str) -> None:
    """``MarkNoSink`` (the URI is cleared: no events go to a sink that no longer resolves)."""
    status.sink_uri = status.sink_ca_certs = status.sink_audience = None
    cm.mark_false(SINK_PROVIDED, reason, message)
