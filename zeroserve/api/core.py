"""Kubernetes' core ``v1`` kinds zeroserve serves: ConfigMap, Secret, Namespace and Event.

Shapes as ``k8s.io/api/core/v1`` (types.go): a ConfigMap holds ``data`` (UTF-8 strings) and
``binaryData`` (base64 on the wire); a Secret holds ``data`` (base64 on the wire), the write-only
``stringData`` (merged into ``data`` by admission, never stored or returned) and a ``type``;
both may be ``immutable``. A Namespace has ``spec.finalizers`` (``kubernetes`` until its content
is gone) and ``status.phase`` (``Active`` or ``Terminating``). An Event says what happened to an
``involvedObject``: a ``type`` (``Normal`` or ``Warning``), a ``reason`` and a ``message``, seen
``count`` times between ``firstTimestamp`` and ``lastTimestamp`` (the core API's shape, which
client-go's ``record`` package writes; ``eventTime``, ``series`` and ``action`` are the newer
``events.k8s.io`` fields, kept as sent).

Validation and defaulting are :mod:`zeroserve.api.corevalidation`'s (Events:
:mod:`zeroserve.api.eventvalidation`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from zeroserve.api.base import Bool, Int32, Model
from zeroserve.api.meta import ObjectMeta

# Secret types and their keys (k8s.io/api/core/v1 types.go).
SECRET_OPAQUE = "Opaque"
SECRET_SERVICE_ACCOUNT_TOKEN = "kubernetes.io/service-account-token"
SECRET_DOCKERCFG = "kubernetes.io/dockercfg"
SECRET_DOCKERCONFIGJSON = "kubernetes.io/dockerconfigjson"
SECRET_BASIC_AUTH = "kubernetes.io/basic-auth"
SECRET_SSH_AUTH = "kubernetes.io/ssh-auth"
SECRET_TLS = "kubernetes.io/tls"
SERVICE_ACCOUNT_NAME_KEY = "kubernetes.io/service-account.name"
DOCKERCFG_KEY = ".dockercfg"
DOCKERCONFIGJSON_KEY = ".dockerconfigjson"
BASIC_AUTH_USERNAME_KEY = "username"
BASIC_AUTH_PASSWORD_KEY = "password"
SSH_AUTH_PRIVATE_KEY = "ssh-privatekey"
TLS_CERT_KEY = "tls.crt"
TLS_PRIVATE_KEY_KEY = "tls.key"

MAX_SECRET_SIZE = 1 * 1024 * 1024
"""``core.MaxSecretSize``: the most bytes of values a Secret or a ConfigMap holds."""

FINALIZER_KUBERNETES = "kubernetes"
"""The namespace finalizer: the namespace stays (``Terminating``) until its content is deleted."""
NAMESPACE_ACTIVE = "Active"
NAMESPACE_TERMINATING = "Terminating"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
"""Every namespace carries its name as this label (``SetDefaults_Namespace``)."""
DEFAULT_NAMESPACE = "default"


class ConfigMap(Model):
    api_version: Literal["v1"] = "v1"
    kind: Literal["ConfigMap"] = "ConfigMap"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    immutable: Bool | None = None
    data: dict[str, str] = Field(default_factory=dict)
    binary_data: dict[str, str] = Field(default_factory=dict)
    """Values in base64 on the wire (Go's ``[]byte``)."""


class Secret(Model):
    api_version: Literal["v1"] = "v1"
    kind: Literal["Secret"] = "Secret"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    immutable: Bool | None = None
    data: dict[str, str] = Field(default_factory=dict)
    """Values in base64 on the wire (Go's ``[]byte``)."""
    string_data: dict[str, str] | None = None
    """Write-only: merged into ``data`` on create and update (its keys win), never stored."""
    type: str | None = None


class NamespaceSpec(Model):
    finalizers: list[str] = Field(default_factory=list)


class NamespaceCondition(Model):
    type: str
    status: str
    last_transition_time: str | None = None
    reason: str | None = None
    message: str | None = None


class NamespaceStatus(Model):
    phase: str | None = None
    conditions: list[NamespaceCondition] = Field(default_factory=list)


class Namespace(Model):
    api_version: Literal["v1"] = "v1"
    kind: Literal["Namespace"] = "Namespace"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: NamespaceSpec = Field(default_factory=NamespaceSpec)
    status: NamespaceStatus = Field(default_factory=NamespaceStatus)


EVENT_NORMAL = "Normal"
EVENT_WARNING = "Warning"


class ObjectReference(Model):
    """``core/v1`` ObjectReference: what an Event is about."""

    kind: str | None = None
    namespace: str | None = None
    name: str | None = None
    uid: str | None = None
    api_version: str | None = None
    resource_version: str | None = None
    field_path: str | None = None


class EventSource(Model):
    component: str | None = None
    host: str | None = None


class EventSeries(Model):
    count: Int32 | None = None
    last_observed_time: str | None = None


class Event(Model):
    api_version: Literal["v1"] = "v1"
    kind: Literal["Event"] = "Event"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    involved_object: ObjectReference = Field(default_factory=ObjectReference)
    reason: str | None = None
    message: str | None = None
    source: EventSource = Field(default_factory=EventSource)
    first_timestamp: str | None = None
    last_timestamp: str | None = None
    count: Int32 | None = None
    type: str | None = None
    event_time: str | None = None
    """A MicroTime (``2026-01-02T03:04:05.123456Z``): set by ``events.k8s.io`` clients, not by ``record``."""
    series: EventSeries | None = None
    action: str | None = None
    related: ObjectReference | None = None
    reporting_component: str | None = None
    reporting_instance: str | None = None
