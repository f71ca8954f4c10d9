"""What to build and where it goes (PURE but for looking for the Containerfile).

* the build file: ``Containerfile``, else ``Dockerfile`` (buildah's order), or the one given;
* the image: a name with a registry (its first component has a ``.`` or a ``:``, the rule
  :mod:`zeroserve.images.reference` follows) is pushed where it says; a bare name (``hello:v1``)
  goes under the configured registry (``127.0.0.1:5000/hello:v1``), which may carry a path, as
  ``KO_DOCKER_REPO`` does (``127.0.0.1:5000/team``);
* ``--source`` names the image after the Service: ``REGISTRY/NAMESPACE/NAME:latest``; the
  Revision gets the pushed digest, not the tag.
"""

from __future__ import annotations

from pathlib import Path

from zeroserve.errors import ZeroserveError
from zeroserve.images import reference

BUILD_FILES = ("Containerfile", "Dockerfile")
SOURCE_TAG = "latest"


class BuildError(ZeroserveError):
    """A build could not start or did not succeed; the message says why (the builder's last words)."""


class NoRegistry(BuildError):
    """A bare image name, and no registry configured to push it to."""

    def __init__(self) -> None:
        super().__init__(
            "no registry to push to: run `zeroserve up --serve-registry` (a local registry on 127.0.0.1:5000), "
            "or `zeroserve up --registry HOST:PORT`, set $ZEROSERVE_REGISTRY, or name the registry in the image"
        )


def build_file(context: Path, file: Path | None = None) -> Path:
    """The Containerfile to build ``context`` with: ``file`` when given, else the first of :data:`BUILD_FILES`."""
    if not context.is_dir():
        raise BuildError(f"{context}: not a directory")
    if file is not None:
        if not file.is_file():
            raise BuildError(f"{file}: no such file")
        return file
    for name in BUILD_FILES:
        if (context / name).is_file():
            return context / name
    raise BuildError(f"{context}: no {' or '.join(BUILD_FILES)} to build from")


def has_registry(image: str) -> bool:
    """True when ``image``'s first path component names a registry (it has a ``.`` or a ``:``)."""
    first, slash, _ = image.partition("/")
    return bool(slash) and ("." in first or ":" in first)


def target(image: str, registry: str) -> str:
    """The reference to push ``image`` to: as given when it names a registry, else under ``registry``.

    A digest cannot be pushed to, and the result must parse as an image reference."""
    if "@" in image:
        raise BuildError(f"{image}: a build is pushed to a tag, not a digest")
    if not has_registry(image):
        if not registry:
            raise NoRegistry()
        image = f"{registry.rstrip('/')}/{image}"
    try:
        ref = reference.parse(image)
    except reference.BadReference as err:
        raise BuildError(f"{image}: not an image reference: {err}") from None
    return image if _has_tag(image) else f"{image}:{ref.tag}"


def source_image(registry: str, namespace: str, name: str) -> str:
    """``REGISTRY/NAMESPACE/NAME:latest``: where ``service create NAME --source DIR`` pushes."""
    return target(f"{namespace}/{name}:{SOURCE_TAG}", registry)


def pinned(image: str, digest: str) -> str:
    """``REPO@sha256:…`` for a pushed ``REPO:TAG``: what the Revision runs."""
    repo = image.rpartition(":")[0] if _has_tag(image) else image
    return f"{repo}@{digest}"


def _has_tag(image: str) -> bool:
    return ":" in image.rpartition("/")[2]


def base_images(containerfile: str) -> list[str]:
    """The images a Containerfile's ``FROM`` lines pull: not ``scratch``, not an earlier stage
    (``FROM build``), not one built from an ``ARG`` (``$``; buildah expands those itself)."""
    stages: set[str] = set()
    images: list[str] = []
    for line in _instructions(containerfile):
        words = line.split()
        if not words or words[0].upper() != "FROM":
            continue
        args = [w for w in words[1:] if not w.startswith("--")]
        if not args:
            continue
        image = args[0]
        if len(args) >= 3 and args[1].upper() == "AS":
            stages.add(args[2].lower())
        if image.lower() != "scratch" and image.lower() not in stages and "$" not in image and image not in images:
            images.append(image)
    return images


def with_insecure(registries_conf: str, registries: list[str]) -> str:
    """``registries_conf`` (containers-registries.conf(5), v2 tables) with an ``insecure = true``
    entry for each registry it does not mention already."""
    extra = [
        f'\n[[registry]]\nlocation = "{r}"\ninsecure = true\n' for r in registries if f'"{r}"' not in registries_conf
    ]
    return registries_conf + "".join(extra)


def _instructions(text: str) -> list[str]:
    """Logical lines: comments dropped, ``\\`` continuations joined."""
    out: list[str] = []
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        out.append(pending + stripped)
        pending = ""
    if pending:
        out.append(pending)
    return out
