"""Admission: the one entry point the API server calls before it stores a resource.

Knative's webhook runs, for every create and update: decode (unknown fields refused) -> defaulting
(``SetDefaults``) -> validation (``Validate``, all errors). :func:`admit` does the same and returns
the defaulted wire object; :func:`admit_status` is the status subresource (type check only, as
Knative skips spec validation in a status update).

Before decoding, the object must be a plain JSON value (:func:`zeroserve.api.wire.errors`: no lone
surrogates, non-finite numbers or excessive nesting, each reported with its path); decoding
follows Go's rules (:mod:`zeroserve.api.base`), and pydantic's messages are rewritten as
Knative's (:func:`zeroserve.api.validation.field_errors`).

One difference on update: a creator/lastModifier annotation the new object *omits* is carried over
from the stored one (a PUT of a hand-written manifest would otherwise be refused, since Knative
relies on kubectl's merge to keep them); an annotation that is present and different is refused as
in Knative (``annotation value is immutable``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from zeroserve.api import corevalidation, defaults, eventvalidation, labels, sources, validation, wire
from zeroserve.api.apiserversource import ApiServerSource, validate_apiserversource
from zeroserve.api.autoscaling import PodAutoscaler, validate_pod_autoscaler
from zeroserve.api.base import Obj, to_wire
from zeroserve.api.configuration import Configuration
from zeroserve.api.core import Event
from zeroserve.api.domainmapping import (
    ClusterDomainClaim,
    DomainMapping,
    validate_cluster_domain_claim,
    validate_domain_mapping,
)
from zeroserve.api.eventing import Broker, Trigger, validate_broker, validate_trigger
from zeroserve.api.eventtype import EventType, validate_eventtype
from zeroserve.api.flows import Parallel, Sequence, validate_parallel, validate_sequence
from zeroserve.api.kinds import API_KINDS, Kind
from zeroserve.api.messaging import (
    Channel,
    InMemoryChannel,
    Subscription,
    validate_channel,
    validate_in_memory_channel,
    validate_subscription,
)
from zeroserve.api.networking import ServerlessService, validate_serverless_service
from zeroserve.api.revision import Revision
from zeroserve.api.route import Route
from zeroserve.api.service import Service
from zeroserve.config import Config
from zeroserve.errors import FieldError, Invalid

Validator = Callable[[Any, Any, Config], list[FieldError]]

_SERVED = frozenset((k.api_version, k.kind) for k in API_KINDS)
"""What an ApiServerSource's ``resources`` may name."""

_VALIDATORS: dict[type[BaseModel], Validator] = {
    Service: validation.validate_service,
    Configuration: validation.validate_configuration,
    Route: validation.validate_route,
    Revision: validation.validate_revision,
    PodAutoscaler: validate_pod_autoscaler,
    ServerlessService: validate_serverless_service,
    DomainMapping: validate_domain_mapping,
    ClusterDomainClaim: validate_cluster_domain_claim,
    Broker: validate_broker,
    Trigger: validate_trigger,
    Channel: validate_channel,
    InMemoryChannel: validate_in_memory_channel,
    Subscription: validate_subscription,
    Sequence: validate_sequence,
    Parallel: validate_parallel,
    sources.PingSource: sources.validate_ping_source,
    sources.SinkBinding: sources.validate_sink_binding,
    sources.ContainerSource: sources.validate_container_source,
    ApiServerSource: lambda s, old, cfg: validate_apiserversource(s, old, cfg, _SERVED),
    EventType: validate_eventtype,
}


def _name(obj: Obj) -> str:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return ""
    name = meta.get("name") or meta.get("generateName") or ""
    return wire.escaped(name) if isinstance(name, str) else ""


def _parse(kind: Kind, obj: Obj) -> BaseModel:
    errs = wire.errors(obj)
    if errs:
        raise Invalid(validation.merge(errs), kind=kind.kind, name=_name(obj))
    model, errs = validation.parse(kind.model, obj)
    if model is None:
        raise Invalid(errs, kind=kind.kind, name=_name(obj))
    return model


def _carry_user_annotations(new: BaseModel, old: BaseModel) -> None:
    new_meta, old_meta = getattr(new, "metadata", None), getattr(old, "metadata", None)
    if new_meta is None or old_meta is None:
        return
    for key in (labels.CREATOR, labels.LAST_MODIFIER):
        if key in old_meta.annotations and key not in new_meta.annotations:
            new_meta.annotations[key] = old_meta.annotations[key]


def admit(kind: Kind, new: Obj, old: Obj | None, cfg: Config, user: str = "") -> Obj:
    """Parse, default and validate ``new`` (a create when ``old`` is None); Invalid with every error.

    A served version that is not stored (:attr:`Kind.conversion`) must parse as itself, then is
    admitted as the stored version, as a CRD's webhook sees the object converted to its version."""
    if kind.conversion is not None:
        conv = kind.conversion
        _parse(kind, new)
        stored_old = conv.to_storage(old) if old is not None else None
        return conv.from_storage(admit(conv.storage, conv.to_storage(new), stored_old, cfg, user))
    if kind.model is Event:  # kube-apiserver's event rules (zeroserve.api.eventvalidation)
        return eventvalidation.admit(new)
    if not kind.group:  # Kubernetes' core kinds: kube-apiserver's rules (zeroserve.api.corevalidation)
        return corevalidation.admit(kind.model, new, old)
    model = _parse(kind, new)
    prev = _parse(kind, old) if old is not None else None
    validate = _VALIDATORS.get(kind.model)
    if validate is None:  # a kind we have no rules for: metadata only
        meta = getattr(model, "metadata", None)
        errs = validation.via(validation.validate_object_meta(meta, dns1035=False), "metadata") if meta else []
    else:
        if prev is not None:
            _carry_user_annotations(model, prev)
        defaults.set_defaults(model, prev, cfg, user)
        errs = validate(model, prev, cfg)
    if errs:
        raise Invalid(validation.merge(errs), kind=kind.kind, name=_name(new))
    return to_wire(model)


def admit_status(kind: Kind, new: Obj, old: Obj | None = None) -> Obj:
    """The status subresource: the object must parse; nothing is defaulted or range-checked."""
    if not kind.group:
        return corevalidation.admit_status(kind.model, new, old or {})
    if kind.conversion is not None:
        _parse(kind, new)
        conv = kind.conversion
        return conv.from_storage(admit_status(conv.storage, conv.to_storage(new)))
    return to_wire(_parse(kind, new))
