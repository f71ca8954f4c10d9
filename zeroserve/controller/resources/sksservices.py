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

In Proxy mode the public Endpoints carry a subset of the activators (:func:`subset_endpoints`:
``spec.numActivators`` of them, chosen by Knative's consistent hashing, :func:`choose_subset`),
so that each revision's requests meet only a few activators and every activator sees only a few
revisions' pods.

Only Endpoints are written, as Knative's SKS writes them: the cluster's mirroring controller makes
their EndpointSlices.
"""

from __future__ import annotations

import bisect
import copy
from collections.abc import Mapping, Sequence, Set
from typing import Final

from zeroserve.api.base import Obj, to_wire
from zeroserve.api.coreservice import CoreService, ServicePort, ServiceSpec
from zeroserve.api.meta import ObjectMeta
from zeroserve.api.networking import API_VERSION as SKS_API_VERSION
from zeroserve.api.networking import ServerlessService
from zeroserve.controller.resources import owners
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
    """``FilterSubsetPorts``: copies of ``subsets`` with only the public Service's ports: the
    serving port and ``https``. Kept by name, which is how kube-proxy pairs a Service's ports with
    its Endpoints' (Knative keeps them by number, 8012 or 8013 and 8112, the same ports on a
    cluster, and also keeps the private Service's ``http-istio`` alias of 8012)."""
    keep = {_port_name(sks), HTTPS_PORT_NAME}
    out = []
    for subset in subsets:
        copied = copy.deepcopy(dict(subset))
        ports = [p for p in copied.pop("ports", None) or [] if p.get("name") in keep]
        out.append({**copied, "ports": ports} if ports else copied)
    return out


def make_public_endpoints(sks: ServerlessService, source: Obj) -> Obj:
    """``MakePublicEndpoints``: the public Service's Endpoints, ``source``'s subsets (the private
    Service's or the activator's Endpoints) filtered."""
    meta = _meta(sks, sks.metadata.name or "", PUBLIC)
    out: Obj = {"apiVersion": "v1", "kind": "Endpoints", "metadata": to_wire(meta)}
    subsets = filter_subset_ports(sks, source.get("subsets") or [])
    if subsets:
        out["subsets"] = subsets
    return out


# -- subsetting (knative.dev/pkg/hash: ChooseSubset) ---------------------------------------------

_START_SALT: Final = b"start-angle-salt"
_STEP_SALT: Final = b"step-angle-salt"
_UNIVERSE: Final = 1 << 11
"""The possible angles, ``[0, universe)``."""
_FNV_OFFSET: Final = 0xCBF29CE484222325
_FNV_PRIME: Final = 0x100000001B3
_MASK64: Final = (1 << 64) - 1


def _fnv1a64(data: bytes) -> int:
    """Go's ``hash/fnv`` New64a."""
    h = _FNV_OFFSET
    for byte in data:
        h = ((h ^ byte) * _FNV_PRIME) & _MASK64
    return h


def choose_subset(names: Set[str], n: int, target: str) -> set[str]:
    """``ChooseSubset``: ``n`` of ``names``, chosen consistently for ``target`` (the SKS's name):
    each name's hash (with ``target``) is an angle on a circle; from a start angle, step by a step
    angle (both hashed from ``target``) and take the first name at or after each angle not taken
    yet. The same inputs give the same subset, and a name joining or leaving moves few targets."""
    if n >= len(names):
        return set(names)
    seed = target.encode()
    start = _fnv1a64(seed + _START_SALT) % _UNIVERSE
    step = _fnv1a64(seed + _STEP_SALT) % _UNIVERSE
    by_angle: dict[int, str] = {}
    for name in sorted(names):
        buf = name.encode() + seed
        h = _fnv1a64(buf)
        while h % _UNIVERSE in by_angle:  # two names on one angle: rehash with the hash as salt
            buf += format(h, "x").encode()
            h = _fnv1a64(buf)
        by_angle[h % _UNIVERSE] = name
    pool = sorted(by_angle)
    chosen: set[int] = set()
    angle = start
    while len(chosen) < n:
        root = bisect.bisect_left(pool, angle)
        if root == len(pool):
            root = 0
        while root in chosen:
            root = (root + 1) % len(pool)
        chosen.add(root)
        angle = (angle + step) % _UNIVERSE
    return {by_angle[pool[i]] for i in chosen}


def ready_address_count(endpoints: Obj | None) -> int:
    """``ReadyAddressCount``: the ready addresses over every subset."""
    if endpoints is None:
        return 0
    return sum(len(subset.get("addresses") or []) for subset in endpoints.get("subsets") or [])


def subset_endpoints(endpoints: Obj, target: str, n: int) -> Obj:
    """``subsetEndpoints``: ``endpoints`` with only :func:`choose_subset`'s ``n`` ready addresses
    (all for ``n`` 0 or when there are no more than ``n``), empty subsets dropped, order kept."""
    subsets = endpoints.get("subsets") or []
    if not subsets or n == 0:
        return endpoints
    ips = {str(a.get("ip", "")) for subset in subsets for a in subset.get("addresses") or []}
    if len(ips) <= n:
        return endpoints
    keep = choose_subset(ips, n, target)
    out = copy.deepcopy(dict(endpoints))
    kept = []
    for subset in out["subsets"]:
        addresses = [a for a in subset.get("addresses") or [] if a.get("ip") in keep]
        if addresses:
            kept.append({**subset, "addresses": addresses})
    out["subsets"] = kept
    return out
