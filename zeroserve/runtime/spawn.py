"""Starting instance processes fast: ``vfork`` + exec, never a Python ``preexec_fn``.

A child that must join cgroups and get ``PR_SET_PDEATHSIG`` before the app runs was started
with a ``preexec_fn``; that makes both asyncio's and the stdlib's spawn ``fork`` the whole
``zeroserve up`` process and run Python in the child, and the event loop waited for the exec:
about 5 ms of page-table copying, and 20-30 ms blocked while the child ran Python among
copy-on-write pages (the cold-start path measured it; bench/coldstart.py). Instead the stdlib's
``subprocess.Popen`` without ``preexec_fn`` uses ``vfork`` (0.2-0.4 ms whatever our size), and
what the child must do first is done by a two-line ``/bin/sh`` script before it execs the app:

* ``echo $$ > .../cgroup.procs`` for each of the instance's cgroups (exit 126 and say why when
  the kernel refuses), so the app and all it forks live in them from their first instruction;
* ``exec setpriv --pdeathsig KILL -- app...`` (util-linux) so the kernel kills the app when
  ``zeroserve up`` dies (the runtime's lifeline covers machines without ``setpriv``);
* or, for an isolated instance, ``exec`` its :class:`~.isolation.Jail` (bubblewrap and/or
  ``setpriv`` switching to the app's user, which also die with us): see :mod:`.isolation`.

A container instance's processes start inside its network namespace: the event loop's thread
enters it around the ``vfork`` (the child inherits the thread's namespace) and returns at once
(:meth:`zeroserve.net.netns.NetNs.entered`), so no extra ``nsenter`` exec is needed.

The executable is resolved here (the child's PATH, or relative to its working directory, as the
app's user would find it), so a missing one is a ``FileNotFoundError`` at once, one the app's user
may not run a ``PermissionError``. A :class:`Child` reports its exit through a pidfd on the event
loop (a timer poll where the kernel has no pidfd).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence

from zeroserve.net.netns import NetNs
from zeroserve.runtime import isolation
from zeroserve.runtime.cgroups import JOIN_FAILED_EXIT_CODE

SH = "/bin/sh"
SETPRIV = shutil.which("setpriv")
"""util-linux's setpriv (sets the parent-death signal, then execs); None when not installed."""
POLL_INTERVAL = 0.05
"""Exit polling where ``pidfd_open`` is missing (Linux before 5.3)."""


def resolve(program: str, env: Mapping[str, str], cwd: str | None, jail: isolation.Jail | None = None) -> str:
    """The file ``program`` names, as ``execvp`` in the child would find it (as the ``jail``'s user).

    FileNotFoundError if there is none; PermissionError if there is one the jail's user may not run."""
    if jail is None:
        runnable = _runnable
    else:
        confined = jail

        def runnable(path: str) -> bool:
            there = confined.shows(os.path.abspath(path))
            return there and isolation.may_execute(path, confined.user, confined.visible)

    found = _find(program, env, cwd, runnable)
    if found is not None:
        return found
    on_host = _find(program, env, cwd, _runnable) if jail is not None else None
    if jail is not None and on_host is not None:
        if not jail.shows(os.path.abspath(on_host if cwd is None else os.path.join(cwd, on_host))):
            raise FileNotFoundError(
                2, f"No such file or directory in the app's sandbox ({on_host} is in a directory it replaces)", program
            )
        raise PermissionError(13, f"Permission denied: not executable by the app's user ({jail.user})", program)
    raise FileNotFoundError(2, "No such file or directory", program)


def _runnable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _find(program: str, env: Mapping[str, str], cwd: str | None, runnable: Callable[[str], bool]) -> str | None:
    if "/" in program:
        return program if runnable(program if cwd is None else os.path.join(cwd, program)) else None
    for directory in env.get("PATH", os.defpath).split(os.pathsep):
        candidate = os.path.join(directory, program)
        if runnable(candidate if cwd is None else os.path.join(cwd, candidate)):
            return candidate
    return None


def wrap(
    argv: Sequence[str],
    cgroup_procs: Sequence[bytes] = (),
    *,
    die_with_parent: bool = True,
    keep_pwd: bool = False,
    jail: isolation.Jail | None = None,
    options_fd: int | None = None,
) -> list[str]:
    """The ``/bin/sh`` command line that joins ``cgroup_procs``, sets the death signal (or execs the
    ``jail``, which reads its options from ``options_fd``), execs ``argv``.

    The shell exports ``PWD``; it is unset again unless the environment had its own (``keep_pwd``)."""
    steps = [] if keep_pwd else ["unset PWD"]
    steps += [
        f"echo $$ > {shlex.quote(os.fsdecode(procs))} || "
        f"{{ echo 'zeroserve: cannot join cgroup {os.fsdecode(procs)}' >&2; exit {JOIN_FAILED_EXIT_CODE}; }}"
        for procs in cgroup_procs
    ]
    launcher: list[str] = []
    if jail is not None:
        if jail.monitored and not jail.container:
            steps.append("trap '' TERM")  # the monitor outlives a SIGTERM to the group; the jail resets it
        fd = ["--args", str(options_fd)] if options_fd is not None else []
        launcher = [*jail.prefix, jail.program, *fd, *jail.rest]
    elif die_with_parent and SETPRIV is not None:
        launcher = [SETPRIV, "--pdeathsig", "KILL", "--"]
    steps.append(" ".join(["exec", *map(shlex.quote, launcher), '"$@"']))
    return [SH, "-c", "\n".join(steps), argv[0], *argv]


def _file_of(options: Sequence[str]) -> int:
    """A memory file holding ``options`` NUL-terminated, read from its start (``bwrap --args FD``)."""
    fd = os.memfd_create("zeroserve-jail")
    try:
        os.write(fd, b"".join(os.fsencode(option) + b"\0" for option in options))
        os.lseek(fd, 0, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd


class Child:
    """A started process whose exit the event loop learns of (``asyncio.subprocess.Process``-like)."""

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self._popen = popen  # kept: it reaps the child (poll), and a dropped Popen would reap it elsewhere
        self.pid = popen.pid
        self._loop = asyncio.get_running_loop()
        self._exited: asyncio.Future[int] = self._loop.create_future()
        self._pidfd: int | None = None
        try:
            self._pidfd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):
            self._loop.call_later(POLL_INTERVAL, self._poll)
        else:
            self._loop.add_reader(self._pidfd, self._check)

    @property
    def returncode(self) -> int | None:
        return self._popen.returncode

    async def wait(self) -> int:
        """The exit status (negative: killed by that signal); cancelling a waiter leaves the others."""
        return await asyncio.shield(self._exited)

    def _check(self) -> None:
        code = self._popen.poll()
        if code is None:
            return
        if self._pidfd is not None:
            self._loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None
        if not self._exited.done():
            self._exited.set_result(code)

    def _poll(self) -> None:
        self._check()
        if not self._exited.done():
            self._loop.call_later(POLL_INTERVAL, self._poll)


def spawn(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: str | None = None,
    stdout: int,
    stderr: int,
    cgroup_procs: Sequence[bytes] = (),
    die_with_parent: bool = True,
    jail: isolation.Jail | None = None,
    netns: NetNs | None = None,
    pass_fds: Sequence[int] = (),
) -> Child:
    """Start ``argv`` in its own session (stdin from /dev/null), in ``cgroup_procs``, in ``jail`` (see the
    module docstring), in the network namespace ``netns`` (else ours), keeping ``pass_fds`` open. A jail
    always dies with its parent."""
    program = argv[0] if jail is not None and jail.container else resolve(argv[0], env, cwd, jail)
    options = () if jail is None else jail.options_with(env)
    options_fd = _file_of(options) if options else None
    inherited = () if jail is None else jail.fds
    try:
        command = wrap(
            [program, *argv[1:]],
            cgroup_procs,
            die_with_parent=die_with_parent,
            keep_pwd="PWD" in env,
            jail=jail,
            options_fd=options_fd,
        )
        with netns.entered() if netns is not None else contextlib.nullcontext():
            popen = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                cwd=cwd,
                env={} if jail is not None and jail.monitored else dict(env),  # then it is in the options
                start_new_session=True,
                pass_fds=(*inherited, *pass_fds, *(() if options_fd is None else (options_fd,))),
            )
    finally:
        if options_fd is not None:
            os.close(options_fd)
    return Child(popen)
