"""What keeps instances tied to their supervisor: prctl, /proc, the record file, the lifeline.

Three layers make sure no instance outlives the process running the runtime:

1. every instance's first process gets ``PR_SET_PDEATHSIG(SIGKILL)`` (set before the app's
   exec by ``setpriv``, see :mod:`zeroserve.runtime.spawn`); the kernel sends it when the
   *thread* that started it exits, and instances are started from the event-loop thread,
   which lives as long as we do;
2. the :mod:`lifeline <zeroserve.runtime.lifeline>` process kills each instance's whole
   process group when the supervisor dies (:class:`Lifeline`);
3. ``instances.jsonl`` records pid and ``/proc/<pid>/stat`` start time of each instance, so the
   next runtime on the same data directory kills leftovers (:func:`kill_leftovers`) - only
   when pid *and* start time match, never a reused pid.

The supervisor also becomes a child subreaper (``PR_SET_CHILD_SUBREAPER``): processes orphaned
inside an instance are re-parented to us rather than to init, and :func:`reap_group` collects
them.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36

_libc = ctypes.CDLL(None, use_errno=True)
_prctl = _libc.prctl
_prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
_prctl.restype = ctypes.c_int


def set_child_subreaper() -> bool:
    """Make this process the reaper of its orphaned descendants; False if the kernel refuses."""
    return bool(_prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)


@dataclass(frozen=True)
class ProcStat:
    """The fields of ``/proc/<pid>/stat`` the runtime needs."""

    pid: int
    state: str
    ppid: int
    pgrp: int
    session: int
    start_ticks: int
    """Start time after boot in clock ticks: with the pid, it names one process for ever."""


def parse_stat(text: str) -> ProcStat:
    """Parse ``/proc/<pid>/stat`` (the command name may hold spaces and parentheses)."""
    pid, _, rest = text.partition(" (")
    fields = rest[rest.rindex(")") + 2 :].split()
    return ProcStat(int(pid), fields[0], int(fields[1]), int(fields[2]), int(fields[3]), int(fields[19]))


def read_stat(pid: int) -> ProcStat | None:
    """The stat of a live (or zombie) process, or None when there is no such process."""
    try:
        return parse_stat(Path(f"/proc/{pid}/stat").read_text())
    except (FileNotFoundError, ProcessLookupError, ValueError, IndexError):
        return None


def ignored_signals(pid: int) -> int | None:
    """The mask of signals ``pid`` ignores (``SigIgn`` of ``/proc/<pid>/status``), None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("SigIgn:"):
                return int(line.split()[1], 16)
    except (OSError, ValueError, IndexError):
        return None
    return None


def sandbox_hears(monitor: int, signum: int) -> bool:
    """Whether a process below a sandbox's ``monitor`` and the sandbox's init (its child) would act on
    ``signum``: the app once it runs its own code. While the sandbox is being set up its processes
    ignore SIGTERM (see runtime.isolation), and a SIGTERM then would be lost."""
    inits = _children(monitor)
    if inits is None:  # a kernel without CONFIG_PROC_CHILDREN: the group but the monitor and its children
        below = [s.pid for s in all_stats() if s.pgrp == monitor and monitor not in (s.pid, s.ppid)]
    else:
        below = list(_descendants(inits))
    bit = 1 << (signum - 1)
    return any((ignored := ignored_signals(pid)) is not None and not ignored & bit for pid in below)


def children(pid: int) -> list[int]:
    """The children of ``pid`` (empty when it has none, is gone, or the kernel cannot say)."""
    return _children(pid) or []


def _children(pid: int) -> list[int] | None:
    """``/proc/<pid>/task/<pid>/children`` ([] when ``pid`` is gone), None where the kernel has none."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [int(child) for child in path.read_text().split()]
    except FileNotFoundError:
        return None if Path(f"/proc/{pid}").exists() else []
    except (OSError, ValueError):
        return []


def _descendants(pids: list[int]) -> Iterator[int]:
    for pid in pids:
        children = _children(pid) or []
        yield from children
        yield from _descendants(children)


def all_stats() -> Iterator[ProcStat]:
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := read_stat(int(entry))) is not None:
            yield stat


@dataclass(frozen=True)
class InstanceRecord:
    id: str
    key: str
    pid: int
    start_ticks: int


COMPACT_RATIO = 2
"""The journal is rewritten with the live records alone once it holds more than this many lines per
live record (plus :data:`COMPACT_SLACK`): appends stay O(1), the file O(live records)."""
COMPACT_SLACK = 64


class InstanceRecords:
    """``instances.jsonl``: the instances this runtime started and has not yet seen die, kept as a
    journal of changes, one JSON object per line (``{"add": RECORD}`` or ``{"drop": ID}``), so that
    recording an instance's start or end is one append whatever the number of instances (rewriting
    every record on each change made a scale-up of n instances O(n^2), and cost ``up`` 1-2 ms of
    its loop per instance at 80 of them). :meth:`load` replays it; :meth:`save` rewrites it with
    the live records alone, which :meth:`add` and :meth:`discard` do when it has grown
    :data:`COMPACT_RATIO` times their count. A line a crash cut short is skipped. Nothing is
    fsynced: the file serves a crashed ``up``'s successor on the same host (the kernel keeps what
    was written), not a host that lost power (its processes are gone with it)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._records: dict[str, InstanceRecord] = {}
        self._fd: int | None = None
        self._lines = 0

    def load(self) -> list[InstanceRecord]:
        """The records the journal holds (a crashed runtime's leftovers), and those of the
        ``instances.json`` beside it that runtimes before the journal wrote (whole, rewritten on
        every change): :meth:`save` removes that."""
        records = {record.id: record for record in self._legacy()}
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            text = ""
        except (OSError, UnicodeDecodeError) as err:
            logger.warning("ignoring unreadable %s: %s", self.path, err)
            text = ""
        for number, line in enumerate(text.splitlines(), 1):
            try:
                entry = json.loads(line)
                if "add" in entry:
                    record = InstanceRecord(**entry["add"])
                    records[record.id] = record
                else:
                    records.pop(str(entry["drop"]), None)
            except (ValueError, TypeError, KeyError) as err:
                logger.warning("%s line %d: skipped (%s: %s)", self.path, number, type(err).__name__, err)
        return list(records.values())

    def _legacy(self) -> list[InstanceRecord]:
        path = self.path.with_suffix(".json")
        try:
            raw = json.loads(path.read_text())
            return [InstanceRecord(**item) for item in raw.get("instances", [])]
        except FileNotFoundError:
            return []
        except (OSError, ValueError, TypeError, AttributeError) as err:
            logger.warning("ignoring unreadable %s: %s", path, err)
            return []

    def add(self, record: InstanceRecord) -> None:
        if self._records.get(record.id) == record:
            return  # a zygote's spare, recorded when it was forked, becomes its instance: nothing to write
        self._records[record.id] = record
        self._append({"add": asdict(record)})

    def discard(self, instance_id: str) -> None:
        if self._records.pop(instance_id, None) is not None:
            self._append({"drop": instance_id})

    def save(self) -> None:
        """Rewrite the journal with the live records alone (replacing it whole)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text("".join(_line({"add": asdict(r)}) for r in self._records.values()))
        os.replace(temporary, self.path)
        self.path.with_suffix(".json").unlink(missing_ok=True)
        self.close()
        self._lines = len(self._records)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _append(self, entry: dict[str, object]) -> None:
        if self._lines >= COMPACT_RATIO * len(self._records) + COMPACT_SLACK:
            self.save()
            return
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        os.write(self._fd, _line(entry).encode())
        self._lines += 1


def _line(entry: dict[str, object]) -> str:
    return json.dumps(entry, separators=(",", ":")) + "\n"


def kill_leftovers(records: Iterable[InstanceRecord]) -> list[int]:
    """SIGKILL the process groups of recorded instances that still run; return their pgids.

    An instance leads its own process group (``pgid == pid``). A live pid with another start
    time is a different process: left alone. A vanished leader whose group still has members
    (the kernel keeps a pgid from reuse while any member lives) is killed too.
    """
    killed: list[int] = []
    for record in records:
        leader = read_stat(record.pid)
        if leader is not None:
            ours = leader.start_ticks == record.start_ticks and leader.state not in ("Z", "X")
        else:
            ours = any(
                s.pgrp == record.pid and s.session == record.pid and s.start_ticks >= record.start_ticks
                for s in all_stats()
            )
        if ours:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(record.pid, signal.SIGKILL)
                killed.append(record.pid)
                logger.warning("killed leftover instance %s (pid %d) of %s", record.id, record.pid, record.key)
    return killed


def reap_group(pgid: int, leader_pid: int) -> int:
    """Reap exited children of ours in process group ``pgid``, except its leader; return how many.

    The leader belongs to asyncio's child watcher (it reports the exit code); we only peek past
    it (``WNOWAIT``) and stop there, to try again later.
    """
    reaped = 0
    while True:
        try:
            info = os.waitid(os.P_PGID, pgid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return reaped
        if info is None or info.si_pid == leader_pid:
            return reaped
        with contextlib.suppress(ChildProcessError):
            os.waitpid(info.si_pid, os.WNOHANG)
        reaped += 1


class Lifeline:
    """The supervisor's end of the lifeline pipe (see :mod:`zeroserve.runtime.lifeline`)."""

    def __init__(self) -> None:
        read_fd, self._write_fd = os.pipe()
        script = Path(__file__).with_name("lifeline.py")
        try:
            self._process: subprocess.Popen[bytes] | None = subprocess.Popen(
                [sys.executable, "-I", "-S", str(script)],
                stdin=read_fd,
                stdout=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            os.close(read_fd)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def register(self, pgid: int) -> None:
        self._send(f"+{pgid}\n")

    def unregister(self, pgid: int) -> None:
        self._send(f"-{pgid}\n")

    def close(self) -> subprocess.Popen[bytes] | None:
        """Close the pipe; the lifeline kills what is still registered and exits. Returns it to wait on."""
        if self._write_fd >= 0:
            os.close(self._write_fd)
            self._write_fd = -1
        process, self._process = self._process, None
        return process

    def _send(self, line: str) -> None:
        if self._write_fd < 0:
            return
        try:
            os.write(self._write_fd, line.encode())
        except BrokenPipeError:
            logger.error("the lifeline process died: instances will not be killed if the supervisor dies")
            os.close(self._write_fd)
            self._write_fd = -1
