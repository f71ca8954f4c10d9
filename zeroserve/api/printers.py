"""Table columns per kind: what ``kubectl get`` prints, as the server's Table gives it.

kubectl prints a built-in kind only from the ``meta.k8s.io/v1`` Table the server answers with
(``Accept: application/json;as=Table;v=v1;g=meta.k8s.io``); the columns come from
``pkg/printers/internalversion/printers.go`` (ConfigMap ``NAME DATA AGE``, Secret
``NAME TYPE DATA AGE``, Namespace ``NAME STATUS AGE``, Event ``LAST SEEN TYPE REASON OBJECT
MESSAGE`` and, for ``-o wide``, ``SUBOBJECT SOURCE FIRST SEEN COUNT NAME``: the server sends every
cell, as kube-apiserver's ``printEvent`` with ``Wide``). A kind with no columns of its own gets
``NAME AGE``, as a CRD without ``additionalPrinterColumns``; Knative's columns are added here per
kind. A cell never holds a Secret value: the Secret row counts its keys.

:func:`human_duration` is apimachinery's ``duration.HumanDuration`` (``AGE``). PURE.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from zeroserve.api.autoscaling import parse_time
from zeroserve.api.base import Obj

Cell = str | int | float | bool | None


@dataclass(frozen=True)
class Column:
    """A ``TableColumnDefinition`` and how to fill its cell from an object at a time."""

    name: str
    type: str
    description: str
    cell: Callable[[Obj, datetime], Cell]
    format: str = ""
    priority: int = 0

    def definition(self) -> Obj:
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        }


NAME_DOC = (
    "Name must be unique within a namespace. Is required when creating resources, although some resources "
    "may allow a client to request the generation of an appropriate name automatically. Name is primarily "
    "intended for creation idempotence and configuration definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)
AGE_DOC = (
    "CreationTimestamp is a timestamp representing the server time when this object was created. It is not "
    "guaranteed to be set in happens-before order across separate operations. Clients may not set this value. "
    "It is represented in RFC3339 form and is in UTC."
)

FIELD_PATH_DOC = (
    "If referring to a piece of an object instead of an entire object, this string should contain a valid "
    "JSON/Go field access statement, such as desiredState.manifest.containers[2]. For example, if the object "
    'reference is to a container within a pod, this would take on a value like: "spec.containers{name}" '
    '(where "name" refers to the name of the container that triggered the event) or if no container name is '
    'specified "spec.containers[2]" (container with index 2 in this pod). This syntax is chosen only to have '
    "some well-defined way of referencing a part of an object."
)


def human_duration(seconds: float) -> str:
    """apimachinery ``duration.HumanDuration``: ``45s``, ``5m10s``, ``3h``, ``2d4h``, ``1y20d``."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m" if s % 60 == 0 else f"{minutes}m{s % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d" if hours % 24 == 0 else f"{hours // 24}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = hours // 24 % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def age(obj: Obj, now: datetime) -> str:
    """``translateTimestampSince``: ``<unknown>`` without a creation time."""
    created = parse_time(obj.get("metadata", {}).get("creationTimestamp"))
    return "<unknown>" if created is None else human_duration((now - created).total_seconds())


def _name(obj: Obj, _: datetime) -> Cell:
    return str(obj.get("metadata", {}).get("name", ""))


def _count(*fields: str) -> Callable[[Obj, datetime], Cell]:
    def cell(obj: Obj, _: datetime) -> Cell:
        return sum(len(obj.get(f) or {}) for f in fields)

    return cell


def _at(*path: str) -> Callable[[Obj, datetime], Cell]:
    def cell(obj: Obj, _: datetime) -> Cell:
        value: object = obj
        for p in path:
            value = value.get(p) if isinstance(value, dict) else None
        return value if isinstance(value, str | int | float | bool) else ""

    return cell


def _since(stamp: object, now: datetime) -> str:
    """``translateTimestampSince`` / ``translateMicroTimestampSince``: ``<unknown>`` when unset."""
    when = parse_time(stamp) if isinstance(stamp, str) else None
    return "<unknown>" if when is None else human_duration((now - when).total_seconds())


def event_seen(obj: Obj, now: datetime) -> tuple[str, str, int]:
    """An Event's first seen, last seen and count, as ``printEvent`` derives them: ``eventTime`` when
    there is no ``firstTimestamp``, a ``series`` over ``lastTimestamp`` and ``count``, 1 for a singleton."""
    first = _since(obj.get("firstTimestamp") or obj.get("eventTime"), now)
    last = _since(obj["lastTimestamp"], now) if obj.get("lastTimestamp") else first
    count = obj.get("count") or 0
    series = obj.get("series")
    if isinstance(series, dict):
        last, count = _since(series.get("lastObservedTime"), now), series.get("count") or 0
    elif not count:
        count = 1
    return first, last, int(count)


def event_object(obj: Obj) -> str:
    """``kind/name`` of what the event is about, the kind in lower case (``service/hello``)."""
    ref = obj.get("involvedObject") or {}
    kind, name = str(ref.get("kind") or "").lower(), ref.get("name") or ""
    return f"{kind}/{name}" if name else kind


def event_source(obj: Obj) -> str:
    """``formatEventSource``: the component (or reportingComponent), ``, host`` when there is one."""
    source = obj.get("source") or {}
    component = source.get("component") or obj.get("reportingComponent") or ""
    host = source.get("host") or obj.get("reportingInstance") or ""
    return f"{component}, {host}" if host else str(component)


def _message(obj: Obj, _: datetime) -> Cell:
    return str(obj.get("message") or "").strip()


def _service_external_ip(obj: Obj, _: datetime) -> Cell:
    """printers.go ``getServiceExternalIP``: the load balancer's addresses, an ExternalName's name."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    kind = spec.get("type") or "ClusterIP"
    if kind == "ExternalName":
        return str(spec.get("externalName") or "<none>")
    ips = [str(i.get("ip") or i.get("hostname") or "") for i in (status.get("loadBalancer") or {}).get("ingress") or []]
    ips = [*ips, *(spec.get("externalIPs") or [])]
    if ips:
        return ",".join(ips)
    return "<pending>" if kind == "LoadBalancer" else "<none>"


def _service_ports(obj: Obj, _: datetime) -> Cell:
    """printers.go ``makePortString``: ``PORT[:NODEPORT]/PROTOCOL``, comma-joined."""
    out = []
    for p in (obj.get("spec") or {}).get("ports") or []:
        node = f":{p['nodePort']}" if p.get("nodePort") else ""
        out.append(f"{p.get('port')}{node}/{p.get('protocol') or 'TCP'}")
    return ",".join(out) or "<none>"


def _container_statuses(obj: Obj) -> list[Obj]:
    return [c for c in (obj.get("status") or {}).get("containerStatuses") or [] if isinstance(c, dict)]


def _pod_ready(obj: Obj, _: datetime) -> Cell:
    """printers.go ``printPod``: ready containers / containers."""
    total = len((obj.get("spec") or {}).get("containers") or [])
    return f"{sum(1 for c in _container_statuses(obj) if c.get('ready'))}/{total}"


def _pod_status(obj: Obj, _: datetime) -> Cell:
    """printers.go ``printPod``'s reason: the phase, a container's waiting or terminated reason,
    ``Terminating`` once deleted."""
    status = obj.get("status") or {}
    reason = str(status.get("reason") or status.get("phase") or "")
    for c in reversed(_container_statuses(obj)):
        state = c.get("state") or {}
        waiting, terminated = state.get("waiting") or {}, state.get("terminated") or {}
        if waiting.get("reason"):
            reason = str(waiting["reason"])
        elif terminated.get("reason"):
            reason = str(terminated["reason"])
        elif terminated:
            code = terminated.get("exitCode", 0)
            reason = f"Signal:{terminated['signal']}" if terminated.get("signal") else f"ExitCode:{code}"
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        reason = "Terminating"
    return reason


def _restarts(obj: Obj, _: datetime) -> Cell:
    return str(sum(int(c.get("restartCount") or 0) for c in _container_statuses(obj)))


def _pod_ip(obj: Obj, _: datetime) -> Cell:
    return str((obj.get("status") or {}).get("podIP") or "<none>")


def _at_or_none(*path: str) -> Callable[[Obj, datetime], Cell]:
    def cell(obj: Obj, _: datetime) -> Cell:
        value: object = obj
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        return str(value) if value else "<none>"

    return cell


def _readiness_gates(obj: Obj, _: datetime) -> Cell:
    gates = (obj.get("spec") or {}).get("readinessGates") or []
    if not gates:
        return "<none>"
    true = {str(c.get("type")) for c in (obj.get("status") or {}).get("conditions") or [] if c.get("status") == "True"}
    return f"{sum(1 for g in gates if g.get('conditionType') in true)}/{len(gates)}"


NAME = Column("Name", "string", NAME_DOC, _name, format="name")
AGE = Column("Age", "string", AGE_DOC, age)
DEFAULT_COLUMNS: tuple[Column, ...] = (NAME, AGE)

COLUMNS: dict[tuple[str, str], tuple[Column, ...]] = {
    ("v1", "ConfigMap"): (
        NAME,
        Column(
            "Data",
            "string",
            "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' "
            "or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data "
            "must not overlap with the keys in the BinaryData field, this is enforced during validation process.",
            _count("data", "binaryData"),
        ),
        AGE,
    ),
    ("v1", "Secret"): (
        NAME,
        Column("Type", "string", "Used to facilitate programmatic handling of secret data.", _at("type")),
        Column(
            "Data",
            "string",
            "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. "
            "The serialized form of the secret data is a base64 encoded string, representing the arbitrary "
            "(possibly non-string) data value here.",
            _count("data"),
        ),
        AGE,
    ),
    ("v1", "Namespace"): (
        NAME,
        Column(
            "Status",
            "string",
            "The status of the namespace",
            _at("status", "phase"),
        ),
        AGE,
    ),
    ("v1", "Service"): (
        NAME,
        Column("Type", "string", "The type of the service.", _at("spec", "type")),
        Column(
            "Cluster-IP",
            "string",
            "The IP address of the service.",
            lambda o, _: str((o.get("spec") or {}).get("clusterIP") or "<none>"),
        ),
        Column("External-IP", "string", "The external IP address of the service.", _service_external_ip),
        Column("Port(s)", "string", "The ports of the service.", _service_ports),
        AGE,
        Column(
            "Selector",
            "string",
            "The selector of the service.",
            lambda o, _: (
                ",".join(f"{k}={v}" for k, v in sorted(((o.get("spec") or {}).get("selector") or {}).items()))
                or "<none>"
            ),
            priority=1,
        ),
    ),
    ("v1", "Event"): (
        Column(
            "Last Seen",
            "string",
            "The time at which the most recent occurrence of this event was recorded.",
            lambda o, now: event_seen(o, now)[1],
        ),
        Column(
            "Type",
            "string",
            "Type of this event (Normal, Warning), new types could be added in the future",
            _at("type"),
        ),
        Column(
            "Reason",
            "string",
            "This should be a short, machine understandable string that gives the reason for the transition into "
            "the object's current status.",
            _at("reason"),
        ),
        Column("Object", "string", "The object that this event is about.", lambda o, _: event_object(o)),
        Column("Subobject", "string", FIELD_PATH_DOC, _at("involvedObject", "fieldPath"), priority=1),
        Column(
            "Source",
            "string",
            "The component reporting this event. Should be a short machine understandable string.",
            lambda o, _: event_source(o),
            priority=1,
        ),
        Column("Message", "string", "A human-readable description of the status of this operation.", _message),
        Column(
            "First Seen",
            "string",
            "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)",
            lambda o, now: event_seen(o, now)[0],
            priority=1,
        ),
        Column(
            "Count",
            "string",
            "The number of times this event has occurred.",
            lambda o, now: event_seen(o, now)[2],
            priority=1,
        ),
        Column("Name", "string", NAME_DOC, _name, format="name", priority=1),
    ),
    ("v1", "Pod"): (
        NAME,
        Column("Ready", "string", "The aggregate readiness state of this pod for accepting traffic.", _pod_ready),
        Column("Status", "string", "The aggregate status of the containers in this pod.", _pod_status),
        Column("Restarts", "string", "The number of times the containers in this pod have been restarted.", _restarts),
        AGE,
        Column("IP", "string", "IP address allocated to the pod. Routable within the cluster.", _pod_ip, priority=1),
        Column(
            "Node", "string", "Node name to which this pod is scheduled.", _at_or_none("spec", "nodeName"), priority=1
        ),
        Column(
            "Nominated Node",
            "string",
            "Nominated node name for the pod.",
            _at_or_none("status", "nominatedNodeName"),
            priority=1,
        ),
        Column("Readiness Gates", "string", "The readiness gates of the pod.", _readiness_gates, priority=1),
    ),
}
"""Columns by (apiVersion, kind); issue 15 adds Knative's (their CRDs' additionalPrinterColumns)."""


def columns(api_version: str, kind: str) -> tuple[Column, ...]:
    return COLUMNS.get((api_version, kind), DEFAULT_COLUMNS)


def row(cols: tuple[Column, ...], obj: Obj, now: datetime) -> list[Cell]:
    return [c.cell(obj, now) for c in cols]
