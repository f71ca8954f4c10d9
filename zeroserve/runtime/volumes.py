"""An instance's volumes on this machine: the kubelet's volume manager and AtomicWriter, for one machine.

**Where.** Every instance has its own volumes (a pod's are its own too: an ``emptyDir`` is shared by
its containers only, and a ``downwardAPI`` file may hold the instance's name):

* files (``secret``, ``configMap``, ``projected``) and ``emptyDir`` with ``medium: Memory`` live on
  a tmpfs that zeroserve up mounts at ``/run/zeroserve/<data dir hash>.volumes/volumes`` (never on disk, as
  the kubelet's secret volumes; so nothing of a Secret is ever in the data dir, and nothing is left
  after a power cut). An ``emptyDir`` with a ``sizeLimit`` on ``Memory`` is a tmpfs of that size;
* an ``emptyDir`` on the default medium is on disk, ``DATA/emptydir``, seen by the sandboxes through
  a bind mount at ``/run/zeroserve/<hash>.volumes/disk`` (its ``sizeLimit`` is not enforced: the kubelet
  evicts the pod, here a warning says so).

``/run/zeroserve/<hash>.volumes`` is 0710 root, group ``container.IMAGES_GID`` (the group a container's
unprivileged bubblewrap has, which resolves bind sources as the container's user); below it, each
instance's directory is 0700 and owned by the instance's user: its files are readable by that uid
only (the instance's serving container; a container of the same instance running as another uid does
not reach them). The volume's directory is bound at ``mountPath`` (read-only for files; ``subPath``
binds one entry).

**How** (AtomicWriter, pkg/volume/util/atomic_writer.go): a volume's files are written into a new
``..YYYY_MM_DD_HH_MM_SS.NNNN`` directory, the visible names are symlinks ``NAME -> ..data/NAME``, and
``..data`` is swapped to the new directory by a rename (``..data_tmp``), then the old one is removed:
a reader sees the old files or the new ones, never a mix. An unchanged payload writes nothing. A
``subPath`` mount binds what the symlink leads to at start, so it keeps the old file (as Kubernetes).
The instance's directories go when the instance is gone; the tmpfs and the bind mount when the
runtime closes (a crash leaves them to the next start, which removes them).

**A container instance's own files** (``/etc/hosts``, ``/etc/resolv.conf``: :func:`.container.etc_files`)
are on the same tmpfs, in ``volumes/..etc/<instance>/`` (root's, 0644, nothing secret in them): every
container of the instance binds them, whatever its user, so they are not in the instance's 0700
directory. They go with the instance too.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime
import errno
import hashlib
import logging
import os
import secrets
import shutil
import stat
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from zeroserve.runtime.base import POD_NAME, POD_UID, SERVICE_ACCOUNT_TOKEN, Volume, VolumeFile, VolumeMount
from zeroserve.runtime.isolation import Bind, User

logger = logging.getLogger(__name__)

DATA_DIR_NAME = "..data"
NEW_DATA_DIR_NAME = "..data_tmp"
ROOT = Path("/run/zeroserve")
MEMORY_MEDIUM = "Memory"
ETC_DIR = "..etc"
"""The directory of the instances' own files on the tmpfs (no instance name begins with a dot)."""
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND = 0x2, 0x4, 0x8, 0x1000
MNT_DETACH = 2
POD_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
"""Kubernetes' ``utilrand`` alphabet (no vowels, no confusable characters), as in pod names."""


def pod_name(revision: str, template: str, token: bytes) -> str:
    """A pod-like name for an instance: ``REVISION-deployment-HASH-XXXXX`` (Knative's Deployment
    ``REVISION-deployment``, its ReplicaSet's pod-template hash, the pod's 5 random characters)."""
    digest = hashlib.blake2b(template.encode(), digest_size=16).digest()
    return f"{revision}-deployment-{_encode(digest, 10)}-{_encode(token, 5)}"


def _encode(data: bytes, length: int) -> str:
    number = int.from_bytes(data, "big")
    chars = []
    for _ in range(length):
        number, index = divmod(number, len(POD_NAME_ALPHABET))
        chars.append(POD_NAME_ALPHABET[index])
    return "".join(chars)


def instance_values(name: str) -> dict[str, str]:
    """The fields only an instance has: its pod name, a uid made from it, and a random token that
    nothing here accepts (a projected ``serviceAccountToken`` is never zeroserve's API token)."""
    return {
        POD_NAME: name,
        POD_UID: str(uuid.uuid5(uuid.NAMESPACE_URL, f"zeroserve:pod:{name}")),
        SERVICE_ACCOUNT_TOKEN: secrets.token_urlsafe(32),
    }


# -- AtomicWriter ---------------------------------------------------------------------------------


def write_payload(target: Path, files: Sequence[tuple[str, bytes, int]], owner: User | None) -> bool:
    """Project ``files`` (relative path, content, mode) into ``target`` atomically; False when the
    payload is what is there already (nothing written)."""
    data_link = target / DATA_DIR_NAME
    old = os.readlink(data_link) if data_link.is_symlink() else ""
    payload = {path: (content, mode) for path, content, mode in files}
    if old and not _changed(target / old, payload):
        return False
    stamp = datetime.datetime.now(datetime.UTC).strftime("..%Y_%m_%d_%H_%M_%S.")
    fresh = Path(_mkdtemp(target, stamp))
    try:
        for path, (content, mode) in payload.items():
            full = fresh / path
            full.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
            fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            try:
                _write_all(fd, content)
                os.fchmod(fd, mode)
                if owner is not None:
                    os.fchown(fd, owner.uid, owner.gid)
            finally:
                os.close(fd)
        _chown_tree(fresh, owner)
        tops = {path.split("/", 1)[0] for path in payload}
        for top in tops:
            visible = target / top
            if not visible.is_symlink():
                os.symlink(f"{DATA_DIR_NAME}/{top}", visible)
                _lchown(visible, owner)
        new_link = target / NEW_DATA_DIR_NAME
        with contextlib.suppress(FileNotFoundError):
            os.unlink(new_link)
        os.symlink(fresh.name, new_link)
        _lchown(new_link, owner)
        os.rename(new_link, data_link)
    except BaseException:
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    for entry in os.scandir(target):  # visible names no longer in the payload
        if not entry.name.startswith("..") and entry.name not in tops and entry.is_symlink():
            os.unlink(entry.path)
    if old:
        shutil.rmtree(target / old, ignore_errors=True)
    return True


def _write_all(fd: int, content: bytes) -> None:
    view = memoryview(content)
    while view:
        view = view[os.write(fd, view) :]


def _changed(current: Path, payload: Mapping[str, tuple[bytes, int]]) -> bool:
    """``shouldWritePayload`` and ``pathsToRemove``: any file differs, is new, or is gone."""
    try:
        present = {
            str(Path(root, name).relative_to(current)) for root, _dirs, names in os.walk(current) for name in names
        }
    except OSError:
        return True
    if present != set(payload):
        return True
    for path, (content, mode) in payload.items():
        try:
            info = os.stat(current / path, follow_symlinks=False)
            if stat.S_IMODE(info.st_mode) != mode or (current / path).read_bytes() != content:
                return True
        except OSError:
            return True
    return False


def _mkdtemp(parent: Path, prefix: str) -> str:
    for _ in range(100):
        path = parent / f"{prefix}{secrets.randbelow(10**9):09d}"
        try:
            os.mkdir(path, 0o755)
        except FileExistsError:
            continue
        os.chmod(path, 0o755)
        return str(path)
    raise FileExistsError(errno.EEXIST, f"no free name for {prefix} in {parent}")


def _chown_tree(top: Path, owner: User | None) -> None:
    if owner is None:
        return
    os.chown(top, owner.uid, owner.gid)
    for root, dirs, _names in os.walk(top):
        for name in dirs:
            os.chown(os.path.join(root, name), owner.uid, owner.gid)


def _lchown(path: Path, owner: User | None) -> None:
    if owner is not None:
        os.lchown(path, owner.uid, owner.gid)


# -- the volumes of every instance ----------------------------------------------------------------


@dataclass
class _Instance:
    name: str
    dirs: dict[str, Path]
    values: dict[str, str]
    owner: User | None = None
    mounts: list[Path] = field(default_factory=list)
    """tmpfs mounted for sized Memory emptyDirs (unmounted when the instance is gone)."""
    files: dict[str, str] = field(default_factory=dict)
    """Its own files (``/etc/hosts``...): the path inside the container -> the file here."""


def top_of(data_dir: Path, root: Path = ROOT) -> Path:
    """Where the volumes of the runtime on ``data_dir`` live: beside its image views (container.Views)."""
    digest = hashlib.blake2b(str(data_dir.resolve()).encode(), digest_size=8).hexdigest()
    return root / f"{digest}.volumes"


def remove_leftovers(data_dir: Path, root: Path = ROOT) -> None:
    """Unmount and remove what a runtime on ``data_dir`` that did not close left (its instances' files)."""
    top = top_of(data_dir, root)
    if not top.is_dir():
        return
    for name in ("volumes", "disk"):
        if (top / name).is_dir():
            _detach_all(top / name)
            with contextlib.suppress(OSError):
                (top / name).rmdir()
    shutil.rmtree(data_dir / "emptydir", ignore_errors=True)
    with contextlib.suppress(OSError):
        top.rmdir()


class VolumeManager:
    """The volumes of this runtime's instances (see the module docstring)."""

    def __init__(self, data_dir: Path, root: Path = ROOT, *, group: int = 0) -> None:
        self.top = top_of(data_dir, root)
        self.memory = self.top / "volumes"
        self.disk = self.top / "disk"
        self._disk_source = data_dir / "emptydir"
        self._instances: dict[str, _Instance] = {}
        root.mkdir(mode=0o755, exist_ok=True)
        self.top.mkdir(mode=0o710, exist_ok=True)
        os.chown(self.top, 0, group)
        os.chmod(self.top, 0o710)
        for path in (self.memory, self.disk):
            path.mkdir(mode=0o711, exist_ok=True)
            _detach_all(path)
        shutil.rmtree(self._disk_source, ignore_errors=True)  # leftovers of a crash
        self._disk_source.mkdir(mode=0o711, exist_ok=True)
        _mount(b"tmpfs", self.memory, b"tmpfs", MS_NOSUID | MS_NODEV, b"mode=0711")
        try:
            _mount(os.fsencode(self._disk_source), self.disk, None, MS_BIND, None)
        except OSError:
            _detach(self.memory)
            raise
        self.etc = self.memory / ETC_DIR
        self.etc.mkdir(mode=0o711)
        os.chmod(self.etc, 0o711)

    def create(
        self, instance_id: str, name: str, volumes: Sequence[Volume], files: Mapping[str, bytes] | None = None
    ) -> dict[str, str]:
        """Make the instance's volumes (owned by root until :meth:`own`); their directories by name.
        ``files``: its own files (path inside the container -> content), root's, readable by all."""
        state = _Instance(name, {}, instance_values(name))
        self._instances[instance_id] = state
        try:
            for base in (self.memory, self.disk):
                (base / instance_id).mkdir(mode=0o700)
            for volume in volumes:
                state.dirs[volume.name] = self._make(instance_id, volume, state)
            if files:
                state.files = self._write_files(self.etc / instance_id, files)
        except BaseException:
            self.remove(instance_id)
            raise
        return {name: str(path) for name, path in state.dirs.items()}

    @staticmethod
    def _write_files(directory: Path, files: Mapping[str, bytes]) -> dict[str, str]:
        directory.mkdir(mode=0o755)
        os.chmod(directory, 0o755)
        written: dict[str, str] = {}
        for target, content in files.items():
            path = directory / target.strip("/").replace("/", "_")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
            try:
                _write_all(fd, content)
                os.fchmod(fd, 0o644)
            finally:
                os.close(fd)
            written[target] = str(path)
        return written

    def _make(self, instance_id: str, volume: Volume, state: _Instance) -> Path:
        if volume.kind == "emptyDir":
            memory = volume.medium == MEMORY_MEDIUM
            path = (self.memory if memory else self.disk) / instance_id / volume.name
            path.mkdir(mode=0o755)
            if memory and volume.size_limit is not None:
                options = f"mode=0755,size={max(volume.size_limit, 4096)}".encode()
                _mount(b"tmpfs", path, b"tmpfs", MS_NOSUID | MS_NODEV, options)
                state.mounts.append(path)
            return path
        path = self.memory / instance_id / volume.name
        path.mkdir(mode=0o755)
        write_payload(path, _files(volume.files, state.values), None)
        return path

    def own(self, instance_id: str, owner: User) -> None:
        """Give the instance's volumes to its user (only it may read them)."""
        state = self._instances[instance_id]
        state.owner = owner
        for base in (self.memory, self.disk):
            top = base / instance_id
            for root, dirs, names in os.walk(top):
                for name in (*dirs, *names):
                    os.lchown(os.path.join(root, name), owner.uid, owner.gid)
            os.chown(top, owner.uid, owner.gid)

    def update(self, instance_id: str, volumes: Sequence[Volume]) -> None:
        """Write new contents into the instance's file volumes (in place; unchanged ones are left)."""
        state = self._instances.get(instance_id)
        if state is None:
            return
        for volume in volumes:
            path = state.dirs.get(volume.name)
            if volume.kind != "files" or path is None:
                continue
            if write_payload(path, _files(volume.files, state.values), state.owner):
                logger.info("volume %s of instance %s updated", volume.name, instance_id)

    def has(self, instance_id: str) -> bool:
        return instance_id in self._instances

    def dirs(self, instance_id: str) -> dict[str, str]:
        return {name: str(path) for name, path in self._instances[instance_id].dirs.items()}

    def values(self, instance_id: str) -> Mapping[str, str]:
        return self._instances[instance_id].values

    def files(self, instance_id: str) -> Mapping[str, str]:
        """The instance's own files: the path inside its containers -> the file to bind there."""
        return self._instances[instance_id].files

    def remove(self, instance_id: str) -> None:
        """The instance is gone: its volumes too (a Secret's files never stay)."""
        state = self._instances.pop(instance_id, None)
        for path in state.mounts if state is not None else []:
            _detach(path)
        for base in (self.memory, self.disk, self.etc):
            shutil.rmtree(base / instance_id, ignore_errors=True)

    def close(self) -> None:
        for instance_id in list(self._instances):
            self.remove(instance_id)
        for path in (self.memory, self.disk):
            _detach(path)
            with contextlib.suppress(OSError):
                path.rmdir()
        shutil.rmtree(self._disk_source, ignore_errors=True)
        with contextlib.suppress(OSError):
            self.top.rmdir()


def _files(files: Sequence[VolumeFile], values: Mapping[str, str]) -> list[tuple[str, bytes, int]]:
    return [(f.path, values.get(f.field, "").encode() if f.field else f.data, f.mode) for f in files]


def binds(mounts: Sequence[VolumeMount], dirs: Mapping[str, str]) -> list[Bind]:
    """Where each mount's source is on this machine, shallowest mount path first (a mount inside
    another is bound over it). A ``subPath`` that is not there becomes an empty directory, and a mount
    point inside another volume is made in that volume's directory (the kubelet's
    ``MakeNestedMountpoints``); mounts of volumes the runtime does not make are left out."""
    out: list[Bind] = []
    for mount in sorted(mounts, key=lambda m: m.mount_path.rstrip("/").count("/")):
        top = dirs.get(mount.name)
        if top is None:
            continue
        source = os.path.join(top, mount.sub_path) if mount.sub_path else top
        if mount.sub_path and not os.path.exists(source):
            os.makedirs(source, mode=0o755, exist_ok=True)
        is_file = os.path.isfile(source)
        for outer in reversed(out):
            inside = os.path.relpath(mount.mount_path, outer.target)
            if not outer.file and inside != "." and not inside.startswith(".."):
                _nested_mount_point(outer.source, inside, file=is_file)
                break
        out.append(Bind(source, mount.mount_path, mount.read_only, is_file))
    return out


def _nested_mount_point(volume_dir: str, inside: str, *, file: bool) -> None:
    path = os.path.join(volume_dir, inside)
    if os.path.lexists(path):
        return
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    if file:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644))
    else:
        os.mkdir(path, 0o755)


_libc = ctypes.CDLL(None, use_errno=True)


def _mount(source: bytes, target: Path, fstype: bytes | None, flags: int, data: bytes | None) -> None:
    if _libc.mount(source, os.fsencode(target), fstype, ctypes.c_ulong(flags), data) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"mount {os.fsdecode(source)} on {target}: {os.strerror(code)}")


def _detach(target: Path) -> bool:
    """Unmount ``target`` (lazily); False when nothing was mounted there. ``os.path.ismount`` cannot
    tell: a bind mount from the same filesystem has its device."""
    if _libc.umount2(os.fsencode(target), MNT_DETACH) == 0:
        return True
    code = ctypes.get_errno()
    if code not in (errno.EINVAL, errno.ENOENT):
        logger.warning("cannot unmount %s: %s", target, os.strerror(code))
    return False


def _detach_all(path: Path) -> None:
    """Unmount what a crashed runtime left at ``path`` (and below it) and empty it."""
    for _ in range(16):
        if not _detach(path):
            break
    for root, dirs, _names in os.walk(path, topdown=False):
        for name in dirs:
            _detach(Path(root, name))
    for entry in os.scandir(path):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
