"""Isolation: instances run as unprivileged users, in a sandbox, away from the platform's secrets.

Kubernetes runs a container as its image's user, in namespaces of its own. ``zeroserve up`` runs as
root and starts instances as local processes, so without care an app could read ``DATA/token`` and
the SQLite file, read ``/proc/<up>/environ``, and drive the API. This module decides who an instance
runs as and what it sees; :mod:`.spawn` carries it out in the child (a :class:`Jail`).

**Who** (:meth:`Isolation.user_for`). ``securityContext.runAsUser`` / ``runAsGroup`` (the
container's over the pod's) win when set; ``runAsGroup`` defaults to the uid's number. Otherwise
the :class:`Policy` (``ZEROSERVE_INSTANCE_USERS``) chooses:

* ``revision`` (the default): a uid of its own per revision, ``UID_BASE`` (0x70000000, above the
  subuid ranges useradd hands out and systemd's container ranges) plus a hash of
  ``namespace/revision`` (linear probing on a collision), gid = uid, no supplementary groups.
  Instances of different revisions cannot signal, ptrace, or read the ``/proc`` entries or files
  of each other, even without the sandbox. ``nobody`` (65534 for every revision) would let them;
* ``nobody``: uid and gid 65534 for every instance;
* ``inherit``: zeroserve up's own uid (an app that must read a private home directory).

Every instance runs with ``no_new_privs`` and an empty capability bounding set, root included.
``runAsNonRoot: true`` with uid 0 is refused before anything is spawned, as kubelet refuses it
(``CreateContainerConfigError``). Without root (or without util-linux's ``setpriv``) no user can be
switched to: instances run as zeroserve up's user; the log says so once and every Revision's
condition message says so (:attr:`Isolation.warnings`).

**What it sees** (where bubblewrap runs; a trial sandbox is started once by :func:`probe`):
the host's root read-only, a PID namespace of its own (``/proc`` shows the instance only: no
``/proc/<up>``, no other instance to signal), an IPC namespace, a private ``/tmp`` and
``/var/tmp``, a minimal ``/dev``, and an empty directory over the data dir (token, database, logs).
The network is shared: apps listen on 127.0.0.1:$PORT, as the containers of one pod network do.
Without bubblewrap the user switch alone keeps the data dir (0700) and other users'
``/proc/<pid>/environ`` out of reach; ``/proc/<pid>/cmdline`` of every process stays readable
(the warning says so).

**The app's files.** An instance runs in its ``workingDir`` (else the directory ``up`` runs in) as
its own user, and reads its script and interpreter from the host's read-only root: those must be
readable by others, as a repository checkout's files are (0644/0755). The working directory is the
app's: where a directory above it is closed to the app's user (a 0700 ``/root`` or home, the private
``/tmp``), the sandbox puts an empty directory there and binds the working directory back in, so the
README tour runs from a checkout anywhere; nothing else of that closed directory is visible, and the
data dir stays hidden even inside the working directory. The command is resolved as the app's user
would resolve it (a ``PATH`` entry it cannot reach, such as pyenv's shims under ``/root``, is
skipped; a program it may not run is a ``PermissionError`` at once). Copying the app's files, or
making them readable by its uid alone, was not chosen: the checkout belongs to whoever runs ``up``,
and every revision of one checkout reads the same files. Files the platform hands an app (Secret,
ConfigMap, projected volumes and emptyDirs, :mod:`.volumes`) are owned by its uid in a directory only
it may enter, and bound into its sandbox at their ``mountPath`` by the (root) bubblewrap: readable by
its uid and by no other instance's.

**Mount points** (:func:`shadows_for`). The host's root is bound read-only, so a ``mountPath`` that
is not there (``/etc/config``, ``/app/secrets``) cannot be made in it: the deepest directory above it
that exists becomes a tmpfs holding the host's directory (read-only, at ``..host``) and a symlink to
each of its entries (a symlink of the host as it was), and for ``/`` itself the root is bound entry
by entry instead of at once; bubblewrap then makes the mount point in the tmpfs. Nothing of the
host is written, and the app sees the same files (read-only) there.

**The chain** (bubblewrap's namespace setup costs ~4 ms, MEASURED.md section 3): the shell step
(cgroups) -> ``bwrap`` (its options and the app's environment come in a file, ``--args FD``: the
sandbox's pid 1 shows no paths in its cmdline, and no environment) -> ``env
--default-signal=TERM`` -> ``setpriv --reuid --regid --clear-groups --no-new-privs
--bounding-set=-all`` -> the app. bwrap stays outside the sandbox as
the app's monitor and exits with its status (128 + N when a signal N killed it). The runtime sends
SIGTERM to the whole process group; a monitor that died of it would take the app down at once, so
the shell ignores SIGTERM before it execs bwrap and ``env`` restores the default for the app. A
SIGTERM sent before that would be lost (the stop would wait its whole grace): an instance stopped
while no process of its sandbox hears SIGTERM yet gets SIGKILL (``supervisor.sandbox_hears``).
``--die-with-parent`` kills the monitor and the sandbox's init when zeroserve up dies, and the kernel
then kills every process of the PID namespace (a daemonised grandchild too). The sandbox's init
outlives its monitor for a moment: an orphan of the runtime's, reaped with the instance's group.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import stat
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from zeroserve.runtime.base import Failure

logger = logging.getLogger(__name__)

NOBODY = 65534
UID_BASE = 0x7000_0000
UID_SLOTS = 1 << 24
"""Per-revision uids: 1879048192 to 1895825407 (below 2^31 - 1, the largest runAsUser)."""

Scheme = Literal["revision", "nobody", "inherit"]
SCHEMES: tuple[Scheme, ...] = ("revision", "nobody", "inherit")
USERS_VARIABLE = "ZEROSERVE_INSTANCE_USERS"
SANDBOX_VARIABLE = "ZEROSERVE_SANDBOX"
"""``bwrap`` (the default: bubblewrap where it runs) or ``none``."""

CREATE_CONFIG_ERROR = "CreateContainerConfigError"
"""kubelet's reason for a container it refuses to create (runAsNonRoot, an invalid env...)."""

PRIVATE_TMP = ("/tmp", "/var/tmp")
SANDBOX_FLAGS = ("--die-with-parent", "--unshare-pid", "--unshare-ipc")
TRIAL_TIMEOUT = 10.0
DROP_FLAGS = ("--clear-groups", "--no-new-privs", "--bounding-set=-all", "--inh-caps=-all")


@dataclass(frozen=True)
class User:
    uid: int
    gid: int

    def __str__(self) -> str:
        return f"uid {self.uid}" if self.gid == self.uid else f"uid {self.uid} (gid {self.gid})"


@dataclass(frozen=True)
class Policy:
    """What ``zeroserve up`` asks for; :class:`Machine` says what this machine allows of it."""

    users: Scheme = "revision"
    sandbox: bool = True
    uid_base: int = UID_BASE

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Policy:
        """``ZEROSERVE_INSTANCE_USERS`` (revision | nobody | inherit) and ``ZEROSERVE_SANDBOX`` (bwrap |
        none); an unknown value is logged and the stricter default kept."""
        users = environ.get(USERS_VARIABLE, "revision")
        sandbox = environ.get(SANDBOX_VARIABLE, "bwrap")
        scheme: Scheme = "revision"
        for known in SCHEMES:
            if users == known:
                scheme = known
        if scheme != users:
            logger.warning("%s=%r is not one of %s: using revision", USERS_VARIABLE, users, ", ".join(SCHEMES))
        if sandbox not in ("bwrap", "none"):
            logger.warning("%s=%r is not bwrap or none: using bwrap", SANDBOX_VARIABLE, sandbox)
        return cls(scheme, sandbox != "none")


@dataclass(frozen=True)
class Machine:
    """What :func:`probe` found: our own user, the tools, and why there is no sandbox (if not)."""

    own: User
    setpriv: str | None
    bwrap: str | None = None
    """bubblewrap's path when a trial sandbox ran here, else None (``no_sandbox`` says why)."""
    env: str = "env"
    no_sandbox: str = ""

    @property
    def can_switch_users(self) -> bool:
        return self.own.uid == 0 and self.setpriv is not None


def probe(policy: Policy) -> Machine:
    """Our user, ``setpriv``, and bubblewrap if a trial sandbox with the runtime's flags runs here."""
    own = User(os.geteuid(), os.getegid())
    setpriv, env = shutil.which("setpriv"), shutil.which("env") or "env"
    if not policy.sandbox:
        return Machine(own, setpriv, None, env, f"the sandbox is off ({SANDBOX_VARIABLE}=none)")
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return Machine(own, setpriv, None, env, "bubblewrap (bwrap) is not installed")
    # --as-pid-1: no init of bwrap's in the trial, which would outlive its monitor as an orphan of ours
    trial = [bwrap, "--as-pid-1", *sandbox_options((), "/"), "--", env, "--default-signal=TERM", "true"]
    try:
        done = subprocess.run(trial, stdin=subprocess.DEVNULL, capture_output=True, timeout=TRIAL_TIMEOUT)
    except (OSError, subprocess.SubprocessError) as err:
        return Machine(own, setpriv, None, env, f"bwrap does not run here: {err}")
    if done.returncode != 0:
        lines = done.stderr.decode(errors="replace").strip().splitlines() or [f"exit code {done.returncode}"]
        return Machine(own, setpriv, None, env, f"bwrap does not run here: {lines[-1]}")
    return Machine(own, setpriv, bwrap, env)


@dataclass(frozen=True)
class Bind:
    """A host path bound into a sandbox at ``target`` (a volume at its ``mountPath``)."""

    source: str
    target: str
    read_only: bool = True
    file: bool = False
    """The source is a file (a ``subPath`` to one): its mount point is a file."""


@dataclass(frozen=True)
class Shadow:
    """A directory the sandbox replaces with a tmpfs holding its host ``entries`` again (name, and the
    target of a symlink or None), so that mount points can be made in it."""

    path: str
    entries: tuple[tuple[str, str | None], ...]


def bind_options(binds: Iterable[Bind]) -> list[str]:
    """bubblewrap's options for ``binds`` (pure): the directories above each target made 0755 where
    they are missing (bubblewrap would make them 0700, closed to the app), then the bind."""
    options: list[str] = []
    for b in binds:
        parents = []
        head = os.path.dirname(b.target)
        while head not in ("/", ""):
            parents.append(head)
            head = os.path.dirname(head)
        for parent in reversed(parents):
            options += ["--perms", "0755", "--dir", parent]
        options += ["--ro-bind" if b.read_only else "--bind", b.source, b.target]
    return options


HOST_VIEW = "..host"
"""Inside a shadowed directory, the host's directory itself (read-only), which its entries link to."""


def shadow_options(shadows: Iterable[Shadow], skip: Iterable[str] = ("proc", "dev")) -> list[str]:
    """Options that rebuild each shadowed directory on a tmpfs, parents first (pure): the host's
    directory bound read-only at ``..host`` inside it and each entry a symlink to ``..host/NAME`` (a
    symlink costs no mount: 150 binds for ``/etc`` cost ~19 ms a start, these ~1 ms); a symlink of the
    host stays itself, an entry holding a deeper shadow is a directory. ``/`` binds its entries instead
    (:func:`sandbox_options` binds them in place of ``/``)."""
    ordered = sorted(shadows, key=lambda s: s.path.rstrip("/").count("/"))
    paths = [s.path for s in ordered]
    options: list[str] = []
    for shadow in ordered:
        top = shadow.path == "/"
        if not top:
            host = os.path.join(shadow.path, HOST_VIEW)
            options += ["--perms", "0755", "--tmpfs", shadow.path, "--ro-bind", shadow.path, host]
        for name, link in shadow.entries:
            path = os.path.join(shadow.path, name)
            if (top and name in skip) or name == HOST_VIEW:
                continue
            if link is not None:
                options += ["--symlink", link, path]
            elif any(within(deeper, [path]) for deeper in paths):
                options += ["--perms", "0755", "--dir", path]
            elif top:
                options += ["--ro-bind", path, path]
            else:
                options += ["--symlink", f"{HOST_VIEW}/{name}", path]
    return options


def shadows_for(targets: Iterable[str], writable: Iterable[str] = ()) -> list[Shadow]:
    """The directories to shadow so that every one of ``targets`` can be made (see the module
    docstring): for each target missing on the host, the deepest directory above it that exists,
    unless it is inside one the sandbox makes writable anyway (``writable``: its private tmpfs)."""
    roots = list(writable)
    found: dict[str, Shadow] = {}
    for target in targets:
        if os.path.lexists(target):
            continue
        above = os.path.dirname(target)
        while not os.path.isdir(above) and above != "/":
            above = os.path.dirname(above)
        if above in found or within(above, roots):
            continue
        entries = []
        try:
            for entry in sorted(os.scandir(above), key=lambda e: e.name):
                entries.append((entry.name, os.readlink(entry.path) if entry.is_symlink() else None))
        except OSError:
            continue
        found[above] = Shadow(above, tuple(entries))
    return list(found.values())


@dataclass(frozen=True)
class Jail:
    """How :mod:`.spawn` starts an app confined: ``exec program [--args FD] *rest app...``."""

    program: str
    rest: tuple[str, ...]
    user: User
    """Who the app runs as (the command is resolved as this user would)."""
    options: tuple[str, ...] = ()
    """Options handed to ``program`` in a file (bubblewrap's ``--args FD``), never on a command line."""
    monitored: bool = False
    """``program`` stays as the app's monitor: it must outlive a SIGTERM to the group (see the module)."""
    visible: tuple[str, ...] = ()
    """Directories bound into the sandbox under parents of its own, which the app's user may search."""
    replaced: tuple[str, ...] = ()
    """Directories the sandbox replaces with empty ones (its private /tmp, a veiled parent): nothing
    below them is there for the app but what :attr:`visible` binds back."""
    hidden: tuple[str, ...] = ()
    """Directories emptied everywhere, inside :attr:`visible` ones too (zeroserve's data dir)."""
    prefix: tuple[str, ...] = ()
    """A command line that execs ``program`` (a container's ``setpriv``, which makes bwrap the app's user)."""
    container: bool = False
    """The app comes from an image's root filesystem (:mod:`.container`): its command is found inside
    the sandbox, and SIGTERM is sent to the app itself, never ignored on the way (no ``env`` there)."""
    fds: tuple[int, ...] = ()
    """Descriptors the sandbox is handed (the image's root filesystem, ``--ro-bind-fd``)."""

    def shows(self, path: str) -> bool:
        """Whether the absolute ``path`` of the host is there, the same file, inside the sandbox (pure)."""
        if within(path, self.hidden):
            return False
        return not within(path, self.replaced) or within(path, self.visible)

    def options_with(self, env: Mapping[str, str]) -> tuple[str, ...]:
        """:attr:`options`, and for bubblewrap the app's environment as options too (pure): bwrap itself
        then starts with an empty one, so its monitor and init (root) do not carry the app's env."""
        if not self.monitored:
            return self.options
        return (*self.options, "--clearenv", *(item for pair in env.items() for item in ("--setenv", *pair)))


def sandbox_options(
    hidden: Iterable[str],
    cwd: str,
    private_tmp: Iterable[str] = PRIVATE_TMP,
    veiled: str | None = None,
    *,
    binds: Sequence[Bind] = (),
    shadows: Sequence[Shadow] = (),
) -> list[str]:
    """bubblewrap's options for an instance running in ``cwd`` (pure): see the module docstring.

    ``veiled``: a directory above ``cwd`` the app's user may not search (a 0700 home): it becomes an
    empty one too. A working directory under a private or veiled directory is bound back (as it
    was, read-write); every ``hidden`` directory becomes an empty one, also inside that working
    directory. ``binds`` (volumes) come last, their mount points made in the ``shadows``."""
    private = list(private_tmp)
    whole_root = not any(shadow.path == "/" for shadow in shadows)
    options = [*SANDBOX_FLAGS, *(("--ro-bind", "/", "/") if whole_root else ()), *shadow_options(shadows)]
    options += ["--proc", "/proc", "--dev", "/dev"]
    for path in private:
        options += ["--perms", "1777", "--tmpfs", path]
    if veiled is not None and not within(veiled, private):
        options += ["--perms", "0755", "--tmpfs", veiled]
        private.append(veiled)
    bound = [cwd] if within(cwd, private) and cwd not in private else []
    for path in bound:
        # the directories between the private one and the working directory are made here, 0755:
        # bubblewrap would make them with up's umask (077), and the app could not reach its own
        # directory by its absolute path (Python's import of the working directory needs that)
        options += [item for parent in _between(private, path) for item in ("--perms", "0755", "--dir", parent)]
        options += ["--bind", path, path]
    for path in hidden:
        if not within(path, private) or within(path, bound):
            options += ["--perms", "0700", "--tmpfs", path]
    return options + bind_options(binds)


def _between(roots: Iterable[str], path: str) -> list[str]:
    """The directories strictly between the deepest of ``roots`` holding ``path`` and ``path``, top first."""
    root = max((r for r in roots if within(path, [r])), key=len).rstrip("/")
    parts = path[len(root) :].strip("/").split("/")[:-1]
    return [root + "/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def within(path: str, roots: Iterable[str]) -> bool:
    """Whether ``path`` is one of ``roots`` or below one (pure, on normalised absolute paths)."""
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


def drop_options(user: User) -> tuple[str, ...]:
    """setpriv's options that make the app ``user`` with no groups, capabilities or privilege gains."""
    return ("--reuid", str(user.uid), "--regid", str(user.gid), *DROP_FLAGS)


class Isolation:
    """The users handed out to revisions and the jails of their instances on one machine."""

    def __init__(self, policy: Policy, machine: Machine, hidden: Sequence[Path] = ()) -> None:
        self.policy = policy
        self.machine = machine
        self.hidden = tuple(os.path.realpath(path) for path in hidden)
        self.private_tmp = tuple(path for path in PRIVATE_TMP if os.path.isdir(path))
        self._uids: dict[str, int] = {}
        self.warnings = self._machine_warnings()
        """Why instances are less isolated than asked, for every Revision's condition (empty: as asked)."""

    @classmethod
    def probe(cls, policy: Policy, hidden: Sequence[Path] = ()) -> Isolation:
        isolation = cls(policy, probe(policy), hidden)
        for warning in isolation.warnings:
            logger.warning("%s", warning)
        if not isolation.warnings:
            sandbox = "in a bubblewrap sandbox" if isolation.sandboxed else "without a sandbox"
            logger.info("instances run as %s users, %s", policy.users, sandbox)
        return isolation

    @property
    def sandboxed(self) -> bool:
        return self.machine.bwrap is not None

    def _machine_warnings(self) -> tuple[str, ...]:
        own, warnings = self.machine.own, []
        if not self.machine.can_switch_users:
            why = "it is not root" if own.uid != 0 else "util-linux's setpriv is not installed"
            warnings.append(f"instances run as zeroserve up's own user ({own}), not as users of their own: {why}.")
        elif self.policy.users == "inherit" and own.uid == 0:
            warnings.append(f"instances run as root, without capabilities ({USERS_VARIABLE}=inherit).")
        if not self.sandboxed:
            warnings.append(f"instances share zeroserve up's PID and mount namespaces: {self.machine.no_sandbox}.")
        return tuple(warnings)

    def user_for(
        self, key: str, run_as_user: int | None, run_as_group: int | None, run_as_non_root: bool | None
    ) -> User | Failure:
        """Who instances of the workload ``key`` run as, or why none may run (``runAsNonRoot``)."""
        own = self.machine.own
        if not self.machine.can_switch_users:
            user = own
        elif run_as_user is not None:
            user = User(run_as_user, run_as_group if run_as_group is not None else run_as_user)
        else:
            uid = self._default_uid(key)
            user = User(uid, run_as_group if run_as_group is not None else (own.gid if uid == own.uid else uid))
        if run_as_non_root and user.uid == 0:
            if run_as_user == 0:
                message = "container's runAsUser breaks non-root policy (runAsNonRoot is true, runAsUser is 0)"
            else:
                why = " ".join(self.warnings) or f"{USERS_VARIABLE}={self.policy.users}"
                message = f"container has runAsNonRoot and would run as root: {why}"
            return Failure(CREATE_CONFIG_ERROR, message, permanent=True)
        return user

    def notes(self, run_as_user: int | None, run_as_group: int | None) -> tuple[str, ...]:
        """What of a workload's ``securityContext`` cannot be honoured here (for its condition)."""
        if self.machine.can_switch_users:
            return ()
        own = self.machine.own
        unmet = [f"{name} {value}" for name, value, have in (("runAsUser", run_as_user, own.uid),
                 ("runAsGroup", run_as_group, own.gid)) if value is not None and value != have]  # fmt: skip
        return (f"securityContext {' and '.join(unmet)} not honoured.",) if unmet else ()

    def release(self, key: str) -> None:
        """The workload ``key`` is gone: its uid may go to another revision."""
        self._uids.pop(key, None)

    def _default_uid(self, key: str) -> int:
        if self.policy.users == "nobody":
            return NOBODY
        if self.policy.users == "inherit":
            return self.machine.own.uid
        if key in self._uids:
            return self._uids[key]
        taken = set(self._uids.values())
        digest = hashlib.blake2b(key.encode(errors="surrogatepass"), digest_size=8).digest()
        slot = int.from_bytes(digest, "big") % UID_SLOTS
        while self.policy.uid_base + slot in taken:
            slot = (slot + 1) % UID_SLOTS
        self._uids[key] = uid = self.policy.uid_base + slot
        return uid

    def jail(self, user: User, cwd: str, *, keep_pwd: bool = False, binds: Sequence[Bind] = ()) -> Jail | None:
        """How to start an app as ``user`` in ``cwd`` (None: as zeroserve up's user, unconfined).

        bubblewrap sets ``PWD``: unset again unless the app's environment has its own (``keep_pwd``).
        ``binds``: volumes at their mount paths (only in a sandbox: a ValueError without one)."""
        machine = self.machine
        drop = drop_options(user) if machine.can_switch_users else ()
        if binds and machine.bwrap is None:
            raise ValueError(f"volumes cannot be mounted without the sandbox: {machine.no_sandbox}")
        if machine.bwrap is not None:
            inner = (machine.setpriv, *drop, "--") if drop and machine.setpriv else ()
            cwd = os.path.realpath(cwd)
            veiled = closed_above(cwd, user) if drop else None
            writable = [*self.private_tmp, *((veiled,) if veiled is not None else ())]
            shadows = shadows_for([b.target for b in binds], writable) if binds else []
            options = tuple(sandbox_options(self.hidden, cwd, self.private_tmp, veiled, binds=binds, shadows=shadows))
            unset = () if keep_pwd else ("-u", "PWD")
            rest = ("--", machine.env, *unset, "--default-signal=TERM", *inner)
            visible = (cwd,) if veiled is not None or within(cwd, self.private_tmp) else ()
            replaced = (*self.private_tmp, *((veiled,) if veiled is not None else ()))
            return Jail(machine.bwrap, rest, user, options, True, visible, replaced, self.hidden)
        if drop and machine.setpriv is not None:
            return Jail(machine.setpriv, (*drop, "--pdeathsig", "KILL", "--"), user)
        return None


# -- what a user may do (for resolving a command as the app's user would) ----------------------


def may_execute(path: str, user: User, visible: Iterable[str] = ()) -> bool:
    """Whether ``user`` may execute the regular file ``path``: ``os.access`` for our own user, else the
    mode bits of the file and the search bit of every directory above it, up to a ``visible``
    directory holding it (:attr:`Jail.visible`). No capabilities (instances have none, root
    included), no supplementary groups."""
    if user.uid == os.geteuid() != 0 and user.gid == os.getegid():
        return os.path.isfile(path) and os.access(path, os.X_OK)
    try:
        real = os.path.realpath(path)
        info = os.stat(real)
        above = {*_reached(os.path.abspath(path), visible), *_reached(real, visible)}
        searchable = all(_grants(os.stat(directory), user, 1) for directory in above)
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and searchable and _grants(info, user, 1)


def closed_above(path: str, user: User) -> str | None:
    """The topmost directory above ``path`` that ``user`` may not search, or None."""
    for directory in reversed(_parents(path)):
        try:
            if not _grants(os.stat(directory), user, 1):
                return directory
        except OSError:
            return None
    return None


def _reached(path: str, visible: Iterable[str]) -> list[str]:
    """The directories searched on the way to ``path``: all above it, or from the visible one holding it."""
    parents = _parents(path)
    for root in visible:
        if within(path, [root]):
            return [directory for directory in parents if within(directory, [root])]
    return parents


def _parents(path: str) -> list[str]:
    parents, head = [], os.path.dirname(path)
    while True:
        parents.append(head)
        if head == os.path.dirname(head):
            return parents
        head = os.path.dirname(head)


def _grants(info: os.stat_result, user: User, bits: int) -> bool:
    """Unix permission check of one inode (pure): the owner's bits, else the group's, else others'."""
    shift = 6 if info.st_uid == user.uid else 3 if info.st_gid == user.gid else 0
    return (info.st_mode >> shift) & bits == bits
