"""cgroup limits for instances: Kubernetes' ``resources.limits`` on one machine.

At start the runtime calls :func:`probe` once. It looks for a usable cgroup **v2** first (the
``memory`` and ``cpu`` controllers listed in ``cgroup.controllers`` and enabled in a
``zeroserve`` subtree we can create), then for **v1** (``memory`` and ``cpu`` hierarchies,
plus ``cpuacct`` and ``pids`` when mounted, each holding a ``zeroserve`` directory we can
create). The result is a :class:`Cgroups` whose ``reason`` says why limits cannot be enforced
when neither works (not root, no controllers, ...); the runtime shows that reason in
``WorkloadStatus.warnings`` instead of pretending.

Each limited instance gets its own cgroup, ``zeroserve/<instance-id>`` in every hierarchy,
created before the spawn with the limits written (``memory.limit_in_bytes`` /
``memory.max``, ``cpu.cfs_quota_us`` + ``cpu.cfs_period_us`` / ``cpu.max``, ``pids.max``) and the
requests (``cpu.shares`` / ``cpu.weight``, ``memory.soft_limit_in_bytes`` / ``memory.low``). The CPU
weight is the kubelet's (``kuberuntime``'s container resources): the cpu request, else the cpu limit
(the API server defaults a missing request to the limit), else none, as shares (1024 a core, at
least :data:`MIN_SHARES`): an instance without either gets 2 shares (weight 1), as a BestEffort
container does. Container instances see their cgroup, read-only, at ``/sys/fs/cgroup``
(:mod:`.container`; :meth:`Cgroups.paths` says where it will be before it is made).

**Joining is race-free**: the child writes its own pid into ``cgroup.procs`` of each of its
cgroups (:attr:`InstanceCgroup.procs_files`) before it execs the user's program
(``runtime.spawn``'s shell step). So the program never runs, allocates or forks outside its
limits; attaching from the parent after the spawn would leave a window in which the program
could already have forked children that stay outside. A child that cannot join says so on
its stderr (the instance log) and exits with :data:`JOIN_FAILED_EXIT_CODE`.

**Joining is fast**: the kernel moves a process between cgroups under its threadgroup rwsem, a
per-cpu rwsem whose writer waits for an RCU grace period, 6-10 ms on this machine (the first
hierarchy's ``cgroup.procs`` write; the next ones take 0.1 ms), on the cold start's path.
:func:`favor_dynmods` mounts an empty named v1 hierarchy with the kernel's ``favordynmods`` option
(Linux 6.0+), which keeps that rwsem in the mode whose writers need no grace period (since 6.18:
``cgroup.procs`` writes take a rwsem of the moved process's own thread group; a one-way switch
until reboot), at the price the kernel documents: forks and exits a little dearer. It is a machine
setting, like a sysctl: the mount stays when ``up`` exits (a hierarchy unmounted would turn it off
again before 6.18), and ``ZEROSERVE_CGROUP_FAVORDYNMODS=off`` leaves the machine as it is.

A cgroup is removed (``rmdir``) once no process is left in it; :meth:`InstanceCgroup.remove`
returns False while some still are, and the runtime retries. :func:`parse_quantity`,
:func:`cpu_millis`, :func:`memory_bytes` and :func:`cfs_quota` are pure.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import logging
import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

logger = logging.getLogger(__name__)

DEFAULT_ROOT = Path("/sys/fs/cgroup")
PARENT = "zeroserve"
"""Our cgroups live in ``<hierarchy>/zeroserve/<instance-id>``, siblings of everyone else's."""

CFS_PERIOD_US = 100_000
MIN_CFS_QUOTA_US = 1_000
"""Kubelet's CFS period (100 ms) and smallest quota (1 ms)."""
MIN_SHARES = 2

JOIN_FAILED_EXIT_CODE = 126

V1_HIERARCHIES = ("memory", "cpu", "cpuacct", "pids")
V1_REQUIRED = ("memory", "cpu")
V2_CONTROLLERS = ("memory", "cpu", "pids")
V2_REQUIRED = ("memory", "cpu")

FAVOR_MOUNT = Path("/run/zeroserve/cgroup-favordynmods")
"""Where :func:`favor_dynmods` mounts its hierarchy (``name=zeroserve-favordynmods``)."""
FAVOR_VARIABLE = "ZEROSERVE_CGROUP_FAVORDYNMODS"
"""``on`` (the default) or ``off``."""
FAVOR_NAME = "zeroserve-favordynmods"
MOUNTINFO = Path("/proc/self/mountinfo")


# -- quantities (pure) ------------------------------------------------------------------------


class QuantityError(ValueError):
    """Not a Kubernetes quantity (``500m``, ``0.5``, ``64Mi``, ``1G``, ``129e6``...)."""


_QUANTITY = re.compile(r"^([+-]?)(\d+\.?\d*|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+|m|k|M|G|T|P|E|)$")
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


def parse_quantity(text: str) -> Fraction:
    """The exact value of a Kubernetes quantity string (``"1.5Gi"`` -> 1610612736)."""
    match = _QUANTITY.match(text.strip())
    if match is None:
        raise QuantityError(f"invalid quantity {text!r}: want a number with an optional suffix like 500m, 64Mi, 1G")
    sign, number, suffix = match.groups()
    value = Fraction(number)
    if suffix in _BINARY:
        value *= 1024 ** _BINARY[suffix]
    elif suffix in _DECIMAL:
        value *= Fraction(10) ** _DECIMAL[suffix]
    else:
        value *= Fraction(10) ** int(suffix[1:])
    return -value if sign == "-" else value


def _non_negative(text: str, what: str) -> Fraction:
    value = parse_quantity(text)
    if value < 0:
        raise QuantityError(f"{what} limit {text!r} is negative")
    return value


def cpu_millis(text: str) -> int:
    """CPU cores as millicores, rounded up like Kubernetes (``"0.5"`` and ``"500m"`` -> 500)."""
    return math.ceil(_non_negative(text, "cpu") * 1000)


def memory_bytes(text: str) -> int:
    """A memory quantity in bytes, rounded up (``"64Mi"`` -> 67108864, ``"129e6"`` -> 129000000)."""
    return math.ceil(_non_negative(text, "memory"))


def cpu_shares(millis: int) -> int:
    """kubelet's ``MilliCPUToShares``: 1024 shares per core, at least 2 (pure)."""
    return max(millis * 1024 // 1000, MIN_SHARES)


def cpu_weight(millis: int) -> int:
    """The v2 ``cpu.weight`` of those shares (runc's ``ConvertCPUSharesToCgroupV2Value``) (pure)."""
    return 1 + ((cpu_shares(millis) - 2) * 9999) // 262142


def cfs_quota(millis: int, period_us: int = CFS_PERIOD_US) -> int:
    """The CFS quota (µs per period) for ``millis`` millicores, at least 1 ms (kubelet's rule)."""
    return max(millis * period_us // 1000, MIN_CFS_QUOTA_US)


@dataclass(frozen=True)
class Limits:
    """What one instance may use; None (or 0, as in Kubernetes) means unlimited."""

    cpu_millis: int | None = None
    memory_bytes: int | None = None
    pids: int | None = None
    cpu_request_millis: int | None = None
    """``resources.requests.cpu``: the cgroup's CPU weight (kubelet's shares: 1024 per core)."""
    memory_request_bytes: int | None = None
    """``resources.requests.memory``: the memory the cgroup is protected for (v2 ``memory.low``,
    v1 ``memory.soft_limit_in_bytes``)."""

    @property
    def empty(self) -> bool:
        return not self.cpu_millis and not self.memory_bytes and not self.pids and not self.requested

    @property
    def requested(self) -> bool:
        return bool(self.cpu_request_millis or self.memory_request_bytes)

    @property
    def shares_millis(self) -> int:
        """The millicores the CPU weight comes from: the request, else the limit, else 0 (kubelet's rule)."""
        return self.cpu_request_millis or self.cpu_millis or 0


def limits_of(cpu: str | None, memory: str | None, *, pids: int | None = None) -> Limits:
    """Parse a container's ``resources.limits`` (raises :class:`QuantityError`)."""
    return Limits(
        cpu_millis=cpu_millis(cpu) if cpu else None,
        memory_bytes=memory_bytes(memory) if memory else None,
        pids=pids,
    )


# -- usage ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Usage:
    """What an instance's cgroup used; None where the machine does not account it."""

    memory_bytes: int | None
    cpu_seconds: float | None
    """Total CPU time since the cgroup was created (for rates: difference of two readings)."""
    pids: int | None
    oom_kills: int


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _read_keyed(path: Path, key: str) -> int | None:
    """The value of ``key`` in a ``key value`` per line file (``memory.events``, ``cpu.stat``)."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        name, _, value = line.partition(" ")
        if name == key:
            try:
                return int(value)
            except ValueError:
                return None
    return None


# -- instance cgroups ---------------------------------------------------------------------------


Version = Literal["v1", "v2"]


class InstanceCgroup:
    """The cgroup(s) of one instance: one directory (v2) or one per v1 hierarchy."""

    def __init__(self, version: Version, dirs: dict[str, Path]) -> None:
        self.version = version
        self.dirs = dirs
        """Controller (``memory``, ``cpu``, ``cpuacct``, ``pids``, or ``unified``) -> directory."""
        self.procs_files = tuple(os.fsencode(path / "cgroup.procs") for path in dict.fromkeys(dirs.values()))
        """The ``cgroup.procs`` file of each directory: a process joins by writing its pid there."""

    def __repr__(self) -> str:
        return f"InstanceCgroup({self.version}, {sorted({str(path) for path in self.dirs.values()})})"

    def pids(self) -> list[int]:
        """The processes in the instance's cgroup (any hierarchy holds them all)."""
        path = next(iter(self.dirs.values())) / "cgroup.procs"
        try:
            return [int(line) for line in path.read_text().split()]
        except (OSError, ValueError):
            return []

    def usage(self) -> Usage:
        if self.version == "v2":
            path = self.dirs["unified"]
            usec = _read_keyed(path / "cpu.stat", "usage_usec")
            return Usage(
                memory_bytes=_read_int(path / "memory.current"),
                cpu_seconds=usec / 1e6 if usec is not None else None,
                pids=_read_int(path / "pids.current"),
                oom_kills=_read_keyed(path / "memory.events", "oom_kill") or 0,
            )
        memory, cpuacct, pids = self.dirs.get("memory"), self.dirs.get("cpuacct"), self.dirs.get("pids")
        nanos = _read_int(cpuacct / "cpuacct.usage") if cpuacct is not None else None
        return Usage(
            memory_bytes=_read_int(memory / "memory.usage_in_bytes") if memory is not None else None,
            cpu_seconds=nanos / 1e9 if nanos is not None else None,
            pids=_read_int(pids / "pids.current") if pids is not None else None,
            oom_kills=(_read_keyed(memory / "memory.oom_control", "oom_kill") or 0) if memory is not None else 0,
        )

    def remove(self) -> bool:
        """``rmdir`` every directory; False while a process is still inside (try again later)."""
        for controller, path in list(self.dirs.items()):
            try:
                path.rmdir()
            except FileNotFoundError:
                pass
            except OSError as err:
                if err.errno == errno.EBUSY:
                    return False
                logger.warning("cannot remove cgroup %s: %s", path, err)
            del self.dirs[controller]
        return True


# -- the probed machine ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Cgroups:
    """What :func:`probe` found: where our parent cgroups are, or why limits are not enforced."""

    root: Path
    version: Version | None
    parents: tuple[tuple[str, Path], ...] = ()
    """Controller -> our ``zeroserve`` parent directory (v2: one entry, ``unified``)."""
    reason: str = ""
    """Why limits cannot be enforced (empty when ``version`` is set)."""

    @property
    def available(self) -> bool:
        return self.version is not None

    @property
    def controllers(self) -> frozenset[str]:
        if self.version == "v2":
            return frozenset(V2_REQUIRED)
        return frozenset(name for name, _ in self.parents)

    def create(self, name: str, limits: Limits) -> InstanceCgroup:
        """Make ``zeroserve/<name>`` with ``limits`` written (raises OSError; a half-made one is removed)."""
        if self.version is None:
            raise OSError(errno.ENOTSUP, f"cgroups unavailable: {self.reason}")
        dirs: dict[str, Path] = {}
        try:
            for controller, path in self.paths(name).items():
                path.mkdir(exist_ok=True)
                dirs[controller] = path
                for file, value in _limit_files(self.version, controller, limits):
                    (path / file).write_text(value)
        except OSError:
            InstanceCgroup(self.version, dirs).remove()
            raise
        cgroup = InstanceCgroup(self.version, dirs)
        return cgroup

    def paths(self, name: str) -> dict[str, Path]:
        """Where :meth:`create` makes ``zeroserve/<name>``: controller (``unified`` for v2) -> directory."""
        return {controller: parent / name for controller, parent in self.parents}

    def existing(self, name: str) -> InstanceCgroup | None:
        """The cgroup ``zeroserve/<name>`` left by an earlier run, if any (to remove it)."""
        if self.version is None:
            return None
        dirs = {controller: parent / name for controller, parent in self.parents if (parent / name).is_dir()}
        return InstanceCgroup(self.version, dirs) if dirs else None


def _limit_files(version: Version, controller: str, limits: Limits) -> Iterable[tuple[str, str]]:
    if version == "v2":
        if limits.memory_bytes:
            yield "memory.max", str(limits.memory_bytes)
        if limits.cpu_millis:
            yield "cpu.max", f"{cfs_quota(limits.cpu_millis)} {CFS_PERIOD_US}"
        if limits.pids:
            yield "pids.max", str(limits.pids)
        yield "cpu.weight", str(cpu_weight(limits.shares_millis))
        if limits.memory_request_bytes:
            yield "memory.low", str(limits.memory_request_bytes)
    elif controller == "memory":
        if limits.memory_bytes:
            yield "memory.limit_in_bytes", str(limits.memory_bytes)
        if limits.memory_request_bytes:
            yield "memory.soft_limit_in_bytes", str(limits.memory_request_bytes)
    elif controller == "cpu":
        if limits.cpu_millis:
            yield "cpu.cfs_period_us", str(CFS_PERIOD_US)
            yield "cpu.cfs_quota_us", str(cfs_quota(limits.cpu_millis))
        yield "cpu.shares", str(cpu_shares(limits.shares_millis))
    elif controller == "pids" and limits.pids:
        yield "pids.max", str(limits.pids)


def probe(root: Path = DEFAULT_ROOT) -> Cgroups:
    """Find usable cgroups under ``root``: v2 first, then v1 (creates the ``zeroserve`` parents)."""
    v2 = _probe_v2(root)
    if isinstance(v2, Cgroups):
        return v2
    v1 = _probe_v1(root)
    if isinstance(v1, Cgroups):
        return v1
    return Cgroups(root, None, reason=f"{v2}; {v1}")


def _probe_v2(root: Path) -> Cgroups | str:
    mount = next((path for path in (root, root / "unified") if (path / "cgroup.controllers").is_file()), None)
    if mount is None:
        return f"no cgroup v2 under {root}"
    try:
        available = set((mount / "cgroup.controllers").read_text().split())
    except OSError as err:
        return f"cgroup v2 at {mount} unreadable: {err.strerror}"
    missing = [name for name in V2_REQUIRED if name not in available]
    if missing:
        has = ", ".join(sorted(available)) or "none"
        return f"cgroup v2 at {mount} lacks the {' and '.join(missing)} controllers (has: {has})"
    enable = " ".join(f"+{name}" for name in V2_CONTROLLERS if name in available)
    parent = mount / PARENT
    try:
        _enable(mount, enable)
        parent.mkdir(exist_ok=True)
        _enable(parent, enable)
    except OSError as err:
        return f"cannot enable cgroup v2 controllers under {mount}: {err.strerror or err}"
    return Cgroups(root, "v2", (("unified", parent),))


def _enable(path: Path, controllers: str) -> None:
    enabled = set((path / "cgroup.subtree_control").read_text().split())
    if any(name[1:] not in enabled for name in controllers.split()):
        (path / "cgroup.subtree_control").write_text(controllers)


def _probe_v1(root: Path) -> Cgroups | str:
    parents: list[tuple[str, Path]] = []
    problems: list[str] = []
    for controller in V1_HIERARCHIES:
        hierarchy = root / controller
        if not (hierarchy / "cgroup.procs").is_file():
            problems.append(f"no {controller} hierarchy")
            continue
        try:
            (hierarchy / PARENT).mkdir(exist_ok=True)
        except OSError as err:
            problems.append(f"cannot create {hierarchy / PARENT}: {err.strerror or err}")
            continue
        if not os.access(hierarchy / PARENT, os.W_OK | os.X_OK):  # made by root before us, say
            problems.append(f"cannot create cgroups in {hierarchy / PARENT}: Permission denied")
            continue
        parents.append((controller, hierarchy / PARENT))
    have = {name for name, _ in parents}
    if not all(name in have for name in V1_REQUIRED):
        required = [problem for problem in problems if any(name in problem for name in V1_REQUIRED)]
        return f"no usable cgroup v1 under {root} ({'; '.join(required)})"
    if problems:
        logger.info("cgroup v1 under %s: %s", root, "; ".join(problems))
    return Cgroups(root, "v1", tuple(parents))


def favoring(mountinfo: str) -> bool:
    """Whether a cgroup hierarchy in ``mountinfo`` (``/proc/self/mountinfo``'s text) is mounted with
    ``favordynmods`` (pure)."""
    for line in mountinfo.splitlines():
        fields = line.partition(" - ")[2].split()  # filesystem type, source, super options
        if len(fields) >= 3 and fields[0] in ("cgroup", "cgroup2") and "favordynmods" in fields[2].split(","):
            return True
    return False


def favor_dynmods(target: Path = FAVOR_MOUNT, mountinfo: Path = MOUNTINFO) -> str | None:
    """Keep cgroup moves off the RCU grace period (see the module docstring): mount an empty named v1
    hierarchy with ``favordynmods`` at ``target`` unless some cgroup mount already favours dynamic
    changes. None when one does (now or already); else why not (not root, an older kernel, v1 off)."""
    try:
        if favoring(mountinfo.read_text()):
            return None
        target.mkdir(parents=True, exist_ok=True)
        with open(target.parent / f"{target.name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # two starting `up`s mount it once
            if favoring(mountinfo.read_text()):
                return None
            options = f"none,name={FAVOR_NAME},favordynmods".encode()
            if _libc.mount(b"cgroup", os.fsencode(target), b"cgroup", 0, options) != 0:
                code = ctypes.get_errno()
                return f"mount -t cgroup -o {options.decode()} cgroup {target}: {os.strerror(code)}"
    except OSError as err:
        return f"{err.filename or target}: {err.strerror or err}"
    return None


_libc = ctypes.CDLL(None, use_errno=True)


def unenforced(cgroups: Cgroups, limits: Limits) -> str | None:
    """Why some of ``limits`` would not be enforced with ``cgroups``, or None (pure)."""
    if limits.empty:
        return None
    if not cgroups.available:
        return cgroups.reason
    wanted = [name for name, value in (("cpu", limits.cpu_millis), ("memory", limits.memory_bytes)) if value]
    missing = [name for name in wanted if name not in cgroups.controllers]
    return f"no {' or '.join(missing)} cgroup" if missing else None
