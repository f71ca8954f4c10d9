"""Registry credentials from image pull Secrets, matched as Kubernetes matches them (PURE).

A Revision's ``imagePullSecrets`` name Secrets of type ``kubernetes.io/dockerconfigjson`` (key
``.dockerconfigjson``: ``{"auths": {LOCATION: ENTRY}}``) or ``kubernetes.io/dockercfg`` (key
``.dockercfg``: ``{LOCATION: ENTRY}``); others are ignored, as the kubelet ignores them
(``credentialprovider.MakeDockerKeyring``). An ENTRY's ``auth`` (base64 ``user:password``) wins over
its ``username``/``password`` (``DockerConfigEntry.UnmarshalJSON``).

:class:`Keyring` is the kubelet's ``BasicDockerKeyring`` (``pkg/credentialprovider/keyring.go``, the
same rules as go-containerregistry's ``authn/kubernetes`` keychain that Knative's resolver uses):

* a LOCATION becomes a key: the scheme dropped, ``/v1/`` or ``/v2/`` at the start of its path
  dropped, ``host[:port]`` alone when no path is left, else ``host[:port]/path``;
* :meth:`Keyring.lookup` ``(image)`` (``registry/repository``) gives every credential whose key
  matches, keys in reverse lexical order (the more specific ``quay.io/coreos`` before ``quay.io``),
  one key's credentials in the order the Secrets were given. A key matches when the ports are equal,
  the host has as many dot-separated parts, each part matches as a glob (``*.example.com``), and the
  key's path is a prefix of the image's;
* with no match, an image on Docker Hub gets the ``index.docker.io`` key's credentials
  (``https://index.docker.io/v1/``, what ``docker login`` writes).

Who uses the list: Knative's resolver the first credential only (go-containerregistry's
``toAuthenticator``); the kubelet tries each in turn (``PullImage``) until one pulls.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

from zeroserve.images.reference import DEFAULT_REGISTRY, ImageRef

DOCKER_CONFIG_JSON: Final = "kubernetes.io/dockerconfigjson"
DOCKER_CONFIG_JSON_KEY: Final = ".dockerconfigjson"
DOCKERCFG: Final = "kubernetes.io/dockercfg"
DOCKERCFG_KEY: Final = ".dockercfg"
_DEFAULT_KEY = "index.docker.io"


class KeyringError(ValueError):
    """A pull Secret's docker config cannot be read."""


@dataclass(frozen=True)
class Credential:
    """A user name and password for a registry. The password is never in a repr."""

    username: str
    password: str = field(repr=False)

    def docker_config(self, registry: str) -> bytes:
        """A docker ``config.json`` holding only this credential for ``registry`` (for skopeo's
        ``--authfile``; Docker Hub's key there is ``docker.io``)."""
        host = "docker.io" if registry == DEFAULT_REGISTRY else registry
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return json.dumps({"auths": {host: {"auth": token}}}).encode()


@dataclass(frozen=True)
class Keyring:
    """Credentials by key, in the order they were added (see the module docstring)."""

    entries: tuple[tuple[str, Credential], ...] = field(default=(), repr=False)

    def __bool__(self) -> bool:
        return bool(self.entries)

    def __repr__(self) -> str:
        return f"Keyring({sorted({key for key, _ in self.entries})})"

    def lookup(self, image: ImageRef | str) -> list[Credential]:
        """The credentials for ``image`` (an :class:`ImageRef` or ``registry/repository``), most
        specific key first."""
        target = _target(image)
        by_key: dict[str, list[Credential]] = {}
        for key, credential in self.entries:
            by_key.setdefault(key, []).append(credential)
        found = [c for key in sorted(by_key, reverse=True) if urls_match(key, target) for c in by_key[key]]
        if not found and is_default_registry_match(target):
            found = by_key.get(_DEFAULT_KEY, [])
        return found


def _target(image: ImageRef | str) -> str:
    if isinstance(image, str):
        return image
    registry = "docker.io" if image.registry == DEFAULT_REGISTRY else image.registry
    return f"{registry}/{image.repository}"


def from_docker_config(auths: Mapping[str, Any]) -> Keyring:
    """A keyring of one docker config's ``auths`` (LOCATION -> entry), in its order. Raises
    :class:`KeyringError` for an entry that cannot be read."""
    entries: list[tuple[str, Credential]] = []
    for location, entry in auths.items():
        if not isinstance(entry, Mapping):
            raise KeyringError(f"entry {location!r} is not an object")
        entries.append((key_of(str(location)), _credential(str(location), entry)))
    return Keyring(tuple(entries))


def from_secret(secret_type: str, data: Mapping[str, bytes]) -> Keyring:
    """The keyring of a pull Secret (its decoded ``data``); empty for a Secret of another type or
    without the type's key."""
    if secret_type == DOCKER_CONFIG_JSON and data.get(DOCKER_CONFIG_JSON_KEY):
        config = _json(data[DOCKER_CONFIG_JSON_KEY], DOCKER_CONFIG_JSON_KEY)
        auths = config.get("auths") or {}
        if not isinstance(auths, Mapping):
            raise KeyringError(f"{DOCKER_CONFIG_JSON_KEY}: auths is not an object")
        return from_docker_config(auths)
    if secret_type == DOCKERCFG and data.get(DOCKERCFG_KEY):
        return from_docker_config(_json(data[DOCKERCFG_KEY], DOCKERCFG_KEY))
    return Keyring()


def _json(raw: bytes, key: str) -> Mapping[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError as err:
        raise KeyringError(f"{key}: {err}") from None
    if not isinstance(value, Mapping):
        raise KeyringError(f"{key}: not an object")
    return value


def _credential(location: str, entry: Mapping[str, Any]) -> Credential:
    username, password = str(entry.get("username") or ""), str(entry.get("password") or "")
    auth = entry.get("auth")
    if auth:
        try:
            decoded = base64.b64decode(str(auth), validate=True).decode("utf-8", "surrogateescape")
        except (binascii.Error, ValueError):
            decoded = ""
        user, sep, secret = decoded.partition(":")
        if not sep:
            raise KeyringError(
                f"entry {location!r}: unable to parse auth field, must be formatted as base64(username:password)"
            )
        username, password = user, secret
    return Credential(username, password)


def key_of(location: str) -> str:
    """A docker config LOCATION as a keyring key: ``https://quay.io/v1/`` -> ``quay.io``,
    ``quay.io/coreos`` -> ``quay.io/coreos``."""
    value = location if location.startswith(("https://", "http://")) else "https://" + location
    parsed = urlsplit(value)
    path = parsed.path
    if path.startswith(("/v2/", "/v1/")):
        path = path[3:]
    return parsed.netloc + path if path and path != "/" else parsed.netloc


def urls_match(key: str, target: str) -> bool:
    """Kubernetes' ``URLsMatchStr(glob, target)``: same port, as many host parts, each a glob
    match, and the key's path a prefix of the target's."""
    glob, image = urlsplit("https://" + key), urlsplit("https://" + target)
    glob_parts, glob_port = _split_host(glob.netloc)
    parts, port = _split_host(image.netloc)
    if glob_port != port or len(glob_parts) != len(parts):
        return False
    if not image.path.startswith(glob.path):
        return False
    return all(fnmatch.fnmatchcase(part, pattern) for pattern, part in zip(glob_parts, parts, strict=True))


def _split_host(netloc: str) -> tuple[list[str], str]:
    host, sep, port = netloc.rpartition(":")
    if not sep or not port.isdigit() or (host.startswith("[") != host.endswith("]")):
        host, port = netloc, ""
    return host.split("."), port


def is_default_registry_match(image: str) -> bool:
    """The image is on Docker Hub (the kubelet's ``isDefaultRegistryMatch``)."""
    first, sep, _ = image.partition("/")
    if not first:
        return False
    if not sep or first in ("docker.io", "index.docker.io"):
        return True
    return not any(c in first for c in ".:")
