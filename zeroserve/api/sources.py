"""PingSource, SinkBinding and ContainerSource (``sources.knative.dev/v1``): types, defaults,
validation and lifecycle (PURE).

Mirrors knative/eventing ``pkg/apis/sources/v1/{ping,sinkbinding,container}_{types,defaults,
validation,lifecycle}.go``, ``pkg/apis/sources/config/ping_defaults.go`` (``config-ping-defaults``
``data-max-size``; -1, no limit, unless set) and knative.dev/pkg ``tracker.Reference.Validate`` (a
SinkBinding's ``subject``). The duck parts every source shares (``sink``, ``ceOverrides``,
``sinkUri``, ``ceAttributes``) are :mod:`zeroserve.api.apiserversource`'s.

Differences, each toward a clearer error or what zeroserve can run:

* ``schedule``: robfig/cron's parser (:mod:`zeroserve.api.cron`); ``@every`` is refused with
  Knative's message alone (Knative also reports the parser's error for a bad ``@every`` duration).
* A SinkBinding's ``subject`` must be a Knative Service or a ContainerSource: zeroserve runs no
  Deployments, Jobs, CronJobs, DaemonSets or StatefulSets, so a subject of such a kind is refused at
  admission with a message that says so (Knative accepts any PodSpecable and fails later, or never,
  when no such object exists).
* A ContainerSource's container needs ``image`` *or* ``command`` (Knative requires ``image``): one
  with a ``command`` and no image runs as a process on the host, as a Revision's does.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Final, Literal

from pydantic import Field

from zeroserve.api import cron, fielderrors, names, validation
from zeroserve.api.apiserversource import (
    CloudEventOverrides,
    LabelSelector,
    SourceStatus,
    validate_label_selector,
    validate_source_spec,
)
from zeroserve.api.base import Model, OpenModel
from zeroserve.api.conditions import READY, ConditionManager, ConditionSet
from zeroserve.api.eventing import Destination
from zeroserve.api.meta import ObjectMeta
from zeroserve.api.podspec import Container
from zeroserve.config import Config
from zeroserve.errors import FieldError

GROUP: Final = "sources.knative.dev"
API_VERSION: Final = f"{GROUP}/v1"
DEFAULT_SCHEDULE: Final = "* * * * *"
PING_EVENT_TYPE: Final = "dev.knative.sources.ping"
APPLICATION_JSON: Final = "application/json"
OIDC_DISABLED: Final = "authentication-oidc feature disabled"

SERVICE_API_VERSION: Final = "serving.knative.dev/v1"
BINDABLE_KINDS: Final = frozenset({(SERVICE_API_VERSION, "Service"), (API_VERSION, "ContainerSource")})
"""What a SinkBinding may bind here: the kinds that run a pod template."""
BINDING_INCLUDE: Final = "bindings.knative.dev/include"
BINDING_EXCLUDE: Final = "bindings.knative.dev/exclude"
BINDING_ENV: Final = ("K_SINK", "K_CE_OVERRIDES", "K_CA_CERTS")
SINKBINDING_FINALIZER: Final = "sinkbindings.sources.knative.dev"
"""psbinding's finalizer: the GroupResource (undone from the subject before the binding goes)."""

# Conditions (ping_lifecycle.go, sinkbinding_lifecycle.go, container_lifecycle.go)
SINK_PROVIDED: Final = "SinkProvided"
DEPLOYED: Final = "Deployed"
OIDC_IDENTITY_CREATED: Final = "OIDCIdentityCreated"
PING_CONDITIONS = ConditionSet(READY, (SINK_PROVIDED, DEPLOYED, OIDC_IDENTITY_CREATED))
SINKBINDING_AVAILABLE: Final = "SinkBindingAvailable"
OIDC_TOKEN_SECRET_CREATED: Final = "OIDCTokenSecretCreated"
TRUST_BUNDLE_PROPAGATED: Final = "TrustBundlePropagated"
SINKBINDING_CONDITIONS = ConditionSet(
    READY,
    (SINKBINDING_AVAILABLE, SINK_PROVIDED, OIDC_IDENTITY_CREATED, OIDC_TOKEN_SECRET_CREATED, TRUST_BUNDLE_PROPAGATED),
)
SINKBINDING_READY: Final = "SinkBindingReady"
RECEIVE_ADAPTER_READY: Final = "ReceiveAdapterReady"
CONTAINER_CONDITIONS = ConditionSet(READY, (SINKBINDING_READY, RECEIVE_ADAPTER_READY))


# ----------------------------------------------------------------------------- types


class PingSourceSpec(Model):
    sink: Destination = Field(default_factory=Destination)
    ce_overrides: CloudEventOverrides | None = None
    schedule: str | None = None
    timezone: str | None = None
    content_type: str | None = None
    data: str | None = None
    data_base64: str | None = None


class PingSource(Model):
    api_version: Literal["sources.knative.dev/v1"] = "sources.knative.dev/v1"
    kind: Literal["PingSource"] = "PingSource"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: PingSourceSpec = Field(default_factory=PingSourceSpec)
    status: SourceStatus = Field(default_factory=SourceStatus)


class Reference(Model):
    """knative.dev/pkg ``tracker.Reference``: by ``name`` or by label ``selector``."""

    api_version: str | None = None
    kind: str | None = None
    namespace: str | None = None
    name: str | None = None
    selector: LabelSelector | None = None


class SinkBindingSpec(Model):
    sink: Destination = Field(default_factory=Destination)
    ce_overrides: CloudEventOverrides | None = None
    subject: Reference = Field(default_factory=Reference)


class SinkBindingStatus(SourceStatus):
    oidc_token_secret_name: str | None = None


class SinkBinding(Model):
    api_version: Literal["sources.knative.dev/v1"] = "sources.knative.dev/v1"
    kind: Literal["SinkBinding"] = "SinkBinding"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: SinkBindingSpec = Field(default_factory=SinkBindingSpec)
    status: SinkBindingStatus = Field(default_factory=SinkBindingStatus)


class PodSpec(OpenModel):
    containers: list[Container] = Field(default_factory=list)


class PodTemplateSpec(Model):
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: PodSpec = Field(default_factory=PodSpec)


class ContainerSourceSpec(Model):
    sink: Destination = Field(default_factory=Destination)
    ce_overrides: CloudEventOverrides | None = None
    template: PodTemplateSpec = Field(default_factory=PodTemplateSpec)


class ContainerSource(Model):
    api_version: Literal["sources.knative.dev/v1"] = "sources.knative.dev/v1"
    kind: Literal["ContainerSource"] = "ContainerSource"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: ContainerSourceSpec = Field(default_factory=ContainerSourceSpec)
    status: SourceStatus = Field(default_factory=SourceStatus)


def ping_source_attribute(namespace: str, name: str) -> str:
    """``PingSourceSource``: the events' ``source``."""
    return f"/apis/v1/namespaces/{namespace}/pingsources/{name}"


def ce_overrides_json(o: CloudEventOverrides | None) -> str:
    """``K_CE_OVERRIDES``: the overrides as Go's ``json.Marshal`` writes them ("" when unset)."""
    if o is None:
        return ""
    body: dict[str, Any] = {"extensions": dict(sorted(o.extensions.items()))} if o.extensions else {}
    return json.dumps(body, separators=(",", ":"))


# ----------------------------------------------------------------------------- defaults


def default_ping_source(s: PingSource) -> None:
    """``PingSourceSpec.SetDefaults``: the schedule (and nothing else: the sink's namespace is the
    source's at resolution time)."""
    if not s.spec.schedule:
        s.spec.schedule = DEFAULT_SCHEDULE


def default_sink_binding(b: SinkBinding) -> None:
    """``SinkBinding.SetDefaults``: the subject's and the sink ref's namespace."""
    namespace = b.metadata.namespace or ""
    if not b.spec.subject.namespace:
        b.spec.subject.namespace = namespace
    if b.spec.sink.ref is not None and not b.spec.sink.ref.namespace:
        b.spec.sink.ref.namespace = namespace


def default_container_source(s: ContainerSource) -> None:
    """``ContainerSourceSpec.SetDefaults``: containers named ``<source>-<index>``."""
    for i, c in enumerate(s.spec.template.spec.containers):
        if not c.name:
            c.name = f"{s.metadata.name or ''}-{i}"


# ----------------------------------------------------------------------------- validation


def _meta(meta: ObjectMeta) -> list[FieldError]:
    return validation.via(validation.validate_object_meta(meta, dns1035=False), "metadata")


def validate_schedule(schedule: str, timezone: str) -> list[FieldError]:
    """The schedule and timezone checks of ``PingSourceSpec.Validate`` (relative to the spec)."""
    if "@every" in schedule:
        return [validation.err_invalid_value(cron.EVERY_REFUSED, "schedule")]
    try:
        cron.parse(cron.with_timezone(schedule, timezone))
    except cron.BadLocation as e:
        return [validation.err_invalid_value(e, "timezone")]
    except cron.CronError as e:
        return [validation.err_invalid_value(e, "schedule")]
    return []


def _json_error(text: str) -> str | None:
    """``validateJSON``: Go unmarshals into a ``map[string]interface{}``: a JSON object."""
    try:
        value = json.loads(text)
    except ValueError as e:
        return f"invalid character in JSON: {e}"
    if not isinstance(value, dict):
        return f"json: cannot unmarshal {_json_kind(value)} into Go value of type map[string]interface {{}}"
    return None


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    return "number" if isinstance(value, int | float) else "null"


def _validate_data(spec: PingSourceSpec, max_size: int) -> list[FieldError]:
    data, data64 = spec.data or "", spec.data_base64 or ""
    is_json = spec.content_type == APPLICATION_JSON
    errs: list[FieldError] = []
    if data and data64:
        return [FieldError(fielderrors.MSG_BOTH, ("data", "dataBase64"))]
    if data64:
        if max_size > -1 and len(data64) > max_size:
            msg = f"the dataBase64 length of {len(data64)} bytes exceeds limit set at {max_size}."
            errs.append(validation.err_invalid_value(msg, "dataBase64"))
        try:
            decoded = base64.b64decode(data64, validate=True)
        except (binascii.Error, ValueError) as e:
            return [*errs, validation.err_invalid_value(f"illegal base64 data: {e}", "dataBase64")]
        if is_json and (why := _json_error(decoded.decode(errors="replace"))):
            errs.append(validation.err_invalid_value(why, "dataBase64"))
    elif data:
        if max_size > -1 and len(data.encode()) > max_size:
            msg = f"the data length of {len(data.encode())} bytes exceeds limit set at {max_size}."
            errs.append(validation.err_invalid_value(msg, "data"))
        if is_json and (why := _json_error(data)):
            errs.append(validation.err_invalid_value(why, "data"))
    return errs


def validate_ping_source(s: PingSource, old: PingSource | None, cfg: Config) -> list[FieldError]:
    """``PingSource.Validate``: schedule and timezone, data xor dataBase64 (size, JSON), sink, ceOverrides."""
    spec = s.spec
    errs = validate_schedule(spec.schedule or "", spec.timezone or "")
    errs += _validate_data(spec, cfg.ping_defaults.data_max_size)
    errs += validate_source_spec(spec.sink, spec.ce_overrides, cfg)
    return _meta(s.metadata) + validation.via(errs, "spec")


def validate_reference(ref: Reference) -> list[FieldError]:
    """``tracker.Reference.Validate`` (relative to the reference), then zeroserve's bindable kinds."""
    errs: list[FieldError] = []
    if not ref.api_version:
        errs.append(validation.err_missing("apiVersion"))
    elif why := names.is_qualified_name(ref.api_version):
        errs.append(validation.err_invalid_value(", ".join(why), "apiVersion"))
    if not ref.kind:
        errs.append(validation.err_missing("kind"))
    if not ref.namespace:
        errs.append(validation.err_missing("namespace"))
    elif why := names.is_dns1123_label(ref.namespace):
        errs.append(validation.err_invalid_value(", ".join(why), "namespace"))
    if ref.selector is not None and ref.name:
        errs.append(FieldError(fielderrors.MSG_BOTH, ("name", "selector")))
    elif ref.selector is not None:
        errs += validation.via(validate_label_selector(ref.selector), "selector")
    elif ref.name:
        if why := names.is_dns1123_label(ref.name):
            errs.append(validation.err_invalid_value(", ".join(why), "name"))
    else:
        errs.append(FieldError(fielderrors.MSG_NEITHER, ("name", "selector")))
    if ref.api_version and ref.kind and (ref.api_version, ref.kind) not in BINDABLE_KINDS:
        errs.append(
            FieldError(
                f"invalid value: {ref.kind}:{ref.api_version}",
                ("kind",),
                "zeroserve binds Knative Services (serving.knative.dev/v1) and ContainerSources "
                "(sources.knative.dev/v1); it runs no Deployments, Jobs, CronJobs, DaemonSets or StatefulSets",
            )
        )
    return errs


def validate_sink_binding(b: SinkBinding, old: SinkBinding | None, cfg: Config) -> list[FieldError]:
    """``SinkBinding.Validate``: the subject (in the binding's namespace), sink and ceOverrides."""
    spec = validation.via(validate_reference(b.spec.subject), "subject")
    spec += validate_source_spec(b.spec.sink, b.spec.ce_overrides, cfg)
    errs = _meta(b.metadata) + validation.via(spec, "spec")
    subject_ns = b.spec.subject.namespace
    if subject_ns and subject_ns != b.metadata.namespace:
        errs.append(validation.err_invalid_value(subject_ns, "spec.subject.namespace"))
    return errs


def validate_container_source(s: ContainerSource, old: ContainerSource | None, cfg: Config) -> list[FieldError]:
    """``ContainerSource.Validate``: a container at least, each named, with an image or a command."""
    containers = s.spec.template.spec.containers
    errs: list[FieldError] = []
    if not containers:
        errs.append(validation.err_missing("containers"))
    for i, c in enumerate(containers):
        if not c.name:
            errs.append(validation.err_missing(f"containers[{i}].name"))
        if not c.image and not c.command:
            errs.append(
                FieldError(
                    fielderrors.MSG_NEITHER,
                    (f"containers[{i}].command", f"containers[{i}].image"),
                    "an image runs as a container, a command (without an image) as a process",
                )
            )
    errs += validate_source_spec(s.spec.sink, s.spec.ce_overrides, cfg)
    return _meta(s.metadata) + validation.via(errs, "spec")


# ----------------------------------------------------------------------------- lifecycle


def mark_oidc_disabled(cm: ConditionManager, status: SourceStatus) -> None:
    """``SetupOIDCServiceAccount`` with authentication-oidc disabled."""
    status.auth = None
    cm.mark_true(OIDC_IDENTITY_CREATED, OIDC_DISABLED, "")


def propagate_binding(cm: ConditionManager, status: SourceStatus, binding: SinkBinding | None) -> None:
    """``ContainerSourceStatus.PropagateSinkBindingStatus``: the binding's sink and Ready."""
    if binding is None:
        cm.mark_unknown(SINKBINDING_READY, "", "")
        return
    status.sink_uri = binding.status.sink_uri
    status.sink_ca_certs, status.sink_audience = binding.status.sink_ca_certs, binding.status.sink_audience
    ready = binding.status.get_condition(READY)
    if ready is None:
        cm.mark_unknown(SINKBINDING_READY, "", "")
    elif ready.status == "True":
        cm.mark_true(SINKBINDING_READY)
    elif ready.status == "False":
        cm.mark_false(SINKBINDING_READY, ready.reason or "", ready.message or "")
    else:
        cm.mark_unknown(SINKBINDING_READY, ready.reason or "", ready.message or "")
