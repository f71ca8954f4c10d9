"""The ImageStore protocol: what the Revision reconciler and the runtime ask of images.

Two calls, as Knative and the kubelet split them:

* :meth:`ImageStore.resolve` is Knative's digest resolver (``pkg/reconciler/revision/resolve.go``):
  a tag becomes ``REPO@sha256:…`` once, when the Revision is created, and the Revision keeps that
  digest (``status.containerStatuses[].imageDigest``) so a later push to the tag changes nothing
  that runs;
* :meth:`ImageStore.ensure` is the kubelet's image manager: the runtime asks for the pinned
  reference before it starts an instance and gets an unpacked root filesystem and the image's
  config, pulled once per digest into a content-addressed cache (``DATA/images/``).

Failures are :class:`ImageError` with the kubelet's reasons (``ErrImagePull``,
``ErrImageNeverPull``, ``InvalidImageName``, ``CreateContainerError``), so a runtime can put them
on the Revision as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from zeroserve.errors import ZeroserveError
from zeroserve.images.keyring import Keyring

PullPolicy = Literal["Always", "IfNotPresent", "Never"]
"""``imagePullPolicy``. With a pinned digest ``Always`` and ``IfNotPresent`` pull the same bytes."""

# The kubelet's reasons (pkg/kubelet/images/types.go), used as Failure/condition reasons.
ERR_IMAGE_PULL = "ErrImagePull"
ERR_IMAGE_NEVER_PULL = "ErrImageNeverPull"
ERR_INVALID_IMAGE_NAME = "InvalidImageName"
ERR_CREATE_CONTAINER = "CreateContainerError"


class ImageError(ZeroserveError):
    """An image could not be resolved, pulled, unpacked or run: ``reason`` is the kubelet's."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message

    def __repr__(self) -> str:
        return f"ImageError({self.reason!r}, {self.message!r})"


@dataclass(frozen=True)
class ImageConfig:
    """The parts of an OCI image config (``config`` of application/vnd.oci.image.config.v1+json)
    that decide how its process runs. Empty means "the image does not say"."""

    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    """``Env`` split at the first ``=``, in the image's order."""
    working_dir: str = ""
    user: str = ""
    """``User`` as the image has it: ``uid``, ``uid:gid``, ``name`` or ``name:group``."""
    exposed_ports: tuple[str, ...] = ()
    """``ExposedPorts`` keys, e.g. ``8080/tcp``."""
    stop_signal: str = ""


@dataclass(frozen=True)
class Image:
    """An image ready to run: its unpacked root filesystem (shared by every instance of the
    digest; read-only to them) and its config."""

    pinned: str
    """``REPO@sha256:…``: the reference ``ensure`` was asked for, with the digest it has."""
    digest: str
    """``sha256:…`` of the manifest."""
    rootfs: Path
    config: ImageConfig = field(default_factory=ImageConfig)


class ImageStore(Protocol):
    async def resolve(self, ref: str, timeout: float, keyring: Keyring | None = None) -> str:
        """``ref`` (a tag or a digest) -> ``REPO@sha256:…`` as the registry has it now, within
        ``timeout`` seconds. Raises :class:`ImageError` (the message is the reason it failed).
        ``keyring``: the revision's ``imagePullSecrets`` (the first matching credential is used,
        else the machine's, as Knative's k8schain)."""

    async def ensure(self, ref: str, pull_policy: PullPolicy = "IfNotPresent", keyring: Keyring | None = None) -> Image:
        """The image ``ref`` names (normally a pinned ``REPO@sha256:…``), pulled and unpacked once
        per digest; concurrent callers for one digest share one pull. Raises :class:`ImageError`.
        ``keyring``: the revision's ``imagePullSecrets`` (each matching credential is tried in turn,
        then the machine's, as the kubelet)."""
