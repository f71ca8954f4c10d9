"""Broker and Trigger (``eventing.knative.dev/v1``): types, defaults, validation and lifecycle.

Mirrors knative/eventing ``pkg/apis/eventing/v1/{broker,trigger}_{types,defaults,validation,lifecycle}.go``,
``broker_lifecycle_mt.go``, ``pkg/apis/duck/v1/delivery_{types,defaults}.go`` and knative.dev/pkg
``apis/duck/v1/{destination,knative_reference,addressable_types}.go``. Defaults come from
config-br-defaults (:mod:`zeroserve.config.eventing`); Eventing's config-features flags
(``delivery-timeout``, ``delivery-retryafter``, ``kreference-group``, ``cross-namespace-event-links``)
share zeroserve's one ``config-features`` section.

Differences, each toward a clearer error: a pathless Knative error ("multiple dialects found...")
gets the filter's path; ``spec.filters[i]`` errors are indexed once (Knative's loop re-indexes the
errors it already collected); a ``cesql`` filter is refused (zeroserve has no CESQL engine, and
Knative's own dispatcher skips a filter it cannot build, so it would pass every event); a
``timeout`` must be positive (Knative refuses only zero).
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

from pydantic import Field, ValidationError

from zeroserve.api import fielderrors, validation
from zeroserve.api.base import Int32, Model
from zeroserve.api.conditions import READY, ConditionManager, ConditionSet
from zeroserve.api.domainmapping import KReference
from zeroserve.api.meta import Condition, ObjectMeta, Status
from zeroserve.config import Config, FeaturesConfig
from zeroserve.config.eventing import MT_CHANNEL_BROKER
from zeroserve.config.period import parse_period
from zeroserve.errors import FieldError

GROUP = "eventing.knative.dev"
BROKER_CLASS_KEY = "eventing.knative.dev/broker.class"
BROKER_LABEL = "eventing.knative.dev/broker"
DEPENDENCY_ANNOTATION = "knative.dev/dependency"
INJECTION_ANNOTATION = "eventing.knative.dev/injection"
MT_CHANNEL_BROKER_CLASS = MT_CHANNEL_BROKER

INGRESS_NAME = "broker-ingress"
SYSTEM_NAMESPACE = "knative-eventing"
INGRESS_HOST = f"{INGRESS_NAME}.{SYSTEM_NAMESPACE}.svc.cluster.local"
"""``network.GetServiceHostname("broker-ingress", "knative-eventing")``: every MT broker's host."""

# Broker conditions (broker_lifecycle.go)
INGRESS_READY = "IngressReady"
TRIGGER_CHANNEL_READY = "TriggerChannelReady"
FILTER_READY = "FilterReady"
ADDRESSABLE = "Addressable"
DEAD_LETTER_SINK_RESOLVED = "DeadLetterSinkResolved"
EVENT_POLICIES_READY = "EventPoliciesReady"
BROKER_CONDITIONS = ConditionSet(
    READY,
    (INGRESS_READY, TRIGGER_CHANNEL_READY, FILTER_READY, ADDRESSABLE, DEAD_LETTER_SINK_RESOLVED, EVENT_POLICIES_READY),
)

# Trigger conditions (trigger_lifecycle.go)
BROKER_READY = "BrokerReady"
SUBSCRIPTION_READY = "SubscriptionReady"
DEPENDENCY_READY = "DependencyReady"
SUBSCRIBER_RESOLVED = "SubscriberResolved"
OIDC_IDENTITY_CREATED = "OIDCIdentityCreated"
TRIGGER_CONDITIONS = ConditionSet(
    READY,
    (
        BROKER_READY,
        SUBSCRIPTION_READY,
        DEPENDENCY_READY,
        SUBSCRIBER_RESOLVED,
        DEAD_LETTER_SINK_RESOLVED,
        OIDC_IDENTITY_CREATED,
    ),
)

_ATTRIBUTE_NAME = re.compile(r"[a-z][a-z0-9]*")
ATTRIBUTE_NAME_DETAILS = "Attribute name must start with a letter and can only contain lowercase alphanumeric"


# ----------------------------------------------------------------------------- types


class Destination(Model):
    """knative.dev/pkg ``duckv1.Destination``: an Addressable ``ref`` (plus a relative ``uri``) or an
    absolute ``uri``."""

    ref: KReference | None = None
    uri: str | None = None
    ca_certs: str | None = Field(default=None, alias="CACerts")
    audience: str | None = None


class DeliverySpec(Model):
    dead_letter_sink: Destination | None = None
    retry: Int32 | None = None
    timeout: str | None = None
    backoff_policy: str | None = None
    backoff_delay: str | None = None
    retry_after_max: str | None = None
    format: str | None = None


class Addressable(Model):
    """knative.dev/pkg ``duckv1.Addressable``."""

    name: str | None = None
    url: str | None = None
    ca_certs: str | None = Field(default=None, alias="CACerts")
    audience: str | None = None


class AppliedEventPolicyRef(Model):
    api_version: str | None = None
    name: str | None = None


class BrokerSpec(Model):
    config: KReference | None = None
    delivery: DeliverySpec | None = None


class BrokerStatus(Status):
    address: Addressable | None = None
    addresses: list[Addressable] = Field(default_factory=list)
    dead_letter_sink_uri: str | None = None
    dead_letter_sink_ca_certs: str | None = Field(default=None, alias="deadLetterSinkCACerts")
    dead_letter_sink_audience: str | None = None
    policies: list[AppliedEventPolicyRef] = Field(default_factory=list)


class Broker(Model):
    api_version: Literal["eventing.knative.dev/v1"] = "eventing.knative.dev/v1"
    kind: Literal["Broker"] = "Broker"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: BrokerSpec = Field(default_factory=BrokerSpec)
    status: BrokerStatus = Field(default_factory=BrokerStatus)

    @property
    def broker_class(self) -> str:
        return self.metadata.annotations.get(BROKER_CLASS_KEY, "")

    def is_ready(self) -> bool:
        """``Broker.IsReady``: Ready is True and the latest generation has been observed."""
        return self.status.observed_generation == self.metadata.generation and _is_true(
            self.status.get_condition(READY)
        )


class TriggerFilter(Model):
    attributes: dict[str, str] = Field(default_factory=dict)


class SubscriptionsAPIFilter(Model):
    """One element of ``spec.filters`` (the CloudEvents Subscriptions API's filter dialects)."""

    all_: list[SubscriptionsAPIFilter] = Field(default_factory=list, alias="all")
    any_: list[SubscriptionsAPIFilter] = Field(default_factory=list, alias="any")
    not_: SubscriptionsAPIFilter | None = Field(default=None, alias="not")
    exact: dict[str, str] = Field(default_factory=dict)
    prefix: dict[str, str] = Field(default_factory=dict)
    suffix: dict[str, str] = Field(default_factory=dict)
    cesql: str | None = None


class TriggerSpec(Model):
    broker: str | None = None
    broker_ref: KReference | None = None
    filter: TriggerFilter | None = None
    filters: list[SubscriptionsAPIFilter] = Field(default_factory=list)
    subscriber: Destination = Field(default_factory=Destination)
    delivery: DeliverySpec | None = None


class TriggerStatus(Status):
    subscriber_uri: str | None = None
    subscriber_ca_certs: str | None = Field(default=None, alias="subscriberCACerts")
    subscriber_audience: str | None = None
    dead_letter_sink_uri: str | None = None
    dead_letter_sink_ca_certs: str | None = Field(default=None, alias="deadLetterSinkCACerts")
    dead_letter_sink_audience: str | None = None
    auth: dict[str, Any] | None = None


class Trigger(Model):
    api_version: Literal["eventing.knative.dev/v1"] = "eventing.knative.dev/v1"
    kind: Literal["Trigger"] = "Trigger"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: TriggerSpec = Field(default_factory=TriggerSpec)
    status: TriggerStatus = Field(default_factory=TriggerStatus)

    def broker_key(self, features: FeaturesConfig) -> tuple[str, str]:
        """(namespace, name) of the Broker, as the MT trigger reconciler picks it."""
        ref = self.spec.broker_ref
        if ref is not None and features.enabled("cross-namespace-event-links"):
            return ref.namespace or self.metadata.namespace or "", ref.name or ""
        return self.metadata.namespace or "", self.spec.broker or ""

    def is_ready(self) -> bool:
        return self.status.observed_generation == self.metadata.generation and _is_true(
            self.status.get_condition(READY)
        )


def _is_true(cond: Condition | None) -> bool:
    return cond is not None and cond.status == "True"


def ingress_url(namespace: str, name: str) -> str:
    """A Broker's ``status.address.url`` (``httpAddress``: path-based routing on the shared ingress)."""
    return f"http://{INGRESS_HOST}/{namespace}/{name}"


def resolve_relative(base: str, uri: str | None) -> str:
    """``addr.URL.ResolveReference(dest.URI)``: a Destination's relative ``uri`` on its ref's URL."""
    return urljoin(base, uri) if uri else base


# ----------------------------------------------------------------------------- defaults


def _delivery_from_config(data: dict[str, Any]) -> DeliverySpec | None:
    """The four fields ``BrokerSpec.SetDefaults`` copies from config-br-defaults' delivery."""
    keys = ("deadLetterSink", "retry", "backoffPolicy", "backoffDelay")
    try:
        return DeliverySpec.model_validate({k: data[k] for k in keys if k in data})
    except ValidationError:
        return None  # config-br-defaults checks the shape it can; a bad sink is not defaulted in


def _default_delivery(ds: DeliverySpec | None, namespace: str) -> None:
    """``DeliverySpec.SetDefaults``: the dead letter sink's ref namespace."""
    if ds is not None and ds.dead_letter_sink is not None:
        _default_destination(ds.dead_letter_sink, namespace)


def _default_destination(d: Destination, namespace: str) -> None:
    if d.ref is not None and not d.ref.namespace:
        d.ref.namespace = namespace


def default_broker(b: Broker, cfg: Config) -> None:
    """``Broker.SetDefaults``: spec.config and spec.delivery from config-br-defaults, then the class."""
    namespace = b.metadata.namespace or ""
    defaults = cfg.br_defaults
    found = defaults.broker_config(namespace, b.broker_class)
    if b.spec.config is not None:  # Knative looks the config up by its kind, as a class name
        found = defaults.broker_config(namespace, b.spec.config.kind or "")
    if found is not None:
        if b.spec.config is None and found.ref is not None:
            b.spec.config = KReference.model_validate(found.ref)
        if b.spec.delivery is None and found.delivery is not None:
            b.spec.delivery = _delivery_from_config(found.delivery)
    if b.spec.config is not None and not b.spec.config.namespace:
        b.spec.config.namespace = namespace
    _default_delivery(b.spec.delivery, namespace)
    if BROKER_CLASS_KEY not in b.metadata.annotations:  # eventing.DefaultBrokerClassIfUnset
        cls = defaults.broker_class(namespace)
        if cls is not None:
            b.metadata.annotations[BROKER_CLASS_KEY] = cls


def default_trigger(t: Trigger, cfg: Config) -> None:
    """``Trigger.SetDefaults``: an empty filter, the refs' namespaces, the broker label."""
    namespace = t.metadata.namespace or ""
    if t.spec.filter is None:
        t.spec.filter = TriggerFilter()
    _default_destination(t.spec.subscriber, namespace)
    _default_delivery(t.spec.delivery, namespace)
    ref = t.spec.broker_ref
    if cfg.features.enabled("cross-namespace-event-links") and ref is not None:
        t.metadata.labels[BROKER_LABEL] = ref.name or ""
    elif t.spec.broker:
        t.metadata.labels[BROKER_LABEL] = t.spec.broker


# ----------------------------------------------------------------------------- validation


def _q(s: str) -> str:
    """Go's ``%q``."""
    return json.dumps(s, ensure_ascii=False)


def validate_reference(
    ref: KReference, parent_namespace: str, *, other_namespace: bool, group: bool
) -> list[FieldError]:
    """``KReference.Validate`` (relative to the reference)."""
    errs: list[FieldError] = []
    if not ref.name:
        errs.append(validation.err_missing("name"))
    if group:
        if not ref.api_version and not ref.group:
            errs += [validation.err_missing("apiVersion"), validation.err_missing("group")]
        if ref.api_version and ref.group and not ref.api_version.startswith(ref.group):
            errs.append(
                FieldError(
                    "both apiVersion and group are specified and they refer to different API groups",
                    ("apiVersion", "group"),
                    "Only one of them must be specified",
                )
            )
    else:
        if ref.group:
            errs.append(fielderrors.err_disallowed("group"))
        if not ref.api_version:
            errs.append(validation.err_missing("apiVersion"))
    if not ref.kind:
        errs.append(validation.err_missing("kind"))
    if ref.namespace and not other_namespace and parent_namespace and ref.namespace != parent_namespace:
        details = f"parent namespace: {_q(parent_namespace)} does not match ref: {_q(ref.namespace)}"
        errs.append(FieldError("mismatched namespaces", ("namespace",), details))
    return errs


def is_absolute(uri: str) -> bool:
    """Go's ``URL.IsAbs()`` and a non-empty host."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return False
    return bool(parts.scheme) and bool(parts.hostname)


def validate_destination(
    d: Destination, parent_namespace: str, *, other_namespace: bool, group: bool
) -> list[FieldError]:
    """``ValidateDestination`` (relative to the destination): only the first problem, as Knative's."""
    if d.ref is None and d.uri is None:
        return [FieldError("expected at least one, got none", ("ref", "uri"))]
    if d.ref is not None and d.uri is not None and is_absolute(d.uri):
        msg = "Absolute URI is not allowed when Ref or [apiVersion, kind, name] is present"
        return [FieldError(msg, ("[apiVersion, kind, name]", "ref", "uri"))]
    if d.ref is None and d.uri is not None and not is_absolute(d.uri):
        msg = "Relative URI is not allowed when Ref and [apiVersion, kind, name] is absent"
        return [validation.err_invalid_value(msg, "uri")]
    if d.ref is not None and d.uri is None:
        ref_errs = validate_reference(d.ref, parent_namespace, other_namespace=other_namespace, group=group)
        return validation.via(ref_errs, "ref")
    if d.ca_certs is not None and "-----BEGIN CERTIFICATE-----" not in d.ca_certs:
        return [validation.err_invalid_value("CA Cert provided is invalid", "caCert")]
    return []


def _period_errors(value: str, path: str, *, positive: bool = False, non_negative: bool = False) -> list[FieldError]:
    try:
        seconds = parse_period(value)
    except ValueError:
        return [validation.err_invalid_value(value, path)]
    if (positive and seconds <= 0) or (non_negative and seconds < 0):
        return [validation.err_invalid_value(value, path)]
    return []


def validate_delivery(
    ds: DeliverySpec | None, features: FeaturesConfig, parent_namespace: str, *, other_namespace: bool
) -> list[FieldError]:
    """``DeliverySpec.Validate`` (relative to the delivery spec)."""
    if ds is None:
        return []
    errs: list[FieldError] = []
    if ds.dead_letter_sink is not None:
        group = features.enabled("kreference-group")
        dls = validate_destination(ds.dead_letter_sink, parent_namespace, other_namespace=other_namespace, group=group)
        errs += validation.via(dls, "deadLetterSink")
    if ds.retry is not None and ds.retry < 0:
        errs.append(validation.err_invalid_value(ds.retry, "retry"))
    if ds.timeout is not None:
        if features.enabled("delivery-timeout"):
            errs += _period_errors(ds.timeout, "timeout", positive=True)
        else:
            errs.append(fielderrors.err_disallowed("timeout"))
    if ds.backoff_policy is not None and ds.backoff_policy not in ("exponential", "linear"):
        errs.append(validation.err_invalid_value(ds.backoff_policy, "backoffPolicy"))
    if ds.backoff_delay is not None:
        errs += _period_errors(ds.backoff_delay, "backoffDelay")
    if ds.format is not None and ds.format not in ("json", "binary"):
        errs.append(validation.err_invalid_value(ds.format, "format"))
    if ds.retry_after_max is not None:
        if features.enabled("delivery-retryafter"):
            errs += _period_errors(ds.retry_after_max, "retryAfterMax", non_negative=True)
        else:
            errs.append(fielderrors.err_disallowed("retryAfterMax"))
    return errs


def validate_broker(b: Broker, old: Broker | None, cfg: Config) -> list[FieldError]:
    """``Broker.Validate``: the class annotation, spec.config, spec.delivery; on update only delivery
    and nothing of the class may change (``CheckImmutableFields``)."""
    namespace = b.metadata.namespace or ""
    errs = validation.via(validation.validate_object_meta(b.metadata, dns1035=False), "metadata")
    if not b.metadata.annotations.get(BROKER_CLASS_KEY):
        errs.append(validation.err_missing(BROKER_CLASS_KEY))
    other = cfg.br_defaults.allows_different_namespace(namespace)
    group = cfg.features.enabled("kreference-group")
    spec: list[FieldError] = []
    if b.spec.config is not None:
        ref_errs = validate_reference(b.spec.config, namespace, other_namespace=other, group=group)
        spec += validation.via(ref_errs, "config")
    spec += validation.via(
        validate_delivery(b.spec.delivery, cfg.features, namespace, other_namespace=other), "delivery"
    )
    errs += validation.via(spec, "spec")
    if old is not None:
        errs += _broker_immutable(b, old)
    return errs


def _broker_immutable(b: Broker, old: Broker) -> list[FieldError]:
    old_spec = old.spec.model_dump(by_alias=True, exclude_none=True, exclude={"delivery"})
    new_spec = b.spec.model_dump(by_alias=True, exclude_none=True, exclude={"delivery"})
    if diff := validation.short_diff(old_spec, new_spec):
        return [FieldError("Immutable fields changed (-old +new)", ("spec",), diff)]
    if diff := validation.short_diff(old.broker_class, b.broker_class):
        return [FieldError("Immutable annotations changed (-old +new)", ("annotations",), diff)]
    return []


def validate_attribute_names(attrs: dict[str, str]) -> list[FieldError]:
    """``ValidateAttributesNames`` (relative to the map)."""
    return [
        FieldError(f"invalid key name {_q(name)}", (f"[{name}]",), ATTRIBUTE_NAME_DETAILS)
        for name in sorted(attrs)
        if not _ATTRIBUTE_NAME.fullmatch(name)
    ]


def _dialects(f: SubscriptionsAPIFilter) -> int:
    return sum(bool(x) for x in (f.exact, f.prefix, f.suffix, f.all_, f.any_, f.not_ is not None, f.cesql))


def validate_filter(f: SubscriptionsAPIFilter) -> list[FieldError]:
    """``ValidateSubscriptionAPIFilter`` (relative to the filter)."""
    errs: list[FieldError] = []
    if _dialects(f) > 1:
        errs.append(FieldError("multiple dialects found, filters can have only one dialect set", ("",)))
    for name, attrs in (("exact", f.exact), ("prefix", f.prefix), ("suffix", f.suffix)):
        errs += validation.via(validate_attribute_names(attrs), name)
    errs += validation.via(validate_filters(f.all_), "all")
    errs += validation.via(validate_filters(f.any_), "any")
    if f.not_ is not None:
        errs += validation.via(validate_filter(f.not_), "not")
    if f.cesql:
        errs.append(
            FieldError(
                f"invalid value: {f.cesql}",
                ("cesql",),
                "CESQL expressions are not supported by zeroserve; use exact, prefix, suffix, all, any or not",
            )
        )
    return errs


def validate_filters(filters: list[SubscriptionsAPIFilter]) -> list[FieldError]:
    """``ValidateSubscriptionAPIFiltersList`` (relative to the list)."""
    errs: list[FieldError] = []
    for i, f in enumerate(filters):
        errs += validation.via(validate_filter(f), f"[{i}]")
    return errs


def _validate_trigger_spec(ts: TriggerSpec, cfg: Config) -> list[FieldError]:
    """``TriggerSpec.Validate`` (relative to the spec)."""
    errs: list[FieldError] = []
    if ts.broker_ref is None and not ts.broker:
        errs.append(validation.err_missing("broker"))
    elif ts.broker_ref is not None and ts.broker:
        errs.append(FieldError(fielderrors.MSG_BOTH, ("broker", "brokerRef")))
    cross = cfg.features.enabled("cross-namespace-event-links")
    if not cross and ts.broker_ref is not None and ts.broker_ref.namespace:
        details = (
            "only name, apiVersion and kind are supported fields when feature.CrossNamespaceEventLinks is disabled"
        )
        errs.append(FieldError(fielderrors.MSG_DISALLOWED, ("namespace",), details))
    if ts.filter is not None:
        errs += validation.via(validate_attribute_names(ts.filter.attributes), "filter.attributes")
    errs += validation.via(validate_filters(ts.filters), "filters")
    group = cfg.features.enabled("kreference-group")
    # Knative validates a Trigger's spec without its parent: a ref in another namespace is allowed.
    errs += validation.via(validate_destination(ts.subscriber, "", other_namespace=True, group=group), "subscriber")
    errs += validation.via(validate_delivery(ts.delivery, cfg.features, "", other_namespace=True), "delivery")
    return errs


def _dependency_errors(value: str, namespace: str) -> list[FieldError]:
    """``validateDependencyAnnotation`` (relative to the annotation)."""
    try:
        ref = json.loads(value)
        if not isinstance(ref, dict):
            raise ValueError(f"json: cannot unmarshal {type(ref).__name__} into Go value of type v1.ObjectReference")
    except ValueError as e:
        msg = f"The provided annotation was not a corev1.ObjectReference: {_q(value)}"
        return [FieldError(msg, ("",), str(e))]
    errs: list[FieldError] = []
    ns = ref.get("namespace") or ""
    if ns and ns != namespace:
        errs.append(
            FieldError(f"Namespace must be empty or equal to the trigger namespace {_q(namespace)}", ("namespace",))
        )
    for key in ("kind", "name", "apiVersion"):
        if not ref.get(key):
            errs.append(validation.err_missing(key))
    return errs


def _injection_errors(value: str, broker: str) -> list[FieldError]:
    if value not in ("enabled", "disabled"):
        msg = f'The provided injection annotation value can only be "enabled" or "disabled", not {_q(value)}'
        return [FieldError(msg, ("",))]
    if broker != "default":
        msg = (
            "The provided injection annotation is only used for default broker, "
            f"but non-default broker specified here: {_q(broker)}"
        )
        return [FieldError(msg, ("",))]
    return []


def validate_trigger(t: Trigger, old: Trigger | None, cfg: Config) -> list[FieldError]:
    """``Trigger.Validate``: the spec, the dependency and injection annotations, immutable ``spec.broker``."""
    namespace = t.metadata.namespace or ""
    errs = validation.via(validation.validate_object_meta(t.metadata, dns1035=False), "metadata")
    errs += validation.via(_validate_trigger_spec(t.spec, cfg), "spec")
    annotations = t.metadata.annotations
    if DEPENDENCY_ANNOTATION in annotations:
        dep = _dependency_errors(annotations[DEPENDENCY_ANNOTATION], namespace)
        errs += validation.via(dep, f"metadata.annotations[{DEPENDENCY_ANNOTATION}]")
    if INJECTION_ANNOTATION in annotations:
        inj = _injection_errors(annotations[INJECTION_ANNOTATION], t.spec.broker or "")
        errs += validation.via(inj, f"metadata.annotations[{INJECTION_ANNOTATION}]")
    if old is not None and (diff := validation.short_diff(old.spec.broker, t.spec.broker)):
        errs.append(FieldError("Immutable fields changed (-old +new)", ("spec.broker",), diff))
    return errs


# ----------------------------------------------------------------------------- lifecycle
# ``broker_lifecycle{,_mt}.go`` and ``trigger_lifecycle.go``'s Mark* methods, on condition managers.

OIDC_NOT_SUPPORTED = "authentication-oidc feature not yet supported for this Broker class"


def pre_process(cm: ConditionManager, status: Status, generation: int | None) -> None:
    """knative.dev/pkg ``PreProcessReconcile``: conditions initialized; a new generation makes Ready
    Unknown until the reconciler says otherwise."""
    cm.initialize()
    if status.observed_generation != generation:
        cm.mark_unknown(READY, "NewObservedGenFailure", "unsuccessfully observed a new generation")


def set_broker_address(cm: ConditionManager, status: BrokerStatus, url: str | None) -> None:
    """``BrokerStatus.SetAddress``: the address (named after its scheme) and Addressable."""
    if url:
        status.address = Addressable(name=urlsplit(url).scheme, url=url)
        cm.mark_true(ADDRESSABLE)
    else:
        status.address = None
        cm.mark_false(ADDRESSABLE, "nil URL", "URL is nil")


def mark_dead_letter_sink_not_configured(cm: ConditionManager, status: BrokerStatus | TriggerStatus) -> None:
    _clear_dead_letter_sink(status)
    cm.mark_true(DEAD_LETTER_SINK_RESOLVED, "DeadLetterSinkNotConfigured", "No dead letter sink is configured.")


def mark_dead_letter_sink_resolved(cm: ConditionManager, status: BrokerStatus | TriggerStatus, uri: str) -> None:
    _clear_dead_letter_sink(status)
    status.dead_letter_sink_uri = uri
    cm.mark_true(DEAD_LETTER_SINK_RESOLVED)


def mark_dead_letter_sink_failed(
    cm: ConditionManager, status: BrokerStatus | TriggerStatus, reason: str, message: str
) -> None:
    _clear_dead_letter_sink(status)
    cm.mark_false(DEAD_LETTER_SINK_RESOLVED, reason, message)


def _clear_dead_letter_sink(status: BrokerStatus | TriggerStatus) -> None:
    status.dead_letter_sink_uri = status.dead_letter_sink_ca_certs = status.dead_letter_sink_audience = None


def mark_event_policies_oidc_disabled(cm: ConditionManager, status: BrokerStatus) -> None:
    """``UpdateStatusWithProvidedEventPolicies`` with no policy and authentication-oidc disabled."""
    status.policies = []
    cm.mark_true(
        EVENT_POLICIES_READY, "OIDCDisabled", 'Feature "authentication-oidc" must be enabled to support Authorization'
    )


def propagate_broker_condition(cm: ConditionManager, ready: Condition | None) -> None:
    """``TriggerStatus.PropagateBrokerCondition``: the Broker's Ready as BrokerReady."""
    if ready is None:
        cm.mark_unknown(BROKER_READY, "BrokerNotConfigured", "Broker has not yet been reconciled.")
    elif ready.status == "True":
        cm.mark_true(BROKER_READY)
    elif ready.status == "False":
        cm.mark_false(BROKER_READY, ready.reason or "", ready.message or "")
    else:
        cm.mark_unknown(BROKER_READY, ready.reason or "", ready.message or "")


def mark_oidc_identity_not_supported(cm: ConditionManager) -> None:
    """``MarkOIDCIdentityCreatedNotSupported`` (``InitializeConditions`` calls it)."""
    cm.mark_true(OIDC_IDENTITY_CREATED, OIDC_NOT_SUPPORTED, "")


def mark_subscription_not_configured(cm: ConditionManager) -> None:
    cm.mark_unknown(SUBSCRIPTION_READY, "SubscriptionNotConfigured", "Subscription has not yet been reconciled.")
