"""core/v1 Services zeroserve makes: one per Route (Knative's MakeK8sPlaceholderService,
pkg/reconciler/route/resources/service.go) and the gateways' (what Knative's test client,
knative.dev/pkg/test/ingress, reads to find the ingress).

A Route's Service is named after the Route, in its namespace, an ``ExternalName`` to the
cluster-local gateway's host (as Knative's, once net-kourier's Ingress reports its
``DomainInternal``), port ``http2`` 80 (appProtocol ``kubernetes.io/h2c``); labels: the Route's but
``networking.knative.dev/visibility``, plus ``serving.knative.dev/route``; annotations: all the
Route's (``makeServiceObjectMeta`` filters none); controlled by the Route.

The gateways' Services play net-kourier's: ``kourier`` (type LoadBalancer, the external listener)
and ``kourier-internal`` (ClusterIP, the cluster-local one) in ``kourier-system``; both report
``status.loadBalancer.ingress: [{ip: 127.0.0.1}]``. Knative's client dials that IP on the route
URL's port, or with ``-ingressendpoint`` the ``nodePort`` of the Service port equal to the URL's
port: so each port's ``nodePort`` (and ``targetPort``) is where the listener really is, for port 80
and for the external listener's own port (route URLs say ``:8080``). Run the conformance suite
with ``GATEWAY_OVERRIDE=kourier GATEWAY_NAMESPACE_OVERRIDE=kourier-system``. PURE.
"""

from __future__ import annotations

from typing import Final

from zeroserve.api import labels
from zeroserve.api.coreservice import (
    AFFINITY_NONE,
    LOCAL_GATEWAY_HOST,
    TYPE_CLUSTER_IP,
    TYPE_EXTERNAL_NAME,
    TYPE_LOAD_BALANCER,
    CoreService,
    LoadBalancerIngress,
    LoadBalancerStatus,
    ServicePort,
    ServiceSpec,
    ServiceStatus,
)
from zeroserve.api.meta import ObjectMeta
from zeroserve.api.route import Route
from zeroserve.controller.resources import owners

GATEWAY_NAMESPACE: Final = "kourier-system"
GATEWAY_NAME: Final = "kourier"
LOCAL_GATEWAY_NAME: Final = "kourier-internal"
H2C_PORT_NAME: Final = "http2"
H2C_APP_PROTOCOL: Final = "kubernetes.io/h2c"
GATEWAY_IP: Final = "127.0.0.1"
APP_LABEL: Final = "app"
GATEWAY_APP: Final = "3scale-kourier-gateway"


def make_route_service(route: Route, hostname: str | None = None, local_host: str = LOCAL_GATEWAY_HOST) -> CoreService:
    """The core/v1 Service of the route (``hostname`` None) or of one of its tags' sub-routes
    (``hostname`` from ``traffic.hostname``), as Knative's ``MakeK8sPlaceholderService``: an
    ``ExternalName`` to ``local_host``, the cluster-local gateway's host (Knative's KIngress status
    ``privateLoadBalancer``)."""
    meta = route.metadata
    route_labels = {k: v for k, v in meta.labels.items() if k != labels.VISIBILITY}
    return CoreService(
        metadata=ObjectMeta(
            name=hostname or meta.name,
            namespace=meta.namespace,
            labels={**route_labels, labels.ROUTE: meta.name or ""},
            annotations=dict(meta.annotations),
            owner_references=[owners.controller_ref("Route", meta)],
        ),
        spec=ServiceSpec(
            type=TYPE_EXTERNAL_NAME,
            external_name=local_host,
            session_affinity=AFFINITY_NONE,
            ports=[ServicePort(name=H2C_PORT_NAME, app_protocol=H2C_APP_PROTOCOL, port=80, target_port=80)],
        ),
    )


def _ports(listening: int) -> list[ServicePort]:
    ports = [ServicePort(name=H2C_PORT_NAME, port=80, target_port=listening, node_port=listening)]
    if listening != 80:
        ports.append(ServicePort(name="http", port=listening, target_port=listening, node_port=listening))
    return ports


def make_gateway_services(external_port: int, internal_port: int) -> list[CoreService]:
    """The external (``kourier``) and cluster-local (``kourier-internal``) gateways' Services."""
    lb = ServiceStatus(load_balancer=LoadBalancerStatus(ingress=[LoadBalancerIngress(ip=GATEWAY_IP)]))
    out = []
    for name, kind, port in (
        (GATEWAY_NAME, TYPE_LOAD_BALANCER, external_port),
        (LOCAL_GATEWAY_NAME, TYPE_CLUSTER_IP, internal_port),
    ):
        meta = ObjectMeta(name=name, namespace=GATEWAY_NAMESPACE, labels={APP_LABEL: GATEWAY_APP})
        spec = ServiceSpec(type=kind, cluster_ip=GATEWAY_IP, ports=_ports(port), selector={APP_LABEL: GATEWAY_APP})
        out.append(CoreService(metadata=meta, spec=spec, status=lb))
    return out
