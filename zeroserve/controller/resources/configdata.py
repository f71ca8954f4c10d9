"""The ConfigMaps and Secrets a Revision reads, as the kubelet sees them (pure).

A Revision's spec names them in ``env[].valueFrom`` (``configMapKeyRef``, ``secretKeyRef``),
``envFrom`` and ``volumes`` (``secret``, ``configMap``, ``projected`` sources), in every container
(init containers too). :func:`references` lists those names (from the wire form, which is what the
controller's watch sees): the controller watches exactly those
objects for each revision (a change re-reconciles the revisions that read it) and loads them into
:data:`Sources` for :mod:`.env` and :mod:`.volumes`. The names are in the Revision's immutable spec:
that is the record of what it reads; a change of the objects never makes a new revision (Knative).

:class:`Data` is what the kubelet reads of an object: the env sees a ConfigMap's ``data`` (not its
``binaryData``) and a Secret's decoded ``data`` as a string (Go's ``string(bytes)``: here UTF-8 with
``surrogateescape``, so that any byte but NUL reaches the process unchanged); a volume projects every
key of ``data`` and ``binaryData`` as bytes. A missing object is ``None`` in the sources, and the
kubelet's messages name it: ``secret "db" not found``, ``configmap "x" not found`` (its managers'
``NotFound`` for the ``secret`` and ``configmap`` resources).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

CONFIGMAP: Final = "ConfigMap"
SECRET: Final = "Secret"
RefKind = Literal["ConfigMap", "Secret"]

CREATE_CONFIG_ERROR: Final = "CreateContainerConfigError"
"""The kubelet's waiting reason for a container whose env cannot be made."""
FAILED_MOUNT: Final = "FailedMount"
"""The kubelet's event reason for a volume that cannot be set up (the pod waits, ContainerCreating)."""


@dataclass(frozen=True, order=True)
class Ref:
    kind: RefKind
    name: str

    @property
    def resource(self) -> str:
        """The name the kubelet's managers give the resource in their errors."""
        return "configmap" if self.kind == CONFIGMAP else "secret"

    def not_found(self) -> str:
        return f'{self.resource} "{self.name}" not found'


@dataclass(frozen=True)
class Data:
    strings: Mapping[str, str] = field(default_factory=dict)
    """What env reads (``valueFrom``, ``envFrom``)."""
    files: Mapping[str, bytes] = field(default_factory=dict)
    """What a volume projects."""
    secret_type: str = ""
    """A Secret's ``type`` (what an image pull secret is read as)."""


Sources = Mapping[Ref, Data | None]
"""The objects a revision reads, by reference; None: not found."""


class ConfigError(Exception):
    """A required ConfigMap, Secret or key is missing (or a field cannot be read): no container can be made."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def configmap_data(obj: Mapping[str, Any]) -> Data:
    """A ConfigMap's :class:`Data` (wire form: ``data`` strings, ``binaryData`` base64)."""
    strings = {k: v for k, v in (obj.get("data") or {}).items() if isinstance(v, str)}
    files = {k: v.encode("utf-8", "surrogateescape") for k, v in strings.items()}
    for key, value in (obj.get("binaryData") or {}).items():
        files[key] = _b64(value)
    return Data(strings, files)


def secret_data(obj: Mapping[str, Any]) -> Data:
    """A Secret's :class:`Data` (wire form: ``data`` base64)."""
    files = {key: _b64(value) for key, value in (obj.get("data") or {}).items()}
    strings = {k: v.decode("utf-8", "surrogateescape") for k, v in files.items()}
    return Data(strings, files, str(obj.get("type") or ""))


def _b64(value: object) -> bytes:
    if not isinstance(value, str):
        return b""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return b""


def references(spec: Mapping[str, Any]) -> set[Ref]:
    """Every ConfigMap and Secret a revision's ``spec`` (its wire form) reads: in its containers, init
    containers and volumes, and its ``imagePullSecrets``."""
    found: set[Ref] = {Ref(SECRET, name) for name in pull_secret_names(spec)}
    for key in ("containers", "initContainers"):
        for c in _dicts(spec.get(key)):
            found.update(container_references(c))
    for volume in _dicts(spec.get("volumes")):
        found.update(volume_references(volume))
    return found


def pull_secret_names(spec: Mapping[str, Any]) -> list[str]:
    """``imagePullSecrets``' names, in order (a Revision's wire form, or its model dump)."""
    return [str(ref.get("name") or "") for ref in _dicts(spec.get("imagePullSecrets")) if ref.get("name")]


def container_references(c: Mapping[str, Any]) -> Iterable[Ref]:
    for env in _dicts(c.get("env")):
        source = env.get("valueFrom")
        if isinstance(source, Mapping):
            yield from _named(source, ("configMapKeyRef", CONFIGMAP), ("secretKeyRef", SECRET))
    for src in _dicts(c.get("envFrom")):
        yield from _named(src, ("configMapRef", CONFIGMAP), ("secretRef", SECRET))


def volume_references(volume: Mapping[str, Any]) -> Iterable[Ref]:
    secret = volume.get("secret")
    if isinstance(secret, Mapping):
        yield Ref(SECRET, str(secret.get("secretName") or ""))
    yield from _named(volume, ("configMap", CONFIGMAP))
    projected = volume.get("projected")
    for source in _dicts(projected.get("sources") if isinstance(projected, Mapping) else None):
        yield from _named(source, ("configMap", CONFIGMAP), ("secret", SECRET))


def _named(obj: Mapping[str, Any], *keys: tuple[str, RefKind]) -> Iterable[Ref]:
    for key, kind in keys:
        ref = obj.get(key)
        if isinstance(ref, Mapping):
            yield Ref(kind, str(ref.get("name") or ""))


def _dicts(value: object) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []
