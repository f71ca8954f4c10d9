"""A ServerlessService's core/v1 Services and Endpoints on a Kubernetes cluster (Knative
``pkg/reconciler/serverlessservice/resources/services.go``) (PURE).

* The **public** Service (the SKS's name) has no selector: the SKS reconciler writes its Endpoints
  (:func:`make_public_endpoints`), copied from the private Service's (``Serve``) or the activator's
  (``Proxy``) with only the serving ports kept. Its ports: ``http`` 80 (``http2`` 81, appProtocol
  ``kubernetes.io/h2c``, for an h2c revision) to the queue-proxy's 8012 (8013), and ``https`` 443 to 8112.
* The **private** Service (``NAME-private``) selects the revision's pods; besides the serving
  ports (80 and 443) it names the queue-proxy's metrics ports (``http-autometric`` 9090,
  ``http-usermetric`` 9091) and mirrors the serving port as ``http-istio`` (``http2-istio``).

All carry the SKS's labels plus ``networking.internal.knative.dev/serverlessservice`` and
``serviceType`` (Public or Private), its annotations, and the SKS as controller.

Newer Kubernetes mirrors custom Endpoints into EndpointSlices itself; a backend that writes the
slices (:func:`make_public_endpoint_slices`, grouped by address type and ports as the mirroring
controller groups them) marks the Endpoints ``endpointslice.kubernetes.io/skip-mirror`` so that
they are not mirrored twice.
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any, Final

from zeroserve.api.base import Obj, to_wire
from zeroserve.api.coreservice import CoreService, ServicePort, ServiceSpec
from zeroserve.api.meta import ObjectMeta
from zeroserve.api.networking import API_VERSION as SKS_API_VERSION
from zeroserve.api.networking import ServerlessService
from zeroserve.controller.resources import names, owners
from zeroserve.controller.resources.queuesidecar import (
    AUTOSCALING_METRICS_PORT,
    AUTOSCALING_METRICS_PORT_NAME,
    QUEUE_HTTP2_PORT,
    QUEUE_HTTP_PORT,
    QUEUE_HTTPS_PORT,
    USER_METRICS_PORT,
    USER_METRICS_PORT_NAME,
)
from zeroserve.controller.resources.sks import private_service_name

SKS_LABEL: Final = "networking.internal.knative.dev/serverlessservice"
SERVICE_TYPE_LABEL: Final = "networking.internal.knative.dev/serviceType"
PUBLIC: Final = "Public"
PRIVATE: Final = "Private"
H2C: Final = "h2c"
HTTP_PORT_NAME: Final = "http"
H2C_PORT_NAME: Final = "http2"
HTTPS_PORT_NAME: Final = "https"
H2C_APP_PROTOCOL: Final = "kubernetes.io/h2c"
SERVICE_HTTP_PORT: Final = 80
SERVICE_HTTP2_PORT: Final = 81
SERVICE_HTTPS_PORT: Final = 443
SERVICE_NAME_LABEL: Final = "kubernetes.io/service-name"
MANAGED_BY_LABEL: Final = "endpointslice.kubernetes.io/managed-by"
MANAGED_BY: Final = "zeroserve.knative.dev"
"""Ours: not the mirroring controller's ``endpointslicemirroring-controller.k8s.io``, which would take them."""
SKIP_MIRROR_LABEL: Final = "endpointslice.kubernetes.io/skip-mirror"


def _h2c(sks: ServerlessService) -> bool:
    return sks.spec.protocol_type == H2C


def target_port(sks: ServerlessService) -> int:
    """The queue-proxy's port the Services send to: 8013 for h2c, else 8012."""
    return QUEUE_HTTP2_PORT if _h2c(sks) else QUEUE_HTTP_PORT


def _port_name(sks: ServerlessService) -> str:
    """``ServicePortName``."""
    return H2C_PORT_NAME if _h2c(sks) else HTTP_PORT_NAME


def _meta(sks: ServerlessService, name: str, service_type: str) -> ObjectMeta:
    meta = sks.metadata
    return ObjectMeta(
        name=name,
        namespace=meta.namespace,
        labels={**meta.labels, SKS_LABEL: meta.name or "", SERVICE_TYPE_LABEL: service_type},
        annotations=dict(meta.annotations),
        owner_references=[owners.controller_ref("ServerlessService", meta, SKS_API_VERSION)],
    )


def _serving_ports(sks: ServerlessService, port: int) -> list[ServicePort]:
    """The serving port (``port`` to the queue-proxy's) and ``https`` 443 to 8112."""
    return [
        ServicePort(
            name=_port_name(sks),
            app_protocol=H2C_APP_PROTOCOL if _h2c(sks) else None,
            port=port,
            target_port=target_port(sks),
        ),
        ServicePort(name=HTTPS_PORT_NAME, port=SERVICE_HTTPS_PORT, target_port=QUEUE_HTTPS_PORT),
    ]


def make_public_service(sks: ServerlessService) -> Obj:
    """``MakePublicService``: the SKS's name, no selector (its Endpoints are written)."""
    port = SERVICE_HTTP2_PORT if _h2c(sks) else SERVICE_HTTP_PORT
    spec = ServiceSpec(ports=_serving_ports(sks, port))
    return to_wire(CoreService(metadata=_meta(sks, sks.metadata.name or "", PUBLIC), spec=spec))


def make_private_service(sks: ServerlessService, selector: Mapping[str, str]) -> Obj:
    """``MakePrivateService``: ``NAME-private``, selecting the revision's pods (``selector``: the
    Deployment's ``matchLabels``)."""
    ports = _serving_ports(sks, SERVICE_HTTP_PORT)
    ports += [
        ServicePort(name=name, port=port, target_port=name)
        for name, port in (
            (AUTOSCALING_METRICS_PORT_NAME, AUTOSCALING_METRICS_PORT),
            (USER_METRICS_PORT_NAME, USER_METRICS_PORT),
        )
    ]
    istio = target_port(sks)
    ports.append(ServicePort(name=f"{_port_name(sks)}-istio", port=istio, target_port=istio))
    spec = ServiceSpec(ports=ports, selector=dict(selector))
    name = private_service_name(sks.metadata.name or "")
    return to_wire(CoreService(metadata=_meta(sks, name, PRIVATE), spec=spec))


def filter_subset_ports(sks: ServerlessService, subsets: Sequence[Obj]) -> list[Obj]:
    """``FilterSubsetPorts``: copies of ``subsets`` with only the serving port and 8112."""
    keep = {target_port(sks), QUEUE_HTTPS_PORT}
    out = []
    for subset in subsets:
        copied = copy.deepcopy(dict(subset))
        ports = [p for p in copied.pop("ports", None) or [] if p.get("port") in keep]
        out.append({**copied, "ports": ports} if ports else copied)
    return out


def make_public_endpoints(sks: ServerlessService, source: Obj, *, skip_mirror: bool = False) -> Obj:
    """``MakePublicEndpoints``: the public Service's Endpoints, ``source``'s subsets (the private
    Service's or the activator's Endpoints) filtered; ``skip_mirror`` when the backend writes the
    EndpointSlices itself."""
    meta = _meta(sks, sks.metadata.name or "", PUBLIC)
    if skip_mirror:
        meta.labels[SKIP_MIRROR_LABEL] = "true"
    out: Obj = {"apiVersion": "v1", "kind": "Endpoints", "metadata": to_wire(meta)}
    subsets = filter_subset_ports(sks, source.get("subsets") or [])
    if subsets:
        out["subsets"] = subsets
    return out


def _address_type(ip: str) -> str:
    try:
        return "IPv6" if ipaddress.ip_address(ip).version == 6 else "IPv4"
    except ValueError:
        return "FQDN"


def _endpoint(address: Obj, ready: bool) -> Obj:
    """An Endpoints address as the mirroring controller writes it in a slice."""
    out: Obj = {"addresses": [address.get("ip", "")], "conditions": {"ready": ready}}
    for field in ("hostname", "nodeName", "targetRef"):
        if address.get(field):
            out[field] = copy.deepcopy(address[field])
    return out


def _slice_port(port: Obj) -> Obj:
    return {k: port[k] for k in ("name", "port", "protocol", "appProtocol") if port.get(k) is not None}


def make_public_endpoint_slices(sks: ServerlessService, source: Obj) -> list[Obj]:
    """The EndpointSlices of :func:`make_public_endpoints`' subsets: one per address type and set
    of ports (as the mirroring controller splits them), named ``NAME-0``, ``NAME-1``, … in order,
    labelled for the public Service (``kubernetes.io/service-name``) and managed by zeroserve."""
    groups: dict[tuple[str, str], tuple[list[Obj], list[Obj]]] = {}
    for subset in filter_subset_ports(sks, source.get("subsets") or []):
        ports = [_slice_port(p) for p in subset.get("ports") or []]
        for key, ready in (("addresses", True), ("notReadyAddresses", False)):
            for address in subset.get(key) or []:
                group = (_address_type(str(address.get("ip", ""))), repr(ports))
                groups.setdefault(group, (ports, []))[1].append(_endpoint(address, ready))
    name = sks.metadata.name or ""
    out = []
    for i, ((address_type, _), (ports, endpoints)) in enumerate(groups.items()):
        meta = _meta(sks, names.child_name(name, f"-{i}"), PUBLIC)
        meta.labels.update({SERVICE_NAME_LABEL: name, MANAGED_BY_LABEL: MANAGED_BY})
        item: dict[str, Any] = {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": to_wire(meta),
            "addressType": address_type,
            "endpoints": endpoints,
            "ports": ports,
        }
        out.append(item)
    return out
