"""SkopeoImageStore: tags resolved and images pulled with skopeo, unpacked with umoci, cached by digest.

**Resolve** (Knative ``pkg/reconciler/revision/resolve.go``: ``remote.Head(tag)`` ->
``REPO@digest``): ``skopeo inspect --raw docker://REPO:TAG`` fetches the manifest the tag names
now, and its sha256 is the digest (for a multi-platform image, the index's: what Docker-Content-Digest
says, as ggcr's HEAD reads it). A reference that already has a digest is returned as it is.

**Ensure** (the kubelet's image manager): ``DATA/images/sha256/<hex>/`` holds one digest's umoci
bundle: ``rootfs/`` (shared, read-only, by every instance of it) and ``image.json`` (the image's
config blob). It is made once: ``skopeo copy docker://REPO@DIGEST oci:TMP:img`` (by digest, so a
push to the tag meanwhile cannot change what is unpacked), ``umoci unpack`` (``--rootless`` when
not root), then one ``rename`` into place, so a half-made entry is never seen. Concurrent callers
for one digest share one pull. A reference by tag (only for registries in
``registries-skipping-tag-resolving``) is resolved again unless ``IfNotPresent`` finds the digest
it had last time (``tags/``); ``Never`` uses what is there or fails ``ErrImageNeverPull``.

**Registries.** Plain http where go-containerregistry uses it without configuration
(:func:`.reference.insecure`: localhost, 127.0.0.1, ::1, private addresses): skopeo gets
``--tls-verify=false`` for those. Mirrors, other insecure registries and blocking come from
zeroserve's own containers-registries.conf(5), ``DATA/registries.conf`` (skopeo reads it through
``--registries-conf`` (skopeo 1.9's hidden flag; newer ones read ``CONTAINERS_REGISTRIES_CONF``,
also set); without it an empty file, so the host's
/etc/containers/registries.conf does not apply); a mirror served over http needs ``insecure =
true`` there. Signature policy is not checked (``--insecure-policy``): a pinned digest already
names the exact bytes.

**Credentials.** The machine's: ``DATA/auth.json`` (a docker ``config.json``) when it exists, else
skopeo's own search (``$REGISTRY_AUTH_FILE``, ``~/.docker/config.json``…). A revision's
``imagePullSecrets`` come as a :class:`~.keyring.Keyring` (the caller read the Secrets) and are
matched to the image as Kubernetes does (:mod:`.keyring`): ``resolve`` uses the first matching
credential, else the machine's (Knative's k8schain: the pull secrets' keychain, then the default
one); ``ensure`` tries each matching credential in turn, then the machine's ``auth.json`` when it
has one for the image (the kubelet's pod keyring united with the node's); no match at all is the
machine's (or an anonymous) pull. A credential reaches skopeo as ``--authfile /proc/self/fd/N``, a
memfd holding a docker config with that one entry, made for the call and closed after it: never a
file under DATA (nor anywhere on disk), never in argv.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from zeroserve.images import keyring as keyrings
from zeroserve.images import reference
from zeroserve.images.base import (
    ERR_IMAGE_NEVER_PULL,
    ERR_IMAGE_PULL,
    ERR_INVALID_IMAGE_NAME,
    Image,
    ImageConfig,
    ImageError,
    PullPolicy,
)
from zeroserve.images.keyring import Credential, Keyring
from zeroserve.images.reference import BadReference, ImageRef

log = logging.getLogger(__name__)

PULL_TIMEOUT = 600.0
"""Seconds one pull (copy + unpack) may take."""
_SKOPEO_MESSAGE = re.compile(r'msg="((?:[^"\\]|\\.)*)"')
_PARSING_PREFIX = re.compile(r'^Error parsing image name "[^"]*": ')


class SkopeoImageStore:
    """:class:`~.base.ImageStore` over ``root`` (``DATA/images``); ``data_dir`` holds the
    optional ``registries.conf`` and ``auth.json``."""

    def __init__(
        self,
        root: Path,
        *,
        registries_conf: Path | None = None,
        auth_file: Path | None = None,
        environ: Mapping[str, str] | None = None,
        skopeo: str = "skopeo",
        umoci: str = "umoci",
    ) -> None:
        self.root = root
        self.registries_conf = registries_conf
        self.auth_file = auth_file
        self._environ = dict(os.environ if environ is None else environ)
        self._skopeo = skopeo
        self._umoci = umoci
        self._pulls: dict[str, asyncio.Task[Image]] = {}
        self._configs: dict[str, ImageConfig] = {}
        """Per digest, the config of an unpacked image (read once from its ``image.json``)."""

    @classmethod
    def for_data_dir(cls, data_dir: Path, environ: Mapping[str, str] | None = None) -> SkopeoImageStore:
        """The store ``zeroserve up`` uses: ``DATA/images``, ``DATA/registries.conf``, ``DATA/auth.json``."""
        return cls(
            data_dir / "images",
            registries_conf=data_dir / "registries.conf",
            auth_file=data_dir / "auth.json",
            environ=environ,
        )

    # --- ImageStore ------------------------------------------------------------------------------

    async def resolve(self, ref: str, timeout: float, keyring: Keyring | None = None) -> str:
        try:
            parsed = reference.parse(ref)
        except BadReference as err:
            raise ImageError(ERR_INVALID_IMAGE_NAME, f"failed to parse image name {ref!r} into a tag: {err}") from None
        if parsed.digest:
            return ref
        found: list[Credential | None] = list(keyring.lookup(parsed)[:1]) if keyring else []
        return parsed.pinned(await self._digest(parsed, timeout, found or [None]))

    async def ensure(self, ref: str, pull_policy: PullPolicy = "IfNotPresent", keyring: Keyring | None = None) -> Image:
        try:
            parsed = reference.parse(ref)
        except BadReference:
            raise ImageError(
                ERR_INVALID_IMAGE_NAME,
                f'Failed to apply default image tag "{ref}": couldn\'t parse image reference "{ref}": '
                "invalid reference format",
            ) from None
        digest = parsed.digest or self._remembered_tag(parsed, pull_policy)
        if digest and (image := self._cached(parsed, digest)) is not None:
            return image
        if pull_policy == "Never":
            raise ImageError(ERR_IMAGE_NEVER_PULL, f'Container image "{ref}" is not present with pull policy of Never')
        attempts = self._pull_attempts(parsed, keyring)
        if not digest:
            try:
                digest = await self._digest(parsed, PULL_TIMEOUT, attempts)
            except ImageError as err:
                raise ImageError(ERR_IMAGE_PULL, f'Failed to pull image "{ref}": {err.message}') from None
            self._remember_tag(parsed, digest)
            if (image := self._cached(parsed, digest)) is not None:
                return image
        task = self._pulls.get(digest)
        if task is None:
            pull = self._pull(parsed, digest, ref, attempts)
            task = asyncio.create_task(pull, name=f"pull {parsed.pinned(digest)}")
            self._pulls[digest] = task
            task.add_done_callback(lambda _t: self._pulls.pop(digest, None))
        return await asyncio.shield(task)

    async def close(self) -> None:
        """Cancel the pulls in flight (their skopeo/umoci processes are killed)."""
        tasks = list(self._pulls.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- the cache -------------------------------------------------------------------------------

    def entry(self, digest: str) -> Path:
        """Where ``digest``'s bundle lives (``rootfs/``, ``image.json``)."""
        algorithm, _, hex_ = digest.partition(":")
        return self.root / algorithm / hex_

    def _cached(self, ref: ImageRef, digest: str) -> Image | None:
        config = self._configs.get(digest)
        path = self.entry(digest)
        if config is None:
            try:
                config = image_config(json.loads((path / "image.json").read_bytes()))
            except (OSError, ValueError):
                return None
            self._configs[digest] = config
        return Image(ref.pinned(digest), digest, path / "rootfs", config)

    def _tag_file(self, ref: ImageRef) -> Path:
        return self.root / "tags" / hashlib.sha256(str(ref).encode()).hexdigest()

    def _remembered_tag(self, ref: ImageRef, pull_policy: PullPolicy) -> str:
        if pull_policy == "Always":
            return ""
        with contextlib.suppress(OSError):
            return self._tag_file(ref).read_text().strip()
        return ""

    def _remember_tag(self, ref: ImageRef, digest: str) -> None:
        path = self._tag_file(ref)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(digest)

    async def _pull(self, ref: ImageRef, digest: str, asked: str, attempts: list[Credential | None]) -> Image:
        tmp_root = self.root / "tmp"
        tmp_root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=digest.replace(":", "-")[:20] + ".", dir=tmp_root))
        try:
            async with asyncio.timeout(PULL_TIMEOUT):
                await self._skopeo_auth(
                    ref,
                    attempts,
                    "--src-authfile",
                    "copy",
                    *self._tls(ref, "--src-tls-verify=false"),
                    f"docker://{ref.pinned(digest)}",
                    f"oci:{tmp / 'layout'}:img",
                )
                blob = await asyncio.to_thread(_config_blob, tmp / "layout")
                unpack = [self._umoci, "unpack", *(() if os.geteuid() == 0 else ("--rootless",))]
                await self._exec([*unpack, "--image", f"{tmp / 'layout'}:img", str(tmp / "bundle")])
        except ImageError as err:
            raise ImageError(ERR_IMAGE_PULL, f'Failed to pull image "{asked}": {err.message}') from None
        except TimeoutError:
            message = f"pull did not finish in {PULL_TIMEOUT:g}s"
            raise ImageError(ERR_IMAGE_PULL, f'Failed to pull image "{asked}": {message}') from None
        try:
            (tmp / "bundle" / "image.json").write_bytes(blob)
            final = self.entry(digest)
            final.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(OSError):  # another zeroserve made it first: keep theirs
                (tmp / "bundle").rename(final)
        finally:
            await asyncio.to_thread(shutil.rmtree, tmp, True)
        image = self._cached(ref, digest)
        if image is None:
            raise ImageError(ERR_IMAGE_PULL, f'Failed to pull image "{asked}": unpacked image not found in {final}')
        log.info("pulled %s into %s", image.pinned, final)
        return image

    # --- skopeo ----------------------------------------------------------------------------------

    async def _digest(self, ref: ImageRef, timeout: float, attempts: list[Credential | None]) -> str:
        try:
            async with asyncio.timeout(timeout):
                raw = await self._skopeo_auth(
                    ref,
                    attempts,
                    "--authfile",
                    "inspect",
                    "--raw",
                    *self._tls(ref, "--tls-verify=false"),
                    f"docker://{ref}",
                )
        except TimeoutError:
            raise ImageError(ERR_IMAGE_PULL, f"context deadline exceeded (after {timeout:g}s)") from None
        return "sha256:" + hashlib.sha256(raw).hexdigest()

    def _tls(self, ref: ImageRef, flag: str) -> tuple[str, ...]:
        return (flag,) if reference.insecure(ref.registry) else ()

    def _auth(self, flag: str) -> tuple[str, ...]:
        return (flag, str(self.auth_file)) if self.auth_file is not None and self.auth_file.exists() else ()

    def _pull_attempts(self, ref: ImageRef, keyring: Keyring | None) -> list[Credential | None]:
        """The kubelet's order: every pull secret credential for ``ref``, then the machine's
        (None: ``DATA/auth.json`` or skopeo's search) when it has one for ``ref`` or nothing matched."""
        found: list[Credential | None] = list(keyring.lookup(ref)) if keyring else []
        if not found or self._machine_has(ref):
            found.append(None)
        return found

    def _machine_has(self, ref: ImageRef) -> bool:
        if self.auth_file is None:
            return False
        try:
            auths = json.loads(self.auth_file.read_bytes()).get("auths") or {}
            return bool(keyrings.from_docker_config(auths).lookup(ref))
        except (OSError, ValueError, AttributeError):
            return False

    async def _skopeo_auth(
        self, ref: ImageRef, attempts: list[Credential | None], flag: str, command: str, *args: str
    ) -> bytes:
        """``skopeo COMMAND`` with each credential of ``attempts`` in turn (None: the machine's)
        until one succeeds; else the errors as the kubelet aggregates them (one: its message;
        more: ``[a, b]``)."""
        errors: list[str] = []
        for credential in attempts:
            if credential is None:
                try:
                    return await self._skopeo_run(command, *self._auth(flag), *args)
                except ImageError as err:
                    errors.append(err.message)
                    continue
            fd = os.memfd_create("zeroserve-registry-auth", os.MFD_CLOEXEC)
            try:
                os.write(fd, credential.docker_config(ref.registry))
                return await self._skopeo_run(command, flag, f"/proc/self/fd/{fd}", *args, pass_fds=(fd,))
            except ImageError as err:
                errors.append(err.message)
            finally:
                os.close(fd)
        distinct = list(dict.fromkeys(errors))
        raise ImageError(ERR_IMAGE_PULL, distinct[0] if len(distinct) == 1 else f"[{', '.join(distinct)}]")

    async def _skopeo_run(self, *args: str, pass_fds: tuple[int, ...] = ()) -> bytes:
        tmp = self.root / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        conf = str(self._registries_conf())
        return await self._exec(
            [self._skopeo, "--insecure-policy", "--registries-conf", conf, "--tmpdir", str(tmp), *args],
            {**self._environ, "CONTAINERS_REGISTRIES_CONF": conf},
            pass_fds,
        )

    def _registries_conf(self) -> Path:
        """DATA/registries.conf, else an empty one of our own (never the host's)."""
        conf = self.registries_conf
        if conf is not None and conf.exists():
            return conf
        empty = self.root / "registries.conf"
        if not empty.exists():
            empty.parent.mkdir(parents=True, exist_ok=True)
            empty.write_text("# zeroserve: no registries configured (see DATA/registries.conf)\n")
        return empty

    async def _exec(
        self, argv: list[str], env: Mapping[str, str] | None = None, pass_fds: tuple[int, ...] = ()
    ) -> bytes:
        """Run ``argv``; its stdout, or :class:`ImageError` with the tool's own message. A cancelled
        or timed-out caller kills the process."""
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=self._environ if env is None else env,
                pass_fds=pass_fds,
            )
        except OSError as e:
            raise ImageError(ERR_IMAGE_PULL, f"{argv[0]}: {e.strerror or e}") from None
        try:
            out, err = await proc.communicate()
        finally:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        if proc.returncode != 0:
            raise ImageError(ERR_IMAGE_PULL, tool_message(err.decode(errors="replace")) or f"{argv[0]} failed")
        return out


def tool_message(stderr: str) -> str:
    """The reason in skopeo's/umoci's stderr: the last logrus ``msg="…"`` (unescaped, without
    skopeo's ``Error parsing image name "…":`` prefix), else the last line."""
    messages = _SKOPEO_MESSAGE.findall(stderr)
    if messages:
        text: str = json.loads(f'"{messages[-1]}"')
        return _PARSING_PREFIX.sub("", text)
    lines = [line for line in stderr.splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def _config_blob(layout: Path) -> bytes:
    """The image config blob of the only image in an OCI layout (index -> manifest -> config)."""
    index = json.loads((layout / "index.json").read_bytes())
    manifest = json.loads(_blob(layout, index["manifests"][0]["digest"]))
    return _blob(layout, manifest["config"]["digest"])


def _blob(layout: Path, digest: str) -> bytes:
    algorithm, _, hex_ = digest.partition(":")
    return (layout / "blobs" / algorithm / hex_).read_bytes()


def image_config(blob: Mapping[str, Any]) -> ImageConfig:
    """An OCI image config (``application/vnd.oci.image.config.v1+json``) -> :class:`ImageConfig`."""
    c = blob.get("config") or {}
    env = tuple((name, value) for name, _, value in (e.partition("=") for e in c.get("Env") or ()))
    return ImageConfig(
        entrypoint=tuple(c.get("Entrypoint") or ()),
        cmd=tuple(c.get("Cmd") or ()),
        env=env,
        working_dir=c.get("WorkingDir") or "",
        user=c.get("User") or "",
        exposed_ports=tuple(sorted(c.get("ExposedPorts") or {})),
        stop_signal=c.get("StopSignal") or "",
    )
