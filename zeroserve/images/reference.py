"""Image references as go-containerregistry parses them (PURE).

Knative resolves tags with go-containerregistry (``pkg/reconciler/revision/resolve.go``:
``name.NewDigest`` / ``name.NewTag`` with ``WeakValidation``), so zeroserve reads a reference by
the same rules (``pkg/name/{repository,tag,digest,registry}.go``):

* the first path component is a registry only when it has a ``.`` or a ``:`` (``localhost/x`` is
  Docker Hub's ``localhost/x``, as ggcr has it); otherwise the registry is ``index.docker.io``,
  ``docker.io`` is rewritten to it, and a one-component repository there gets ``library/``;
* a tag follows the last ``:`` that has no ``/`` after it (default ``latest``); a digest follows
  ``@`` (``sha256:`` + 64 hex; a tag before it is dropped, as ``name.NewDigest`` drops it);
* repositories are lower case ``[a-z0-9_./-]``, 2 to 255 characters; tags ``[A-Za-z0-9_.-]``, ≤ 128.

:func:`insecure` is ggcr's ``Registry.Scheme`` rule: ``localhost``, ``*.localhost``,
``127.0.0.1``, ``::1`` and the RFC 1918 ranges speak plain http without configuration.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection
from dataclasses import dataclass

DEFAULT_REGISTRY = "index.docker.io"
DEFAULT_TAG = "latest"
_REPOSITORY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-./")
_TAG_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_REGISTRY = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+|::1)(:[0-9]{1,5})?$")
_LOCALHOST = re.compile(r"^(localhost|.*\.localhost)(:\d{1,5})?$")
_LOOPBACK = re.compile(r"^(127\.0\.0\.1|::1|\[::1\])(:\d{1,5})?$")
_PRIVATE = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))


class BadReference(ValueError):
    """Not an image reference (ggcr's ``ErrBadName``)."""


@dataclass(frozen=True)
class ImageRef:
    registry: str
    repository: str
    """With ``library/`` on Docker Hub: ``library/nginx``."""
    tag: str = ""
    """Empty when the reference is by digest."""
    digest: str = ""

    @property
    def name(self) -> str:
        """``registry/repository``: ggcr's ``Repository.String``."""
        return f"{self.registry}/{self.repository}"

    def __str__(self) -> str:
        return f"{self.name}@{self.digest}" if self.digest else f"{self.name}:{self.tag}"

    def pinned(self, digest: str) -> str:
        """``registry/repository@digest``: what Knative writes to ``imageDigest``."""
        return f"{self.name}@{digest}"


def parse(ref: str) -> ImageRef:
    """``ref`` -> :class:`ImageRef`, or :class:`BadReference` with ggcr's message."""
    if "@" in ref:
        base, _, digest = ref.partition("@")
        if "@" in digest or not _DIGEST.match(digest):
            raise BadReference(f"a digest must contain exactly one '@' separator and a sha256 digest: {ref}")
        base = _split_tag(base)[0]
        return ImageRef(*_repository(base), digest=digest)
    base, tag = _split_tag(ref)
    return ImageRef(*_repository(base), tag=tag or DEFAULT_TAG)


def is_digest(ref: str) -> bool:
    """A reference by digest (``name.NewDigest`` accepts it): left as it is by resolution."""
    try:
        return bool(parse(ref).digest)
    except BadReference:
        return False


def _split_tag(ref: str) -> tuple[str, str]:
    base, sep, tag = ref.rpartition(":")
    if not sep or "/" in tag:
        return ref, ""
    if not tag or len(tag) > 128 or not set(tag) <= _TAG_CHARS:
        raise BadReference(f"tag can only contain the characters `{''.join(sorted(_TAG_CHARS))}`: {tag}")
    return base, tag


def _repository(name: str) -> tuple[str, str]:
    if not name:
        raise BadReference("a repository name must be specified")
    registry, repo = "", name
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first):
        registry, repo = first, rest
        if not _REGISTRY.match(registry):
            raise BadReference(f"registries must be valid RFC 3986 URI authorities: {registry}")
    registry = DEFAULT_REGISTRY if registry in ("", "docker.io") else registry
    if registry == DEFAULT_REGISTRY and "/" not in repo:
        repo = f"library/{repo}"
    if not 2 <= len(repo) <= 255 or not set(repo) <= _REPOSITORY_CHARS:
        raise BadReference(
            f"repository must be between 2 and 255 characters in length and only contain "
            f"`{''.join(sorted(_REPOSITORY_CHARS))}`: {repo}"
        )
    return registry, repo


def insecure(registry: str) -> bool:
    """Plain http by itself (ggcr ``Registry.Scheme``): localhost, loopback and private addresses."""
    if _LOCALHOST.match(registry) or _LOOPBACK.match(registry):
        return True
    host = registry.split(":")[0]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in _PRIVATE)


def skips_resolution(ref: ImageRef, registries: Collection[str]) -> bool:
    """config-deployment ``registries-skipping-tag-resolving`` holds the reference's registry."""
    return ref.registry in registries
