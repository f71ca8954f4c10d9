"""buildah, the daemonless builder: ``bud`` a directory, ``push`` the result, keep the digest.

One :class:`Buildah` per data dir, all its state in ``DATA/build`` (``--root storage``,
``--runroot run``), never the host's ``/var/lib/containers``:

* storage driver ``vfs`` (plain copies): it works on any filesystem (tmpfs, overlay in a nested
  container) and, for images of a few MB, is as fast as overlay here (examples/hello-image:
  0.11-0.12 s a build with either, 2 shared cores, buildah 1.28);
* ``RUN`` steps get no network (``--network none``): there is nothing to reach, and with its
  default network buildah has netavark add iptables chains and turn ``ip_forward`` on;
* reproducible (``--timestamp 0``: created time and file times): an unchanged source gives the
  same digest, so ``service update --source`` on it stamps no new Revision (ko builds alike);
* base images (``FROM``) are pulled with zeroserve's registries.conf (``DATA/registries.conf``,
  the image store's mirrors) plus ``insecure = true`` for the registries go-containerregistry
  speaks plain http to (127.0.0.1, localhost, private addresses: :func:`.reference.insecure`);
  the push to such a registry is plain http too; credentials from ``DATA/auth.json`` when present;
* the built image is removed from the local storage once pushed: the registry holds it.

Progress is every line buildah prints (STEP n/m, COMMIT, the push), handed to ``progress`` as it
comes. Two host paths buildah has no flag to move, as root: containers/image's blob-info cache
(/var/lib/containers/cache) and netavark's run directory (/run/containers/networks, left empty).
"""

from __future__ import annotations

import collections
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from zeroserve.build import source
from zeroserve.build.source import BuildError
from zeroserve.images import reference

STORAGE_DRIVER = "vfs"
TIMESTAMP = 0
"""Seconds since the epoch written as the image's created time and its files' times."""
PUSH_RETRY = ("--retry", "1", "--retry-delay", "500ms")
"""A failed push is tried again, 1.5 s in all (buildah's default makes a stopped registry a 6 s wait;
``--retry 0`` means that default)."""
ERROR_LINES = 5
"""How many of buildah's last lines a failure's message repeats."""

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Built:
    """A pushed build: ``image`` (``REPO:TAG``) has ``digest``; :attr:`pinned` is what runs."""

    image: str
    digest: str
    build_seconds: float
    push_seconds: float

    @property
    def pinned(self) -> str:
        return source.pinned(self.image, self.digest)


class Buildah:
    """Builds with the ``buildah`` binary over ``root`` (``DATA/build``)."""

    def __init__(
        self,
        root: Path,
        *,
        registries_conf: Path | None = None,
        auth_file: Path | None = None,
        environ: Mapping[str, str] | None = None,
        buildah: str = "buildah",
    ) -> None:
        self.root = root
        self.registries_conf = registries_conf
        self.auth_file = auth_file
        self._environ = dict(os.environ if environ is None else environ)
        self._buildah = buildah

    @classmethod
    def for_data_dir(cls, data_dir: Path, environ: Mapping[str, str] | None = None) -> Buildah:
        """``DATA/build``, with the image store's ``DATA/registries.conf`` and ``DATA/auth.json``."""
        return cls(
            data_dir / "build",
            registries_conf=data_dir / "registries.conf",
            auth_file=data_dir / "auth.json",
            environ=environ,
        )

    def build(self, context: Path, image: str, *, file: Path | None = None, progress: Progress = print) -> Built:
        """Build ``context`` (its Containerfile, or ``file``) as ``image`` (``REPO:TAG``, a registry
        named), push it there and return its digest. :class:`BuildError` when either step fails."""
        if shutil.which(self._buildah) is None:
            raise BuildError(f"{self._buildah} is not installed (Debian: apt-get install buildah)")
        containerfile = source.build_file(context, file)
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        bases = source.base_images(containerfile.read_text(errors="replace"))
        with tempfile.TemporaryDirectory(dir=self.root, prefix="tmp-") as tmp:
            conf = self._write_registries_conf(Path(tmp) / "registries.conf", [*bases, image])
            digest_file = Path(tmp) / "digest"
            started = time.monotonic()
            self._run(
                ["bud", "--network", "none", "--timestamp", str(TIMESTAMP), "--layers=false",
                 *self._auth(), "-f", str(containerfile), "-t", image, str(context)],
                conf, progress, "build",
            )  # fmt: skip
            built = time.monotonic()
            progress(f"Pushing {image}")
            try:
                self._run(
                    ["push", f"--tls-verify={str(not _insecure(image)).lower()}", *PUSH_RETRY, *self._auth(),
                     "--digestfile", str(digest_file), image, f"docker://{image}"],
                    conf, progress, "push",
                )  # fmt: skip
            finally:
                self._quiet(["rmi", image], conf)
            digest = digest_file.read_text().strip()
        return Built(image, digest, built - started, time.monotonic() - built)

    # --- running buildah ---------------------------------------------------------------------

    def _argv(self, args: Sequence[str], conf: Path) -> list[str]:
        return [
            self._buildah, "--root", str(self.root / "storage"), "--runroot", str(self.root / "run"),
            "--storage-driver", STORAGE_DRIVER, "--registries-conf", str(conf), *args,
        ]  # fmt: skip

    def _env(self, conf: Path) -> dict[str, str]:
        # Newer containers/image read the variable; buildah 1.28 takes --registries-conf.
        return {**self._environ, "CONTAINERS_REGISTRIES_CONF": str(conf), "BUILDAH_LAYERS": "false"}

    def _run(self, args: Sequence[str], conf: Path, progress: Progress, step: str) -> None:
        last: collections.deque[str] = collections.deque(maxlen=ERROR_LINES)
        with subprocess.Popen(
            self._argv(args, conf),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=self._env(conf),
            text=True,
            errors="replace",
        ) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                line = line.rstrip("\n")
                last.append(line)
                progress(line)
        if proc.returncode != 0:
            said = "; ".join(line.strip() for line in last if line.strip()) or "no output"
            raise BuildError(f"{step} failed (buildah exit {proc.returncode}): {said}")

    def _quiet(self, args: Sequence[str], conf: Path) -> None:
        subprocess.run(self._argv(args, conf), env=self._env(conf), capture_output=True, check=False)

    def _auth(self) -> tuple[str, ...]:
        return ("--authfile", str(self.auth_file)) if self.auth_file and self.auth_file.is_file() else ()

    def _write_registries_conf(self, path: Path, images: Sequence[str]) -> Path:
        """zeroserve's registries.conf, plus ``insecure = true`` for the plain-http registries named."""
        text = ""
        if self.registries_conf is not None and self.registries_conf.is_file():
            text = self.registries_conf.read_text()
        path.write_text(source.with_insecure(text, _registries(images)))
        return path


def _registries(images: Sequence[str]) -> list[str]:
    out: list[str] = []
    for image in images:
        try:
            registry = reference.parse(image).registry
        except reference.BadReference:
            continue
        if reference.insecure(registry) and registry not in out:
            out.append(registry)
    return out


def _insecure(image: str) -> bool:
    try:
        return reference.insecure(reference.parse(image).registry)
    except reference.BadReference:
        return False
