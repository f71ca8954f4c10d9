"""Defaulting of serving.knative.dev/v1 resources, as Knative's ``SetDefaults``.

Mirrors ``pkg/apis/serving/v1/revision_defaults.go`` (timeouts, containerConcurrency, container
and init container names from config-defaults' templates, config-defaults' resource requests and
limits, the default readiness probe, enableServiceLinks, read-only volume mounts),
``configuration_defaults.go`` / ``service_defaults.go`` (creator/lastModifier via
``serving.SetUserInfo``; a template whose BYO name is unchanged is defaulted too, unlike Knative:
see :func:`default_configuration_template`) and ``route_defaults.go``
(``[{percent: 100, latestRevision: true}]`` for a Service, ``latestRevision = revisionName == ""``
and ``percent = 0`` on every target).

The port is *not* defaulted into ``ports``: 8080 is implied (``revision_helpers.go``), as in Knative.
Functions mutate the models they are given; :mod:`zeroserve.api.admission` works on fresh copies.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from zeroserve.api import labels, sources
from zeroserve.api.apiserversource import ApiServerSource, default_apiserversource
from zeroserve.api.configuration import Configuration
from zeroserve.api.domainmapping import DomainMapping, default_domain_mapping
from zeroserve.api.eventing import Broker, Trigger, default_broker, default_trigger
from zeroserve.api.eventtype import EventType, default_eventtype
from zeroserve.api.flows import Parallel, Sequence, default_parallel, default_sequence
from zeroserve.api.messaging import (
    Channel,
    InMemoryChannel,
    Subscription,
    default_channel,
    default_in_memory_channel,
    default_subscription,
)
from zeroserve.api.meta import ObjectMeta
from zeroserve.api.podspec import Container, Probe, ResourceRequirements, TCPSocketAction
from zeroserve.api.revision import Revision, RevisionSpec, RevisionTemplateSpec
from zeroserve.api.route import Route, TrafficTarget
from zeroserve.api.service import Service
from zeroserve.config import Config, DefaultsConfig, templates
from zeroserve.config.gotemplate import Struct

WRITABLE_VOLUME_SOURCES = ("emptyDir", "persistentVolumeClaim", "ephemeral")


def parent_meta(parent: ObjectMeta | None) -> Struct:
    """``apis.ParentMeta(ctx)`` as the container-name templates see it (empty for a bare Revision)."""
    if parent is None:
        return templates.object_meta_values()
    return templates.object_meta_values(
        name=parent.name or "",
        namespace=parent.namespace or "",
        generate_name=parent.generate_name or "",
        labels=parent.labels,
        annotations=parent.annotations,
    )


def user_container_name(d: DefaultsConfig, parent: ObjectMeta | None) -> str:
    """``Defaults.UserContainerName``: ``container-name-template`` (a Go template) over the parent's
    metadata; "" when it fails to execute, as Knative."""
    return templates.container_name(d.container_name_template, parent_meta(parent))


def _next_name(default: str, count: int, taken: set[str | None], suffix: list[int]) -> str:
    """``applyDefaultContainerNames``' choice: ``default``, or ``default-<n>`` when several or taken."""
    name = default
    if count > 1 or name in taken:
        while True:
            name = f"{default}-{suffix[0]}"
            suffix[0] += 1
            if name not in taken:
                break
    return name


def _default_container_names(containers: list[Container], default: str, taken: set[str | None]) -> None:
    """Unnamed containers get ``default`` or ``default-<n>``, avoiding every user-supplied name
    (of containers and init containers), as Knative's ``applyDefaultContainerNames``."""
    suffix = [0]
    for c in containers:
        if not c.name:
            c.name = _next_name(default, len(containers), taken, suffix)


def _default_init_container_names(containers: list[dict[str, Any]], default: str, taken: set[str | None]) -> None:
    """The same for ``initContainers`` (kept as sent: zeroserve does not model them)."""
    suffix = [0]
    for c in containers:
        if not c.get("name"):
            c["name"] = _next_name(default, len(containers), taken, suffix)


def _default_resources(c: Container, d: DefaultsConfig) -> None:
    """``applyDefault``: config-defaults' revision-*-request/limit where the container sets none."""
    for name, request, limit in d.resource_defaults():
        for group, value in (("requests", request), ("limits", limit)):
            if value is None:
                continue
            c.resources = c.resources or ResourceRequirements()
            amounts = c.resources.requests if group == "requests" else c.resources.limits
            amounts.setdefault(name, value)


def _default_readiness(c: Container, serving: bool) -> None:
    if serving:  # applyUserContainerDefaultReadinessProbe
        rp = c.readiness_probe = c.readiness_probe or Probe()
        if rp.tcp_socket is None and rp.http_get is None and rp.exec is None and rp.grpc is None:
            rp.tcp_socket = TCPSocketAction(port=0)
    p = c.readiness_probe
    if p is not None:  # sidecars may have no readiness probe
        if not p.success_threshold:
            p.success_threshold = 1
        if p.period_seconds:  # Kubernetes' own defaults apply once a period is set
            p.failure_threshold = p.failure_threshold or 3
            p.timeout_seconds = p.timeout_seconds or 1
    for probe in (c.readiness_probe, c.liveness_probe, c.startup_probe):
        if probe is not None and probe.grpc is not None:
            probe.grpc.setdefault("service", "")


def default_revision_spec(spec: RevisionSpec, cfg: Config, *, creating: bool, parent: ObjectMeta | None = None) -> None:
    """``RevisionSpec.SetDefaults``."""
    d = cfg.defaults
    if not spec.timeout_seconds:
        spec.timeout_seconds = d.revision_timeout_seconds
    timeout = spec.timeout_seconds
    if spec.idle_timeout_seconds is None and 0 != d.revision_idle_timeout_seconds < timeout:
        spec.idle_timeout_seconds = d.revision_idle_timeout_seconds
    if spec.response_start_timeout_seconds is None and 0 != d.revision_response_start_timeout_seconds < timeout:
        spec.response_start_timeout_seconds = d.revision_response_start_timeout_seconds
    if spec.container_concurrency is None:
        spec.container_concurrency = d.container_concurrency
    init_containers = (spec.model_extra or {}).get("initContainers")
    inits = [c for c in init_containers if isinstance(c, dict)] if isinstance(init_containers, list) else []
    taken = {c.name for c in spec.containers} | {c.get("name") for c in inits}
    _default_container_names(spec.containers, user_container_name(d, parent), taken)
    _default_init_container_names(
        inits, templates.container_name(d.init_container_name_template, parent_meta(parent)), taken
    )
    writable = {
        str(v.get("name")) for v in spec.volumes if any(v.get(src) is not None for src in WRITABLE_VOLUME_SOURCES)
    }
    for c in spec.containers:
        _default_resources(c, d)
        _default_readiness(c, serving=len(spec.containers) == 1 or bool(c.ports))
        if spec.enable_service_links is None and creating:
            spec.enable_service_links = d.enable_service_links
        for vm in c.volume_mounts:
            if str(vm.get("name")) not in writable:
                vm["readOnly"] = True


def default_template(tmpl: RevisionTemplateSpec, cfg: Config, *, creating: bool, parent: ObjectMeta) -> None:
    default_revision_spec(tmpl.spec, cfg, creating=creating, parent=parent)


def default_configuration_template(
    tmpl: RevisionTemplateSpec, old: RevisionTemplateSpec | None, cfg: Config, parent: ObjectMeta
) -> None:
    """``ConfigurationSpec.SetDefaults``.

    An unchanged BYO name means "the same Revision": Knative skips defaulting then, and
    ``VerifyNameChange`` compares the template as sent with the stored (defaulted) one, which only
    works when the client's merge kept every defaulted field. A ``kubectl replace`` or a
    ``zeroserve apply`` of the unchanged manifest sends the raw template (lists are replaced
    whole, so the defaulted container name and readiness probe are gone) and was refused with
    "Saw the following changes without a name change". zeroserve defaults it instead, with the
    create-only ``enableServiceLinks`` carried over from the stored template when the new one
    omits it: defaulted is compared with defaulted, an unchanged manifest is accepted, and a real
    change without a new name is still refused (its diff shows only what the user changed).
    """
    same_name = old is not None and bool(tmpl.metadata.name) and tmpl.metadata.name == old.metadata.name
    default_template(tmpl, cfg, creating=old is None, parent=parent)
    if same_name and old is not None and tmpl.spec.enable_service_links is None:
        tmpl.spec.enable_service_links = old.spec.enable_service_links


def default_traffic(traffic: list[TrafficTarget], *, in_service: bool) -> list[TrafficTarget]:
    """``RouteSpec.SetDefaults``."""
    if not traffic and in_service:
        traffic = [TrafficTarget(percent=100, latest_revision=True)]
    for tt in traffic:
        if tt.latest_revision is None:
            tt.latest_revision = not tt.revision_name
        if tt.percent is None:
            tt.percent = 0
    return traffic


def set_user_info(meta: ObjectMeta, old_spec: BaseModel | None, new_spec: BaseModel, user: str, creating: bool) -> None:
    """``serving.SetUserInfo``: creator on create; lastModifier on create and on a spec change."""
    if not user:
        return
    if creating:
        meta.annotations[labels.CREATOR] = user
        meta.annotations[labels.LAST_MODIFIER] = user
    elif old_spec != new_spec:
        meta.annotations[labels.LAST_MODIFIER] = user


def set_defaults(obj: BaseModel, old: BaseModel | None, cfg: Config, user: str = "") -> None:
    """Default ``obj`` (a create when ``old`` is None), as the Knative webhook's defaulting pass."""
    creating = old is None
    if isinstance(obj, Service):
        prev = old if isinstance(old, Service) else None
        default_configuration_template(obj.spec.template, prev.spec.template if prev else None, cfg, obj.metadata)
        obj.spec.traffic = default_traffic(obj.spec.traffic, in_service=True)
        set_user_info(obj.metadata, prev.spec if prev else None, obj.spec, user, creating)
    elif isinstance(obj, Configuration):
        prevc = old if isinstance(old, Configuration) else None
        default_configuration_template(obj.spec.template, prevc.spec.template if prevc else None, cfg, obj.metadata)
        if not obj.metadata.owner_references:
            set_user_info(obj.metadata, prevc.spec if prevc else None, obj.spec, user, creating)
    elif isinstance(obj, Route):
        obj.spec.traffic = default_traffic(obj.spec.traffic, in_service=False)
        if not obj.metadata.owner_references:
            prevr = old if isinstance(old, Route) else None
            set_user_info(obj.metadata, prevr.spec if prevr else None, obj.spec, user, creating)
    elif isinstance(obj, DomainMapping):  # domainmapping_defaults.go
        default_domain_mapping(obj)
        prevd = old if isinstance(old, DomainMapping) else None
        set_user_info(obj.metadata, prevd.spec if prevd else None, obj.spec, user, creating)
    elif isinstance(obj, Broker):  # broker_defaults.go
        default_broker(obj, cfg)
    elif isinstance(obj, Trigger):  # trigger_defaults.go
        default_trigger(obj, cfg)
    elif isinstance(obj, Channel):  # channel_defaults.go
        default_channel(obj, cfg)
    elif isinstance(obj, InMemoryChannel):  # in_memory_channel_defaults.go
        default_in_memory_channel(obj, cfg)
    elif isinstance(obj, Subscription):  # subscription_defaults.go
        default_subscription(obj, cfg)
    elif isinstance(obj, Sequence):  # sequence_defaults.go
        default_sequence(obj, cfg)
    elif isinstance(obj, Parallel):  # parallel_defaults.go
        default_parallel(obj, cfg)
    elif isinstance(obj, sources.PingSource):  # ping_defaults.go
        sources.default_ping_source(obj)
    elif isinstance(obj, sources.SinkBinding):  # sinkbinding_defaults.go
        sources.default_sink_binding(obj)
    elif isinstance(obj, sources.ContainerSource):  # container_defaults.go
        sources.default_container_source(obj)
    elif isinstance(obj, ApiServerSource):  # apiserver_defaults.go
        default_apiserversource(obj)
    elif isinstance(obj, EventType):  # eventtype_defaults.go
        default_eventtype(obj)
    elif isinstance(obj, Revision):
        # Knative defaults on update too, then refuses any spec change: defaulted is compared with
        # defaulted, so an unchanged manifest sent again (apply, replace) is not "a change".
        default_revision_spec(obj.spec, cfg, creating=creating)
        if isinstance(old, Revision) and obj.spec.enable_service_links is None:
            obj.spec.enable_service_links = old.spec.enable_service_links
