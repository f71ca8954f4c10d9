"""The downward API (pure): an instance's pod fields and its containers' resources as strings.

Knative's pod for a revision (resources/deploy.go, meta.go) has the revision's labels (without
``serving.knative.dev/route`` and ``routingState``) plus ``serving.knative.dev/revision``,
``serving.knative.dev/revisionUID`` and ``app`` (the revision's name unless set), and the revision's
annotations without the routing and ``autoscaling.knative.dev`` ones plus
``kubectl.kubernetes.io/default-container``. Here an instance is that pod (:class:`Pod`):

* ``metadata.name`` and ``metadata.uid`` are the instance's own (the runtime fills them,
  :data:`zeroserve.runtime.base.INSTANCE_FIELDS`): its name is ``REVISION-deployment-HASH-XXXXX`` as
  Knative's pods are named (runtime/local.py ``pod_name``), its uid a UUID made from that name;
* ``spec.nodeName`` is this machine's host name; ``spec.serviceAccountName`` the revision's
  ``serviceAccountName`` (``default`` when unset, as the admission plugin sets it);
* ``status.podIP``, ``status.podIPs``, ``status.hostIP``, ``status.hostIPs``: ``127.0.0.1`` (every
  instance listens on the loopback of its own network, or the machine's for processes).

Paths and values as the kubelet's (``podFieldSelectorRuntimeValue``, ``fieldpath.ExtractFieldPathAsString``,
``FormatMap``: sorted ``key="value"`` lines, Go-quoted) and the API server's allowed lists
(``validEnvDownwardAPIFieldPathExpressions``, ``validVolumeDownwardAPIFieldPathExpressions``).
``resourceFieldRef`` values are ``ceil(value / divisor)`` (cpu in millicores), a limit that is not
set is the node's allocatable (the machine's cores, memory and the data dir's disk), a request that
is not set is its limit if set (the API server's defaulting), else 0.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Final

from zeroserve.api import labels
from zeroserve.api.podspec import Container
from zeroserve.config import quantity
from zeroserve.controller.resources.configdata import CREATE_CONFIG_ERROR, ConfigError
from zeroserve.runtime.base import INSTANCE_FIELDS

ENV_FIELD_PATHS: Final = (
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
)
VOLUME_FIELD_PATHS: Final = (
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
)
RESOURCES: Final = (
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
)
LOOPBACK: Final = "127.0.0.1"
APP_LABEL: Final = "app"
DEFAULT_CONTAINER_ANNOTATION: Final = "kubectl.kubernetes.io/default-container"
_SUBSCRIPT = re.compile(r"^(metadata\.(?:labels|annotations))\['(.*)'\]$", re.DOTALL)
_EXCLUDED_LABELS = (labels.ROUTE, labels.ROUTING_STATE)
_EXCLUDED_ANNOTATIONS = (f"{labels.GROUP}/lastPinned", labels.NO_GC, labels.ROUTING_STATE_MODIFIED, labels.ROUTES)


@dataclass(frozen=True)
class Pod:
    """What every instance of a revision shares of its pod."""

    namespace: str
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    node_name: str = "localhost"
    service_account: str = "default"


@dataclass(frozen=True)
class Node:
    """The machine's allocatable resources (the default of a limit that is not set)."""

    name: str = "localhost"
    """The machine's host name (``spec.nodeName``)."""
    cpus: Fraction = Fraction(1)
    memory: int = 0
    ephemeral_storage: int = 0


def pod_labels(name: str, uid: str, revision_labels: Mapping[str, str]) -> dict[str, str]:
    """Knative's ``makeLabels``: the revision's labels as its pods carry them."""
    out = {k: v for k, v in revision_labels.items() if k not in _EXCLUDED_LABELS}
    out.update({labels.REVISION: name, labels.REVISION_UID: uid})
    out.setdefault(APP_LABEL, name)
    return out


def pod_annotations(annotations: Mapping[str, str], container_name: str) -> dict[str, str]:
    """Knative's ``podAnnotations``: without the routing and autoscaling ones, plus the default container."""
    out = {
        k: v for k, v in annotations.items() if k not in _EXCLUDED_ANNOTATIONS and not k.startswith(labels.AUTOSCALING)
    }
    if container_name:
        out[DEFAULT_CONTAINER_ANNOTATION] = container_name
    return out


def check_path(ref: Mapping[str, object], allowed: Sequence[str], where: str) -> str:
    """The ``fieldPath`` of a ``fieldRef`` if the API server would take it, else a ConfigError."""
    version, path = ref.get("apiVersion") or "v1", ref.get("fieldPath")
    if version != "v1":
        raise _invalid(f"{where}.apiVersion", version, "only v1 is supported")
    if not isinstance(path, str) or not path:
        raise ConfigError(CREATE_CONFIG_ERROR, f"{where}.fieldPath: Required value")
    match = _SUBSCRIPT.match(path)
    if match is not None and match.group(2):
        return path
    if path not in allowed:
        quoted = ", ".join(f'"{p}"' for p in allowed)
        raise _invalid(f"{where}.fieldPath", path, f"supported values: {quoted}", unsupported=True)
    return path


def field_value(path: str, pod: Pod) -> str:
    """The value of a checked, non-instance path (:func:`check_path`)."""
    match = _SUBSCRIPT.match(path)
    if match is not None:
        source = pod.labels if match.group(1) == "metadata.labels" else pod.annotations
        return source.get(match.group(2), "")
    if path in INSTANCE_FIELDS:
        raise ValueError(f"{path} is the instance's own")
    values = {
        "metadata.namespace": pod.namespace,
        "metadata.labels": format_map(pod.labels),
        "metadata.annotations": format_map(pod.annotations),
        "spec.nodeName": pod.node_name,
        "spec.serviceAccountName": pod.service_account,
    }
    return values.get(path, LOOPBACK)


def resource_value(
    ref: Mapping[str, object], container: Container, containers: Sequence[Container], node: Node, where: str
) -> str:
    """``resourceFieldRef``: a container's limit or request in units of ``divisor``."""
    resource = ref.get("resource")
    name = ref.get("containerName")
    if name:
        found = next((c for c in containers if c.name == name), None)
        if found is None:
            raise ConfigError(CREATE_CONFIG_ERROR, f"container {name} not found")
        container = found
    if resource not in RESOURCES:
        raise ConfigError(CREATE_CONFIG_ERROR, f"Unsupported container resource : {resource}")
    assert isinstance(resource, str)
    try:
        divisor = quantity.parse(ref["divisor"]) if ref.get("divisor") not in (None, "", 0) else Fraction(1)  # type: ignore[arg-type]
    except quantity.QuantityError as err:
        raise _invalid(f"{where}.divisor", ref.get("divisor"), str(err)) from None
    value = _resource(resource, container, node)
    if resource.endswith(".cpu"):  # Go: MilliValue() rounds up
        top, bottom = math.ceil(value * 1000), math.ceil(divisor * 1000)
    else:
        top, bottom = math.ceil(value), math.ceil(divisor)
    if bottom <= 0:
        raise _invalid(f"{where}.divisor", ref.get("divisor"), "must be greater than 0")
    return str(math.ceil(Fraction(top, bottom)))


def _resource(resource: str, c: Container, node: Node) -> Fraction:
    kind, name = resource.split(".", 1)
    limits = c.resources.limits if c.resources else {}
    requests = c.resources.requests if c.resources else {}
    allocatable = {
        "cpu": node.cpus,
        "memory": Fraction(node.memory),
        "ephemeral-storage": Fraction(node.ephemeral_storage),
    }
    try:
        if kind == "limits":
            return quantity.parse(limits[name]) if name in limits else allocatable[name]
        raw = requests.get(name, limits.get(name))
        return quantity.parse(raw) if raw is not None else Fraction(0)
    except quantity.QuantityError:
        return Fraction(0)  # admission refused it: not reached


def format_map(values: Mapping[str, str]) -> str:
    """``fieldpath.FormatMap``: ``key="value"`` lines sorted by key, values Go-quoted."""
    return "\n".join(f"{key}={go_quote(values[key])}" for key in sorted(values))


_ESCAPES: Final = {"\a": r"\a", "\b": r"\b", "\f": r"\f", "\n": r"\n", "\r": r"\r", "\t": r"\t", "\v": r"\v"}


def go_quote(text: str) -> str:
    """Go's ``strconv.Quote``: double quotes, printable characters as they are, others escaped."""
    out = ['"']
    for ch in text:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch == " " or ch.isprintable():
            out.append(ch)
        elif 0xDC80 <= ord(ch) <= 0xDCFF:  # a byte that is not UTF-8 (surrogateescape)
            out.append(f"\\x{ord(ch) - 0xDC00:02x}")
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def _invalid(path: str, value: object, detail: str, *, unsupported: bool = False) -> ConfigError:
    what = "Unsupported value" if unsupported else "Invalid value"
    return ConfigError(CREATE_CONFIG_ERROR, f'{path}: {what}: "{value}": {detail}')
