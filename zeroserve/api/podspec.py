"""The parts of a Kubernetes PodSpec a Revision carries.

Container and PodSpec are *open* models: valid Kubernetes fields we do not model (or cannot
honour yet, such as ``envFrom`` or ``volumes``) are kept verbatim and reported, never dropped.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, StrictFloat, StrictInt, StrictStr

from zeroserve.api.base import Int32, OpenModel


class EnvVar(OpenModel):
    name: str = ""
    value: str | None = None
    value_from: dict[str, Any] | None = None


class ContainerPort(OpenModel):
    name: str | None = None
    container_port: Int32 | None = None
    protocol: str | None = None
    host_port: Int32 | None = None
    host_ip: str | None = Field(default=None, alias="hostIP")


class HTTPHeader(OpenModel):
    name: str = ""
    value: str = ""


class HTTPGetAction(OpenModel):
    path: str | None = None
    port: Int32 | str | None = None
    host: str | None = None
    scheme: str | None = None
    http_headers: list[HTTPHeader] = Field(default_factory=list)


class TCPSocketAction(OpenModel):
    port: Int32 | str | None = None
    host: str | None = None


class Probe(OpenModel):
    http_get: HTTPGetAction | None = None
    tcp_socket: TCPSocketAction | None = None
    exec: dict[str, Any] | None = None
    grpc: dict[str, Any] | None = None
    initial_delay_seconds: Int32 | None = None
    timeout_seconds: Int32 | None = None
    period_seconds: Int32 | None = None
    success_threshold: Int32 | None = None
    failure_threshold: Int32 | None = None


Quantity = StrictStr | StrictInt | StrictFloat
"""A resource quantity as Kubernetes decodes it: a string (``"500m"``, ``"64Mi"``) or a JSON number.
Its syntax and sign are checked by validation (:mod:`zeroserve.config.quantity`), with the field path."""


class ResourceRequirements(OpenModel):
    limits: dict[str, Quantity] = Field(default_factory=dict)
    requests: dict[str, Quantity] = Field(default_factory=dict)


class Container(OpenModel):
    name: str | None = None
    image: str | None = None
    command: list[str] = Field(default_factory=list)
    args: list[str] = Field(default_factory=list)
    working_dir: str | None = None
    env: list[EnvVar] = Field(default_factory=list)
    env_from: list[dict[str, Any]] = Field(default_factory=list)
    ports: list[ContainerPort] = Field(default_factory=list)
    resources: ResourceRequirements | None = None
    readiness_probe: Probe | None = None
    liveness_probe: Probe | None = None
    startup_probe: Probe | None = None
    volume_mounts: list[dict[str, Any]] = Field(default_factory=list)
    security_context: dict[str, Any] | None = None
    image_pull_policy: str | None = None
    termination_message_policy: str | None = None
