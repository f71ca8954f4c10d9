"""The ``additionalPrinterColumns`` of Knative's CRDs, and how kube-apiserver fills their cells.

What ``kubectl get ksvc`` shows comes from the Service CRD (knative/serving
``config/core/300-resources/service.yaml``): ``URL``, ``LatestCreated``, ``LatestReady``, ``Ready``,
``Reason``; likewise for the other Serving kinds, the networking kinds (knative/networking
``config/serverlessservice.yaml``; ``ClusterDomainClaim`` declares none) and Eventing's Broker,
Trigger, ApiServerSource and EventType (knative/eventing ``config/core/resources``). A CRD without
columns gets ``Age`` (apiextensions' ``serveDefaultColumnsIfEmpty``); kube-apiserver always puts ``Name`` first.

Cells are filled as apiextensions' table convertor fills them: the first JSONPath match, printed as
text for a ``string`` column, kept as a JSON value of the column's type otherwise (None when it is
not of that type), a ``date`` shown as the time since (``5m``). :data:`COLUMNS` is also what a CRD
generated for these kinds carries as ``additionalPrinterColumns`` (:meth:`PrinterColumn.crd`). PURE.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from zeroserve.api import jsonpath, printers
from zeroserve.api.autoscaling import parse_time
from zeroserve.api.kinds import Kind

Cell = printers.Cell

READY: Final = ".status.conditions[?(@.type=='Ready')].status"
REASON: Final = ".status.conditions[?(@.type=='Ready')].reason"
CREATION_DOC: Final = (
    "CreationTimestamp is a timestamp representing the server time when this object was created. It is not "
    "guaranteed to be set in happens-before order across separate operations. Clients may not set this value. "
    "It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. "
    "More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)


@dataclass(frozen=True)
class PrinterColumn:
    """A ``CustomResourceColumnDefinition``."""

    name: str
    type: str
    json_path: str
    priority: int = 0
    description: str = ""
    format: str = ""
    path: jsonpath.Path = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", jsonpath.parse(self.json_path))

    def doc(self) -> str:
        """The column's description, as the table convertor defaults it."""
        return self.description or f"Custom resource definition column (in JSONPath format): {self.json_path}"

    def cell(self, obj: Any, now: datetime) -> Cell:
        """The cell for ``obj`` (``cellForJSONValue``; ``string`` columns printed as JSONPath prints)."""
        value = self.path.first(obj)
        if value is None:
            return None
        if self.type == "string":
            return jsonpath.text(value)
        return _typed(self.type, value, now)

    def crd(self) -> dict[str, Any]:
        """This column as a CRD's ``additionalPrinterColumns`` entry."""
        out: dict[str, Any] = {"name": self.name, "type": self.type, "jsonPath": self.json_path}
        for key, value in (("priority", self.priority), ("description", self.description), ("format", self.format)):
            if value:
                out[key] = value
        return out


def _typed(type_: str, value: Any, now: datetime) -> Cell:
    if type_ == "integer":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return int(value)
    if type_ == "number":
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
    if type_ == "boolean":
        return value if isinstance(value, bool) else None
    if type_ == "date":
        if not isinstance(value, str):
            return None
        created = parse_time(value)
        return "<invalid>" if created is None else printers.human_duration((now - created).total_seconds())
    return None


def _ready() -> tuple[PrinterColumn, PrinterColumn]:
    return PrinterColumn("Ready", "string", READY), PrinterColumn("Reason", "string", REASON)


AGE: Final = PrinterColumn("Age", "date", ".metadata.creationTimestamp", description=CREATION_DOC)
DEFAULT: Final = (AGE,)
"""A CRD's columns when it declares none."""

COLUMNS: Final[dict[tuple[str, str], tuple[PrinterColumn, ...]]] = {
    ("serving.knative.dev/v1", "Service"): (
        PrinterColumn("URL", "string", ".status.url"),
        PrinterColumn("LatestCreated", "string", ".status.latestCreatedRevisionName"),
        PrinterColumn("LatestReady", "string", ".status.latestReadyRevisionName"),
        *_ready(),
    ),
    ("serving.knative.dev/v1", "Configuration"): (
        PrinterColumn("LatestCreated", "string", ".status.latestCreatedRevisionName"),
        PrinterColumn("LatestReady", "string", ".status.latestReadyRevisionName"),
        *_ready(),
    ),
    ("serving.knative.dev/v1", "Revision"): (
        PrinterColumn("Config Name", "string", ".metadata.labels['serving\\.knative\\.dev/configuration']"),
        PrinterColumn("Generation", "string", ".metadata.labels['serving\\.knative\\.dev/configurationGeneration']"),
        *_ready(),
        PrinterColumn("Actual Replicas", "integer", ".status.actualReplicas"),
        PrinterColumn("Desired Replicas", "integer", ".status.desiredReplicas"),
    ),
    ("serving.knative.dev/v1", "Route"): (PrinterColumn("URL", "string", ".status.url"), *_ready()),
    ("serving.knative.dev/v1beta1", "DomainMapping"): (PrinterColumn("URL", "string", ".status.url"), *_ready()),
    ("autoscaling.internal.knative.dev/v1alpha1", "PodAutoscaler"): (
        PrinterColumn("DesiredScale", "integer", ".status.desiredScale"),
        PrinterColumn("ActualScale", "integer", ".status.actualScale"),
        *_ready(),
    ),
    ("networking.internal.knative.dev/v1alpha1", "ServerlessService"): (
        PrinterColumn("Mode", "string", ".spec.mode"),
        PrinterColumn("Activators", "integer", ".spec.numActivators"),
        PrinterColumn("ServiceName", "string", ".status.serviceName"),
        PrinterColumn("PrivateServiceName", "string", ".status.privateServiceName"),
        *_ready(),
    ),
    ("eventing.knative.dev/v1", "Broker"): (
        PrinterColumn("URL", "string", ".status.address.url"),
        AGE,
        *_ready(),
        PrinterColumn("Class", "string", ".metadata.annotations.eventing\\.knative\\.dev/broker\\.class", priority=1),
    ),
    ("eventing.knative.dev/v1", "Trigger"): (
        PrinterColumn("Broker", "string", ".spec.broker"),
        PrinterColumn("Subscriber_URI", "string", ".status.subscriberUri"),
        AGE,
        *_ready(),
    ),
    ("messaging.knative.dev/v1", "Channel"): (PrinterColumn("URL", "string", ".status.address.url"), AGE, *_ready()),
    ("messaging.knative.dev/v1", "InMemoryChannel"): (
        PrinterColumn("URL", "string", ".status.address.url"),
        AGE,
        *_ready(),
    ),
    ("messaging.knative.dev/v1", "Subscription"): (AGE, *_ready()),
    ("flows.knative.dev/v1", "Sequence"): (PrinterColumn("URL", "string", ".status.address.url"), AGE, *_ready()),
    ("flows.knative.dev/v1", "Parallel"): (PrinterColumn("URL", "string", ".status.address.url"), AGE, *_ready()),
    ("sources.knative.dev/v1", "ApiServerSource"): (PrinterColumn("Sink", "string", ".status.sinkUri"), AGE, *_ready()),
    ("eventing.knative.dev/v1beta2", "EventType"): (
        PrinterColumn("Type", "string", ".spec.type"),
        PrinterColumn("Source", "string", ".spec.source"),
        PrinterColumn("Schema", "string", ".spec.schema"),
        PrinterColumn("Reference Name", "string", ".spec.reference.name"),
        PrinterColumn("Reference Kind", "string", ".spec.reference.kind"),
        PrinterColumn("Description", "string", ".spec.description"),
        *_ready(),
    ),
    ("eventing.knative.dev/v1beta3", "EventType"): (
        PrinterColumn("Type", "string", ".spec.attributes[?(@.name=='type')].value"),
        PrinterColumn("Source", "string", ".spec.attributes[?(@.name=='source')].value"),
        PrinterColumn("Reference Name", "string", ".spec.reference.name"),
        PrinterColumn("Reference Kind", "string", ".spec.reference.kind"),
        PrinterColumn("Description", "string", ".spec.description"),
        *_ready(),
    ),
    ("sources.knative.dev/v1", "PingSource"): (
        PrinterColumn("Sink", "string", ".status.sinkUri"),
        PrinterColumn("Schedule", "string", ".spec.schedule"),
        AGE,
        *_ready(),
    ),
    ("sources.knative.dev/v1", "SinkBinding"): (PrinterColumn("Sink", "string", ".status.sinkUri"), AGE, *_ready()),
    ("sources.knative.dev/v1", "ContainerSource"): (
        PrinterColumn("Sink", "string", ".status.sinkUri"),
        AGE,
        *_ready(),
    ),
}
"""By (apiVersion, kind), in the CRDs' order. (Eventing's CRDs declare Age themselves; Serving's do not.)"""


def columns(api_version: str, kind: str) -> tuple[PrinterColumn, ...]:
    """The printer columns of a custom resource kind (after ``Name``)."""
    return COLUMNS.get((api_version, kind), DEFAULT)


def table_columns(kind: Kind) -> tuple[printers.Column, ...]:
    """The Table columns kube-apiserver serves for ``kind``: a built-in (core) kind's from
    :mod:`zeroserve.api.printers`, a custom resource's ``Name`` then its printer columns."""
    if not kind.group:
        return printers.columns(kind.api_version, kind.kind)
    return (printers.NAME, *(_column(c) for c in columns(kind.api_version, kind.kind)))


def _column(c: PrinterColumn) -> printers.Column:
    return printers.Column(c.name, c.type, c.doc(), c.cell, format=c.format, priority=c.priority)
