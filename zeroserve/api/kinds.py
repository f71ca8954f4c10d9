"""The resource kinds the API serves: group, version, plural, short names, model."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import BaseModel

from zeroserve.api import eventtype
from zeroserve.api.apiserversource import ApiServerSource
from zeroserve.api.autoscaling import PodAutoscaler
from zeroserve.api.base import Obj
from zeroserve.api.configuration import Configuration
from zeroserve.api.core import ConfigMap, Event, Namespace, Secret
from zeroserve.api.coreservice import CoreService
from zeroserve.api.domainmapping import ClusterDomainClaim, DomainMapping
from zeroserve.api.eventing import Broker, Trigger
from zeroserve.api.eventtype import EventType, EventTypeV1Beta3
from zeroserve.api.flows import Parallel, Sequence
from zeroserve.api.messaging import Channel, InMemoryChannel, Subscription
from zeroserve.api.networking import ServerlessService
from zeroserve.api.pod import Pod
from zeroserve.api.revision import Revision
from zeroserve.api.route import Route
from zeroserve.api.service import Service
from zeroserve.api.sources import ContainerSource, PingSource, SinkBinding

SERVING_GROUP = "serving.knative.dev"


@dataclass(frozen=True)
class Conversion:
    """How a served version that is not stored maps to the stored one (a CRD's conversion webhook)."""

    storage: Kind
    """The stored kind: same group, kind and plural, another version."""
    to_storage: Callable[[Obj], Obj]
    """An object of the served version (wire form) as the stored version."""
    from_storage: Callable[[Obj], Obj]
    """A stored object as the served version."""


@dataclass(frozen=True)
class Kind:
    group: str
    version: str
    kind: str
    plural: str
    singular: str
    model: type[BaseModel]
    short_names: tuple[str, ...] = ()
    namespaced: bool = True
    categories: tuple[str, ...] = field(default=("all", "knative", "serving"))
    subresources: tuple[str, ...] = ("status",)
    """The writable subresources served under ``.../NAME/SUB`` (``status``: the status subresource)."""
    read_only: bool = False
    """Users may only get, list and watch it (the API answers 405 to a write); zeroserve writes it."""
    conversion: Conversion | None = None
    """Set on an extra served version of a stored kind: the API converts each object on its way in
    and out; the store, the controller and admission only ever see :attr:`Conversion.storage`."""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"


SERVICE = Kind(SERVING_GROUP, "v1", "Service", "services", "service", Service, ("kservice", "ksvc"))
CONFIGURATION = Kind(
    SERVING_GROUP, "v1", "Configuration", "configurations", "configuration", Configuration, ("config", "cfg")
)
REVISION = Kind(SERVING_GROUP, "v1", "Revision", "revisions", "revision", Revision, ("rev",))
ROUTE = Kind(SERVING_GROUP, "v1", "Route", "routes", "route", Route, ("rt",))

PODAUTOSCALER = Kind(
    "autoscaling.internal.knative.dev",
    "v1alpha1",
    "PodAutoscaler",
    "podautoscalers",
    "podautoscaler",
    PodAutoscaler,
    ("kpa", "pa"),
    categories=("knative-internal", "autoscaling"),
)
SERVERLESSSERVICE = Kind(
    "networking.internal.knative.dev",
    "v1alpha1",
    "ServerlessService",
    "serverlessservices",
    "serverlessservice",
    ServerlessService,
    ("sks",),
    categories=("knative-internal", "networking"),
)

DOMAINMAPPING = Kind(
    SERVING_GROUP, "v1beta1", "DomainMapping", "domainmappings", "domainmapping", DomainMapping, ("dm",)
)
CLUSTERDOMAINCLAIM = Kind(
    "networking.internal.knative.dev",
    "v1alpha1",
    "ClusterDomainClaim",
    "clusterdomainclaims",
    "clusterdomainclaim",
    ClusterDomainClaim,
    ("cdc",),
    namespaced=False,
    categories=("knative-internal", "networking"),
)
"""Names, short names, scope and categories as Knative's CRDs (config/core/300-resources/domain-mapping.yaml,
knative/networking config/domain-claim.yaml)."""

CONFIGMAP = Kind("", "v1", "ConfigMap", "configmaps", "configmap", ConfigMap, ("cm",), categories=(), subresources=())
SECRET = Kind("", "v1", "Secret", "secrets", "secret", Secret, categories=(), subresources=())
NAMESPACE = Kind(
    "",
    "v1",
    "Namespace",
    "namespaces",
    "namespace",
    Namespace,
    ("ns",),
    namespaced=False,
    categories=(),
    subresources=("status", "finalize"),
)
EVENT = Kind("", "v1", "Event", "events", "event", Event, ("ev",), categories=(), subresources=())
"""Kubernetes' core kinds (the legacy group ``""``, served under ``/api/v1``), with kube-apiserver's
short names and no categories (``kubectl get all`` lists none of them)."""

POD = Kind("", "v1", "Pod", "pods", "pod", Pod, ("po",), categories=("all",), subresources=(), read_only=True)
"""core/v1 Pods: read-only, one per instance, written by the pod mirror (:mod:`zeroserve.controller.pods`);
not in :data:`KINDS` (the controller neither watches nor collects them: the mirror deletes its own)."""

CORE_KINDS: tuple[Kind, ...] = (NAMESPACE, CONFIGMAP, SECRET, EVENT)

EVENTING_GROUP = "eventing.knative.dev"
BROKER = Kind(EVENTING_GROUP, "v1", "Broker", "brokers", "broker", Broker, categories=("all", "knative", "eventing"))
TRIGGER = Kind(
    EVENTING_GROUP, "v1", "Trigger", "triggers", "trigger", Trigger, categories=("all", "knative", "eventing")
)
"""As Knative Eventing's CRDs (config/core/resources/{broker,trigger}.yaml): no short names."""

MESSAGING_GROUP = "messaging.knative.dev"
FLOWS_GROUP = "flows.knative.dev"
_CHANNELS = ("all", "knative", "messaging", "channel")
_FLOWS = ("all", "knative", "flows")
CHANNEL = Kind(MESSAGING_GROUP, "v1", "Channel", "channels", "channel", Channel, ("ch",), categories=_CHANNELS)
IN_MEMORY_CHANNEL = Kind(
    MESSAGING_GROUP,
    "v1",
    "InMemoryChannel",
    "inmemorychannels",
    "inmemorychannel",
    InMemoryChannel,
    ("imc",),
    categories=_CHANNELS,
)
SUBSCRIPTION = Kind(
    MESSAGING_GROUP,
    "v1",
    "Subscription",
    "subscriptions",
    "subscription",
    Subscription,
    ("sub",),
    categories=("all", "knative", "messaging"),
)
SEQUENCE = Kind(FLOWS_GROUP, "v1", "Sequence", "sequences", "sequence", Sequence, categories=_FLOWS)
PARALLEL = Kind(FLOWS_GROUP, "v1", "Parallel", "parallels", "parallel", Parallel, categories=_FLOWS)
"""config/core/resources/{channel,subscription,sequence,parallel}.yaml and
config/channels/in-memory-channel/resources/in-memory-channel.yaml: names, short names, categories."""

SOURCES_GROUP = "sources.knative.dev"
_SOURCES = ("all", "knative", "sources")
PINGSOURCE = Kind(SOURCES_GROUP, "v1", "PingSource", "pingsources", "pingsource", PingSource, categories=_SOURCES)
SINKBINDING = Kind(
    SOURCES_GROUP,
    "v1",
    "SinkBinding",
    "sinkbindings",
    "sinkbinding",
    SinkBinding,
    categories=(*_SOURCES, "bindings"),
)
CONTAINERSOURCE = Kind(
    SOURCES_GROUP, "v1", "ContainerSource", "containersources", "containersource", ContainerSource, categories=_SOURCES
)
"""config/core/resources/{pingsource,sinkbindings,containersource}.yaml: no short names; v1 only."""
APISERVERSOURCE = Kind(
    "sources.knative.dev",
    "v1",
    "ApiServerSource",
    "apiserversources",
    "apiserversource",
    ApiServerSource,
    categories=("all", "knative", "sources"),
)
EVENTTYPE = Kind(
    EVENTING_GROUP,
    "v1beta2",
    "EventType",
    "eventtypes",
    "eventtype",
    EventType,
    categories=("all", "knative", "eventing"),
)
EVENTTYPE_V1BETA3 = Kind(
    EVENTING_GROUP,
    "v1beta3",
    "EventType",
    "eventtypes",
    "eventtype",
    EventTypeV1Beta3,
    categories=("all", "knative", "eventing"),
    conversion=Conversion(EVENTTYPE, eventtype.to_v1beta2, eventtype.to_v1beta3),
)
"""config/core/resources/{apiserversource,eventtype}.yaml; EventType stored as v1beta2 and served as
v1beta3 too (Knative's deprecated v1beta1 is not served). Only the API serves :data:`EVENTTYPE_V1BETA3`."""

CORE_SERVICE = Kind(
    "",
    "v1",
    "Service",
    "services",
    "service",
    CoreService,
    ("svc",),
    categories=("all",),
    subresources=(),
    read_only=True,
)
"""core/v1 Services: read-only, made by the Route reconciler and ``zeroserve up``
(:mod:`zeroserve.api.coreservice`). Not in :data:`KINDS`: its kind name is Knative's Service's, and
the controller and the garbage collector key kinds by that name; the API serves :data:`API_KINDS`."""

KINDS: tuple[Kind, ...] = (
    SERVICE,
    CONFIGURATION,
    REVISION,
    ROUTE,
    PODAUTOSCALER,
    SERVERLESSSERVICE,
    DOMAINMAPPING,
    CLUSTERDOMAINCLAIM,
    BROKER,
    TRIGGER,
    CHANNEL,
    IN_MEMORY_CHANNEL,
    SUBSCRIPTION,
    SEQUENCE,
    PARALLEL,
    APISERVERSOURCE,
    EVENTTYPE,
    PINGSOURCE,
    SINKBINDING,
    CONTAINERSOURCE,
    *CORE_KINDS,
)


API_KINDS: tuple[Kind, ...] = (*KINDS, CORE_SERVICE, POD, EVENTTYPE_V1BETA3)
"""What the API server serves: :data:`KINDS`, the core Services and Pods, and the extra served
versions (those with a :attr:`Kind.conversion`: skip them to visit each stored object once)."""


def by_plural(group: str, version: str, plural: str) -> Kind | None:
    return next((k for k in KINDS if (k.group, k.version, k.plural) == (group, version, plural)), None)


def by_kind(api_version: str, kind: str) -> Kind | None:
    return next((k for k in KINDS if (k.api_version, k.kind) == (api_version, kind)), None)


def served(api_version: str, kind: str) -> Kind | None:
    """What a manifest of ``apiVersion``/``kind`` is written as: :func:`by_kind`, or an extra served
    version (``eventing.knative.dev/v1beta3`` EventType), which only the API server may be given."""
    found = by_kind(api_version, kind)
    if found is None:
        found = next((k for k in API_KINDS if k.conversion and (k.api_version, k.kind) == (api_version, kind)), None)
    return found


def lookup(name: str) -> Kind | None:
    """A kind by any name a user may type: plural, singular, kind or short name (kubectl)."""
    n = name.lower()
    return next((k for k in KINDS if n in (k.plural, k.singular, k.kind.lower(), *k.short_names)), None)
