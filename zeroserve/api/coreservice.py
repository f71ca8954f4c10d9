"""Kubernetes' core ``v1`` Service, as zeroserve serves it: read-only, made by zeroserve itself.

Shape as ``k8s.io/api/core/v1`` (types.go): ``spec.type`` (``ClusterIP``, ``ExternalName``,
``LoadBalancer``), ``spec.externalName``, ``spec.ports[]`` (``name``, ``protocol``, ``appProtocol``,
``port``, ``targetPort``, ``nodePort``) and ``status.loadBalancer.ingress[]`` (``ip``/``hostname``).

Two makers write them (users cannot: the API answers 405 to every write, see
:data:`~zeroserve.api.kinds.CORE_SERVICE`): the Route reconciler, one per Route and tag as Knative's
(:mod:`zeroserve.controller.resources.k8sservice`), and ``zeroserve up``, the gateways' Services
that Knative's test client reads to find the ingress (``kourier``/``kourier-internal`` in
``kourier-system``: zeroserve's gateway plays net-kourier's part).

The Python name is ``CoreService``: ``Service`` is Knative's (:mod:`zeroserve.api.service`). PURE.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from zeroserve.api.base import Int32, Model
from zeroserve.api.meta import ObjectMeta

LOCAL_GATEWAY_HOST = "kourier-internal.kourier-system.svc.cluster.local"
"""The cluster-local gateway's host on one machine (net-kourier's, as Knative's tests find it): the
``externalName`` of every Route's placeholder Service unless the ingress names its own."""
TYPE_CLUSTER_IP = "ClusterIP"
TYPE_EXTERNAL_NAME = "ExternalName"
TYPE_LOAD_BALANCER = "LoadBalancer"
PROTOCOL_TCP = "TCP"
AFFINITY_NONE = "None"


class ServicePort(Model):
    name: str | None = None
    protocol: str | None = PROTOCOL_TCP
    app_protocol: str | None = None
    port: Int32
    target_port: Int32 | str | None = None
    node_port: Int32 | None = None


class ServiceSpec(Model):
    type: str | None = TYPE_CLUSTER_IP
    ports: list[ServicePort] = Field(default_factory=list)
    selector: dict[str, str] | None = None
    cluster_ip: str | None = Field(default=None, alias="clusterIP")
    external_name: str | None = None
    session_affinity: str | None = None


class LoadBalancerIngress(Model):
    ip: str | None = None
    hostname: str | None = None


class LoadBalancerStatus(Model):
    ingress: list[LoadBalancerIngress] = Field(default_factory=list)


class ServiceStatus(Model):
    load_balancer: LoadBalancerStatus = Field(default_factory=LoadBalancerStatus)


class CoreService(Model):
    api_version: Literal["v1"] = "v1"
    kind: Literal["Service"] = "Service"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: ServiceSpec = Field(default_factory=ServiceSpec)
    status: ServiceStatus = Field(default_factory=ServiceStatus)
