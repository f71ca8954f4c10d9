"""Containers: a container with an ``image`` runs the image's process from its root filesystem.

**Why bubblewrap.** Start -> first 200 of a static HTTP server from an unpacked rootfs, through a
socket made in the instance's network namespace, this machine, n=20 (``python -m
zeroserve.runtime.coldstart``): bubblewrap 7.8 ms p50 / 9.0 ms p90; ``runc run -d`` of an OCI
bundle in the same namespace 28.8 / 44.6 ms (two Go binaries and runc's cgroup setup per start);
``podman run`` 115-155 ms (MEASURED.md section 1). Only bubblewrap leaves room for the goal of a
first byte from zero within 50 ms p50. The rootfs is unpacked once per digest
(:mod:`zeroserve.images`) and shared, read-only, by every instance of it.

**The chain** (``runtime.spawn`` starts it, inside the instance's network namespace): the shell
step (cgroups) -> ``setpriv`` (the container's user, no groups, no capabilities, ``no_new_privs``,
the parent-death signal) -> ``bwrap`` as that user, hence unprivileged: a user namespace that maps
only that uid and gid, and new mount, PID, IPC and UTS namespaces (the instance id as hostname);
the image's rootfs, bound read-only as ``/`` from its view (:class:`Views`: a bind mount the
sandbox's user may walk to, since the cache is in the 0700 data dir), handed over as an open
descriptor (``--ro-bind-fd``); ``/proc``, a minimal ``/dev`` and a
private ``/tmp``; no nested user namespaces. The app runs as PID 2 under bwrap's init (which
reaps its orphans), with the environment given as bwrap options (the monitor has none). The
runtime adds the mount points a rootfs lacks once per image (:meth:`Rootfs.prepare`), as runc does
to a bundle. The app has no capabilities: ports below 1024 of its own loopback are open to it
(``ip_unprivileged_port_start=0`` in its namespace, as container runtimes set for pods).

**Who** (:func:`user_of`): ``securityContext.runAsUser`` wins; else the image's ``User``, resolved
with the image's ``/etc/passwd`` and ``/etc/group``; else, or when that is root, the revision's
own uid (:mod:`.isolation`). A container never runs as root of the machine.

**The contract inside** (:func:`environment`): the image's env, then the container's, then
``PORT`` (the serving container only) and ``K_SERVICE``, ``K_CONFIGURATION``, ``K_REVISION``
(every container, as Knative's ``makeContainer``); ``PATH`` (containerd's default), ``HOSTNAME``
and ``HOME`` (``/``) when none of them sets one.

**What else it sees** (the kubelet's and runc's share of a pod, :func:`sandbox_options`):

* ``/etc/hosts`` and ``/etc/resolv.conf`` of the instance's own (:func:`hosts_file`,
  :func:`resolv_conf`), bound read-only over the image's (the kubelet's win, as its mounts do; a
  volume mounted there wins over them). The hosts file is the kubelet's
  ``managedHostsFileContent``: ``localhost`` and the IPv6 names, then the pod's IP (127.0.0.1, its
  loopback) with its hostname; Go and glibc programs resolve ``localhost`` from it, never by DNS.
  ``resolv.conf`` is ``ClusterFirst``'s search path (``NS.svc.cluster.local svc.cluster.local
  cluster.local``, ``options ndots:5``) with ``nameserver 127.0.0.1``: the instance's network
  namespace has its loopback only, so a DNS query is refused at once (ICMP port unreachable, no
  resolver timeout), and cluster-local names reach zeroserve through ``http_proxy``. A nameserver
  elsewhere would fail as fast (no route) but name an address that is not there. The files live with
  the instance's volumes (:mod:`.volumes`, a tmpfs) and go with it. An image whose ``/etc/hosts`` is
  a symlink or a directory keeps its own (a bind would follow it out of the read-only image).
* its cgroup (:class:`CgroupView`), read-only at ``/sys/fs/cgroup`` in an otherwise empty, read-only
  ``/sys``: with cgroup v2 the instance's directory itself (``cgroup2`` in ``/proc/mounts``); with v1 a
  read-only tmpfs holding the instance's directory of each hierarchy (``memory``, ``cpu``,
  ``cpuacct``, ``pids``), as runc shows a container's. It holds the limits the app runs under
  (``memory.limit_in_bytes``, ``cpu.cfs_quota_us``...); every write fails;
* ``/proc/sys`` read-only (runc's ``readonlyPaths``), no ``/dev/console``, stdin at end of file.

**Signals and exec.** A stop sends SIGTERM to the app itself (:func:`app_pids`), as the kubelet
signals a container's first process: the monitor and the sandbox's init must not die first, or
the app would be killed at once (``--die-with-parent``). An ``exec`` probe runs inside the running
container (:func:`exec_argv`: ``nsenter`` into its namespaces, as its user).
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import logging
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from zeroserve.runtime import cgroups, isolation, supervisor
from zeroserve.runtime.isolation import Bind, Jail, Machine, User

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
"""containerd's PATH for a container whose image sets none."""
MOUNT_POINTS = (("proc", 0o555), ("dev", 0o755), ("tmp", 0o1777), ("sys", 0o555))
CGROUP_MOUNT = "/sys/fs/cgroup"
POD_IP = "127.0.0.1"
"""A container instance's address as its containers see it: the loopback of its network namespace."""
CLUSTER_DOMAIN = "cluster.local"
NAMESERVER = "127.0.0.1"
"""``resolv.conf``'s nameserver: nothing answers DNS inside an instance's namespace, and a query to its
own loopback is refused at once (see the module docstring)."""
HOSTS_HEADER = "# Kubernetes-managed hosts file.\n"
MAX_HOSTNAME = 63
SANDBOX_FLAGS = (
    "--unshare-user",
    "--disable-userns",
    "--unshare-pid",
    "--unshare-ipc",
    "--unshare-uts",
    "--die-with-parent",
)
logger = logging.getLogger(__name__)
NSENTER_FLAGS = ("--user", "--mount", "--pid", "--ipc", "--uts", "--net", "--root", "--wd")


@dataclass(frozen=True)
class CgroupView:
    """An instance's cgroup as its containers see it at ``/sys/fs/cgroup`` (see the module docstring)."""

    version: cgroups.Version
    dirs: tuple[tuple[str, str], ...]
    """v2: one ``("unified", DIR)``; v1: ``(controller, DIR)`` per hierarchy, at ``/sys/fs/cgroup/<controller>``."""

    @classmethod
    def of(cls, machine: cgroups.Cgroups, name: str) -> CgroupView | None:
        """The cgroup ``machine`` makes for the instance ``name`` (None: it makes none)."""
        if machine.version is None:
            return None
        return cls(machine.version, tuple((controller, str(path)) for controller, path in machine.paths(name).items()))

    def options(self) -> list[str]:
        """bubblewrap's options for it (pure): a read-only bind of the v2 directory, or a read-only
        tmpfs holding the v1 ones (``--remount-ro``, since bwrap's does not reach a tmpfs's submounts)."""
        if self.version == "v2":
            return ["--ro-bind", self.dirs[0][1], CGROUP_MOUNT]
        options = ["--perms", "0755", "--tmpfs", CGROUP_MOUNT]
        for controller, path in self.dirs:
            options += ["--dir", f"{CGROUP_MOUNT}/{controller}", "--ro-bind", path, f"{CGROUP_MOUNT}/{controller}"]
        return [*options, "--remount-ro", CGROUP_MOUNT]


def sys_options(cgroup: CgroupView | None) -> list[str]:
    """A read-only ``/sys`` holding only ``fs/cgroup``, the instance's cgroup there (pure)."""
    options = ["--perms", "0555", "--tmpfs", "/sys", "--dir", "/sys/fs", "--dir", CGROUP_MOUNT]
    if cgroup is not None:
        options += cgroup.options()
    return [*options, "--remount-ro", "/sys"]


def sandbox_options(
    rootfs_fd: int,
    cwd: str,
    hostname: str,
    binds: Sequence[Bind] = (),
    *,
    files: Sequence[Bind] = (),
    cgroup: CgroupView | None = None,
) -> list[str]:
    """bubblewrap's options for one container (pure): see the module docstring. ``files`` (the
    instance's ``/etc/hosts`` and ``/etc/resolv.conf``), then ``binds`` (its volumes, which win),
    last; their mount points made in the rootfs beforehand (:meth:`Rootfs.mount_point`)."""
    return [
        *SANDBOX_FLAGS,
        "--hostname",
        hostname,
        "--ro-bind-fd",
        str(rootfs_fd),
        "/",
        "--proc",
        "/proc",
        "--ro-bind",
        "/proc/sys",
        "/proc/sys",
        "--dev",
        "/dev",
        "--perms",
        "1777",
        "--tmpfs",
        "/tmp",
        *sys_options(cgroup),
        "--chdir",
        cwd,
        *isolation.bind_options(files),
        *isolation.bind_options(binds),
    ]


def jail(
    machine: Machine,
    user: User,
    rootfs_fd: int,
    cwd: str,
    hostname: str,
    binds: Sequence[Bind] = (),
    *,
    files: Sequence[Bind] = (),
    cgroup: CgroupView | None = None,
) -> Jail:
    """How :mod:`.spawn` starts a container as ``user`` (pure). The machine must have bubblewrap and
    ``setpriv`` and run as root (:func:`unavailable`)."""
    assert machine.bwrap is not None and machine.setpriv is not None
    ids = ("--reuid", str(user.uid), "--regid", str(user.gid), "--groups", str(IMAGES_GID))
    drop = tuple(flag for flag in isolation.DROP_FLAGS if flag != "--clear-groups")
    prefix = (machine.setpriv, *ids, *drop, "--pdeathsig", "KILL", "--")
    options = tuple(sandbox_options(rootfs_fd, cwd, hostname, binds, files=files, cgroup=cgroup))
    return Jail(machine.bwrap, ("--",), user, options, monitored=True, prefix=prefix, container=True, fds=(rootfs_fd,))


def hostname_of(pod_name: str) -> str:
    """A pod's hostname: its name cut to 63 characters, no ``-`` or ``.`` at the end (the kubelet's
    ``truncatePodHostnameIfNeeded``) (pure)."""
    return pod_name[:MAX_HOSTNAME].rstrip("-.") if len(pod_name) > MAX_HOSTNAME else pod_name


def hosts_file(hostname: str, ip: str = POD_IP) -> bytes:
    """The kubelet's ``managedHostsFileContent`` for a pod without a subdomain or host aliases (pure)."""
    lines = (
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
        "fe00::0\tip6-localnet",
        "fe00::0\tip6-mcastprefix",
        "fe00::1\tip6-allnodes",
        "fe00::2\tip6-allrouters",
        f"{ip}\t{hostname}",
    )
    return (HOSTS_HEADER + "".join(f"{line}\n" for line in lines)).encode()


def resolv_conf(namespace: str, domain: str = CLUSTER_DOMAIN, nameserver: str = NAMESERVER) -> bytes:
    """``dnsPolicy: ClusterFirst``'s resolv.conf, in containerd's order (search, nameserver, options) (pure)."""
    search = f"{namespace}.svc.{domain} svc.{domain} {domain}"
    return f"search {search}\nnameserver {nameserver}\noptions ndots:5\n".encode()


def etc_files(namespace: str, hostname: str) -> dict[str, bytes]:
    """The files every container of an instance sees in ``/etc`` whatever its image holds (pure)."""
    return {"/etc/hosts": hosts_file(hostname), "/etc/resolv.conf": resolv_conf(namespace)}


def unavailable(machine: Machine, netns_problem: str | None) -> str | None:
    """Why containers cannot run on ``machine``, or None (pure)."""
    if netns_problem is not None:
        return netns_problem
    if machine.bwrap is None:
        return f"bubblewrap does not run here: {machine.no_sandbox}"
    if not machine.can_switch_users:
        return "containers run as users of their own, and zeroserve up cannot switch users (it is not root)"
    return None


def environment(
    image_env: Sequence[tuple[str, str]], runtime_env: Sequence[tuple[str, str]], hostname: str
) -> dict[str, str]:
    """The container's environment (pure): the merged image and container env (``effective_process``),
    then the runtime's variables, then the defaults for what neither set."""
    env = dict(image_env)
    env.update(runtime_env)
    env.setdefault("PATH", DEFAULT_PATH)
    env.setdefault("HOSTNAME", hostname)
    env.setdefault("HOME", "/")
    return env


def user_of(
    run_as_user: int | None, image_ids: tuple[int, int] | None, run_as_group: int | None
) -> tuple[int | None, int | None]:
    """The uid and gid to ask :meth:`.isolation.Isolation.user_for` for (pure; None: the revision's).

    ``runAsUser`` wins; else the image's user unless it is root; ``runAsGroup`` wins over the gid."""
    if run_as_user is not None:
        return run_as_user, run_as_group
    if image_ids is not None and image_ids[0] != 0:
        return image_ids[0], run_as_group if run_as_group is not None else image_ids[1]
    return None, run_as_group


def exec_argv(nsenter: str, pid: int, user: User, command: Sequence[str]) -> list[str]:
    """``command`` run inside the container whose app is ``pid``, as ``user`` (pure)."""
    ids = ["--setuid", str(user.uid), "--setgid", str(user.gid)]
    return [nsenter, "--target", str(pid), *NSENTER_FLAGS, *ids, "--", *command]


def app_pids(monitor: int) -> list[int]:
    """The app of a sandbox whose bwrap monitor is ``monitor``: the children of its init (empty while
    bwrap is still setting it up, or once it is gone)."""
    return [pid for init in supervisor.children(monitor) for pid in supervisor.children(init)]


IMAGES_GID = isolation.UID_BASE - 1
"""The group every container's bwrap runs with (``setpriv --groups``), and the only one that may walk
to the image views; inside the sandbox it grants nothing (only the image is there)."""
VIEWS_ROOT = Path("/run/zeroserve")
MS_BIND = 0x1000
MNT_DETACH = 2


class Views:
    """Where the sandboxes find the images' root filesystems: one bind mount per image under
    ``/run/zeroserve/<data dir hash>/`` (0710, group :data:`IMAGES_GID`).

    bubblewrap resolves a bind source by its path, as the sandbox's user (``realpath``, even for
    ``--ro-bind-fd``), and the image cache lives in the 0700 data dir (perhaps under a 0700 home):
    a bind mount of each rootfs at a path that user may walk to is how it gets there, with nothing of
    the data dir opened to anyone. The mounts go on :meth:`close`; ones left by a crash are detached
    when the next runtime on the same data dir starts."""

    def __init__(self, data_dir: Path, root: Path = VIEWS_ROOT) -> None:
        digest = hashlib.blake2b(str(data_dir.resolve()).encode(), digest_size=8).hexdigest()
        self.dir = root / digest
        self._mounted: dict[Path, Path] = {}
        root.mkdir(mode=0o755, exist_ok=True)
        self.dir.mkdir(mode=0o710, exist_ok=True)
        os.chown(self.dir, 0, IMAGES_GID)
        os.chmod(self.dir, 0o710)
        self._detach_leftovers()

    def view(self, rootfs: Path) -> Path:
        """The path of ``rootfs`` the sandboxes bind (mounted on first use)."""
        source = rootfs.resolve()
        if (target := self._mounted.get(source)) is not None:
            return target
        target = self.dir / hashlib.blake2b(str(source).encode(), digest_size=8).hexdigest()
        target.mkdir(mode=0o755, exist_ok=True)
        if not os.path.ismount(target):
            _call_mount(os.fsencode(source), os.fsencode(target))
        self._mounted[source] = target
        return target

    def close(self) -> None:
        for target in self._mounted.values():
            _detach(target)
        self._mounted.clear()
        with contextlib.suppress(OSError):
            self.dir.rmdir()

    def _detach_leftovers(self) -> None:
        for entry in os.scandir(self.dir):
            if os.path.ismount(entry.path):
                _detach(Path(entry.path))


_libc = ctypes.CDLL(None, use_errno=True)


def _call_mount(source: bytes, target: bytes) -> None:
    if _libc.mount(source, target, None, ctypes.c_ulong(MS_BIND), None) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"mount --bind {os.fsdecode(source)}: {os.strerror(errno)}")


def _detach(target: Path) -> None:
    if _libc.umount2(os.fsencode(target), MNT_DETACH) != 0:
        logger.warning("cannot unmount %s: %s", target, os.strerror(ctypes.get_errno()))
    with contextlib.suppress(OSError):
        target.rmdir()


class Rootfs:
    """An image's root filesystem held open (``O_PATH``) for the sandboxes of its containers."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)

    def __repr__(self) -> str:
        return f"Rootfs({str(self.path)!r}, fd={self.fd})"

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def prepare(self, directories: Sequence[str] = ()) -> None:
        """Add the mount points bwrap needs and the containers' working ``directories`` where the
        image lacks them (as root, once; never through a symlink of the image)."""
        for name, mode in MOUNT_POINTS:
            _mkdir(self.fd, name, mode)
        for directory in directories:
            fd = os.open(".", os.O_PATH | os.O_DIRECTORY, dir_fd=self.fd)
            try:
                for part in [p for p in directory.split("/") if p not in ("", ".", "..")]:
                    _mkdir(fd, part, 0o755)
                    inner = os.open(part, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                    os.close(fd)
                    fd = inner
            except OSError:
                pass  # a symlink or a file on the way: bwrap's --chdir will say what is wrong
            finally:
                os.close(fd)

    def mount_point(self, path: str, *, file: bool = False) -> bool:
        """Make ``path`` (absolute) in the rootfs for a bind, a file or a directory, where the image lacks
        it (never through a symlink of the image: bwrap then says what is wrong). True when it is there
        as asked, with no symlink on the way."""
        parts = [p for p in path.split("/") if p not in ("", ".", "..")]
        if not parts:
            return not file
        fd = os.open(".", os.O_PATH | os.O_DIRECTORY, dir_fd=self.fd)
        try:
            for part in parts[:-1]:
                _mkdir(fd, part, 0o755)
                inner = os.open(part, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                os.close(fd)
                fd = inner
            if not file:
                _mkdir(fd, parts[-1], 0o755)
            else:
                with contextlib.suppress(FileExistsError):
                    os.close(os.open(parts[-1], os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=fd))
            mode = os.stat(parts[-1], dir_fd=fd, follow_symlinks=False).st_mode
            return stat.S_ISREG(mode) if file else stat.S_ISDIR(mode)
        except OSError:
            return False
        finally:
            os.close(fd)

    def read(self, path: str, limit: int = 1 << 20) -> str:
        """A small text file of the image (``etc/passwd``), "" when it is missing, never through a symlink."""
        parts = [p for p in path.split("/") if p]
        fds: list[int] = []
        try:
            fd = self.fd
            for part in parts[:-1]:
                fd = os.open(part, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                fds.append(fd)
            fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
            fds.append(fd)
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return ""
            return os.read(fd, limit).decode(errors="replace")
        except OSError:
            return ""
        finally:
            for fd in fds:
                os.close(fd)


def _mkdir(dir_fd: int, name: str, mode: int) -> None:
    try:
        os.mkdir(name, mode, dir_fd=dir_fd)
    except FileExistsError:
        return
    fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
    try:
        os.fchmod(fd, mode)  # past the umask (/tmp is 1777)
    finally:
        os.close(fd)


def runtime_env(service: str, configuration: str, revision: str, port: int | None) -> tuple[tuple[str, str], ...]:
    """The runtime contract's variables (pure): ``PORT`` for the serving container, ``K_*`` for all."""
    env = (("K_SERVICE", service), ("K_CONFIGURATION", configuration), ("K_REVISION", revision))
    return ((("PORT", str(port)),) if port is not None else ()) + env


def signal_apps(monitor: int, signum: int) -> bool:
    """Send ``signum`` to the app of the sandbox ``monitor``; False when it has none yet (or any more)."""
    sent = False
    for pid in app_pids(monitor):
        try:
            os.kill(pid, signum)
            sent = True
        except (ProcessLookupError, PermissionError):
            pass
    return sent
