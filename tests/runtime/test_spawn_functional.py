"""runtime.spawn with real processes: exit codes, the death signal, PATH resolution, a clean env."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from zeroserve.runtime import spawn
from zeroserve.runtime.cgroups import JOIN_FAILED_EXIT_CODE

PDEATHSIG = """
import ctypes, signal
libc = ctypes.CDLL(None, use_errno=True)
sig = ctypes.c_int(0)
libc.prctl(2, ctypes.byref(sig), 0, 0, 0)  # PR_GET_PDEATHSIG
print(sig.value)
"""


async def run(argv: list[str], tmp_path: Path, env: dict[str, str] | None = None, cwd: str | None = None) -> str:
    out = tmp_path / "out"
    with out.open("wb") as sink:
        child = spawn.spawn(argv, env=env or {"PATH": os.environ["PATH"]}, cwd=cwd, stdout=sink.fileno(), stderr=2)
    assert await child.wait() == 0
    assert child.returncode == 0
    return out.read_text()


async def test_exit_status_and_signals_are_reported(tmp_path: Path) -> None:
    child = spawn.spawn(["sh", "-c", "exit 3"], env={"PATH": os.environ["PATH"]}, stdout=1, stderr=2)
    assert await child.wait() == 3
    killed = spawn.spawn(["sleep", "30"], env={"PATH": os.environ["PATH"]}, stdout=1, stderr=2)
    os.kill(killed.pid, 9)
    assert await killed.wait() == -9


async def test_the_app_dies_with_its_parent(tmp_path: Path) -> None:
    """SIGKILL (9) as its parent-death signal; without util-linux's setpriv only the lifeline is left."""
    want = "0" if spawn.SETPRIV is None else "9"
    assert (await run([sys.executable, "-c", PDEATHSIG], tmp_path)).strip() == want


async def test_the_app_is_the_spawned_process_in_its_own_session(tmp_path: Path) -> None:
    code = "import os; print(os.getpid(), os.getsid(0), os.getppid())"
    out = tmp_path / "out"
    with out.open("wb") as sink:
        child = spawn.spawn([sys.executable, "-c", code], env={}, stdout=sink.fileno(), stderr=2)
    assert await child.wait() == 0
    pid, sid, ppid = map(int, out.read_text().split())
    assert pid == child.pid == sid  # the shell exec'd the app: same process, a new session
    assert ppid == os.getpid()


async def test_the_environment_is_exactly_the_one_given(tmp_path: Path) -> None:
    got = await run(["/usr/bin/env"], tmp_path, env={"ONLY": "this"})  # not Python: it adds LC_CTYPE itself
    assert got.splitlines() == ["ONLY=this"]


def test_a_missing_program_fails_at_once(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        spawn.resolve("no-such-program-zeroserve", {"PATH": str(tmp_path)}, None)
    with pytest.raises(FileNotFoundError):
        spawn.resolve("./app.sh", {}, str(tmp_path))
    script = tmp_path / "app.sh"
    script.write_text("#!/bin/sh\necho from-cwd\n")
    script.chmod(0o755)
    assert spawn.resolve("./app.sh", {}, str(tmp_path)) == "./app.sh"
    assert spawn.resolve("app.sh", {"PATH": str(tmp_path)}, None) == str(script)


async def test_a_relative_program_runs_from_its_working_directory(tmp_path: Path) -> None:
    script = tmp_path / "app.sh"
    script.write_text("#!/bin/sh\necho from-cwd\n")
    script.chmod(0o755)
    assert (await run(["./app.sh"], tmp_path, cwd=str(tmp_path))).strip() == "from-cwd"


async def test_a_cgroup_the_child_cannot_join_stops_it_before_the_app_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    log = tmp_path / "log"
    missing = str(tmp_path / "no-such-cgroup" / "cgroup.procs").encode()
    with log.open("wb") as sink:
        child = spawn.spawn(
            ["/bin/touch", str(marker)], env={}, stdout=sink.fileno(), stderr=sink.fileno(), cgroup_procs=[missing]
        )
    assert await child.wait() == JOIN_FAILED_EXIT_CODE
    assert not marker.exists()
    assert f"zeroserve: cannot join cgroup {missing.decode()}" in log.read_text()


async def test_the_child_joins_its_cgroups_before_the_app_runs(tmp_path: Path) -> None:
    """Any writable ``cgroup.procs`` stands in for the kernel's here: the pid written is the app's."""
    procs = tmp_path / "cgroup.procs"
    procs.write_text("")
    out = tmp_path / "out"
    with out.open("wb") as sink:
        child = spawn.spawn(
            [sys.executable, "-c", "import os; print(os.getpid())"],
            env={},
            stdout=sink.fileno(),
            stderr=2,
            cgroup_procs=[str(procs).encode()],
        )
    assert await child.wait() == 0
    assert procs.read_text().strip() == out.read_text().strip() == str(child.pid)
